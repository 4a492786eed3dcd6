"""Keep a list of named commands running, the way `manage.py serve` runs daphne and its task workers.

A child that exits on its own (kill -9, a crash, an out-of-memory kill) is started again after a
back-off: 0.5 s, doubling up to 30 s while it keeps dying, back to 0.5 s once it has stayed up for a
minute. The others go on meanwhile: a dead worker does not take the web server down, and work it had
claimed is picked up again by the runtime's leases and sweep. Each child runs in its own process group
so that stopping it (or cleaning up after it died) reaches whatever it started too. No Django here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

log = logging.getLogger("stepwise.serve")

INITIAL_BACKOFF = 0.5  # seconds before the first restart of a child that died
MAX_BACKOFF = 30.0  # the back-off doubles up to this while the child keeps dying
STABLE_AFTER = 60.0  # a child that stayed up this long starts again from INITIAL_BACKOFF
STOP_TIMEOUT = 15.0  # seconds a child gets to finish its current work after SIGTERM
POLL_SECONDS = 0.2


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = INITIAL_BACKOFF
    restart_at: float | None = None
    restarts: int = field(default=0)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], *, cwd=None, pass_fds: tuple[int, ...] = ()):
        self.children = [Child(name, command) for name, command in commands.items()]
        self.cwd = cwd
        # File descriptors every child inherits: the listening socket that several daphne processes
        # share, held open here so that a restarted one accepts on the same socket.
        self.pass_fds = pass_fds

    def child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def check(self) -> None:
        """Notice children that died and start the ones whose back-off is over (never blocks)."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None and child.process is not None and child.process.poll() is not None:
                self._died(child, now)
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every child's process group, wait up to `timeout` for them all, then SIGKILL."""
        running = [child.process for child in self.children if child.running]
        for process in running:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not stop within %g s: killing it", process.pid, timeout)
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        for process in running:  # whatever a child started and left behind in its group
            _signal_group(process.pid, signal.SIGKILL)

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.started_at = time.monotonic()
        try:
            child.process = subprocess.Popen(child.command, cwd=self.cwd, process_group=0,
                                             pass_fds=self.pass_fds)
        except OSError as error:
            log.error("%s could not be started (%s)", child.name, error)
            child.process = None
            self._schedule_restart(child, child.started_at)
            return
        if child.restarts:
            log.warning("%s started again (pid %s, restart %d)", child.name, child.process.pid,
                        child.restarts)

    def _died(self, child: Child, now: float) -> None:
        # Anything the child had started is left in its group without it: end that too, so that a
        # restarted worker never runs beside an orphan of the old one.
        _signal_group(child.process.pid, signal.SIGKILL)
        uptime = now - child.started_at
        if uptime >= STABLE_AFTER:
            child.backoff = INITIAL_BACKOFF
        log.error("%s (pid %s) %s after %.1f s; starting it again in %g s", child.name, child.process.pid,
                  describe_exit(child.process.returncode), uptime, child.backoff)
        self._schedule_restart(child, now)

    def _schedule_restart(self, child: Child, now: float) -> None:
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, MAX_BACKOFF)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
