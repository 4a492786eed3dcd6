"""Serve Stepwise in the foreground: daphne (HTTP + WebSockets) and one task worker.

Ctrl-C (or SIGTERM) stops both. If either one exits on its own, the other is stopped too.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from designer.tasks import WORKER_POLL_SECONDS

ASGI_APP = "designer.asgi:application"
STOP_TIMEOUT = 15  # seconds a child gets to finish its current work after SIGTERM


class Command(BaseCommand):
    help = "Serve Stepwise under daphne together with one task worker (db_worker); Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument("--no-worker", action="store_true", help="Serve HTTP only.")

    def handle(self, *args, host, port, no_worker, **options):
        _check_port_free(host, port)
        commands = {
            "daphne": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), ASGI_APP],
        }
        if not no_worker:
            manage = str(settings.BASE_DIR / "manage.py")
            commands["worker"] = [sys.executable, manage, "db_worker", "--no-startup-delay",
                                  "--interval", str(WORKER_POLL_SECONDS)]

        stop_requested = []

        def request_stop(signum, frame):
            stop_requested.append(signum)

        # Handle the signals ourselves (even if our parent made us ignore SIGINT), and start each
        # child in its own process group so we stop it, and anything it spawned, deliberately.
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        children = {}
        try:
            for name, command in commands.items():
                children[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, process_group=0)
            self._announce_when_listening(host, port, children["daphne"])
            while not stop_requested:
                for name, child in children.items():
                    if child.poll() is not None:
                        raise CommandError(f"{name} exited (code {child.returncode}); stopping.")
                time.sleep(0.2)
            self.stdout.write("Stopping Stepwise ...")
        finally:
            _stop(children.values())
        self.stdout.write("Stopped.")

    def _announce_when_listening(self, host, port, daphne):
        deadline = time.monotonic() + 30
        probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        while time.monotonic() < deadline and daphne.poll() is None:
            try:
                with socket.create_connection((probe, port), 0.5):
                    self.stdout.write(
                        self.style.SUCCESS(f"Stepwise is running at http://{host}:{port}/ (Ctrl-C to stop)")
                    )
                    return
            except OSError:
                time.sleep(0.1)


def _check_port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({error.strerror}). Is Stepwise already running? "
                f"Stop it, or choose another port: PORT={port + 1} make run"
            ) from None


def _stop(children):
    children = [child for child in children if child.poll() is None]
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
