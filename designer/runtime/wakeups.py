"""Wake-ups of a Standard execution: run what is runnable, a Wait's time came, the execution's timeout,
StopExecution."""

from __future__ import annotations

from designer import queue
from designer.models import (
    Execution,
    MachineType,
)
from designer.runtime.clock import _real, now
from designer.runtime.errors import StateMachineTypeNotSupported
from designer.runtime.step import _step

MAX_EXECUTION_SECONDS = 365 * 86400  # AWS: a Standard execution runs for at most one year


def advance(execution_id: int, expected_version: int | None = None) -> Execution | None:
    """Run whatever is runnable. A wake-up for an older version does nothing: whoever moved the
    execution since has run it already (and queued its own continuation if needed)."""

    def apply(ex, row):
        if expected_version is not None and row.version != expected_version:
            return False
        return ex.has_runnable() or None

    return _step(execution_id, apply)


def resume_wait(execution_id: int, frame: int, until: float) -> Execution | None:
    """A Wait state's or a retry back-off's time has come."""
    def apply(ex, row):
        suspension = ex.suspension(frame)
        if suspension is None or suspension.kind != "wait" or suspension.until != until:
            return False  # already resumed, or withdrawn
        if now() < until:  # early (clocks differ, or the queue ran it early): come back on time
            queue.enqueue("wake", execution_id, frame, until, run_after=_real(until))
            return False
        ex.resume_wait(frame)

    return _step(execution_id, apply, {"kind": "wait", "frame": frame})


def _time_limit(machine) -> float:
    """Seconds a Standard execution may run: its TimeoutSeconds, and never more than AWS's one year."""
    return min(machine.timeout_seconds or MAX_EXECUTION_SECONDS, MAX_EXECUTION_SECONDS)


def time_out(execution_id: int) -> Execution | None:
    """The state machine's TimeoutSeconds (or the one-year limit) has passed since the start."""
    def apply(ex, row):
        # A redriven execution's TimeoutSeconds counts from its redrive; the year from the start.
        started = (row.redrive_date or row.start_date).timestamp()
        deadline = min(started + _time_limit(ex.root_machine),
                       row.start_date.timestamp() + MAX_EXECUTION_SECONDS)
        if now() < deadline:
            queue.enqueue("execution_timeout", execution_id, run_after=_real(deadline))
            return False
        ex.time_out()

    return _step(execution_id, apply, {"kind": "timeout"})


def stop_execution(execution: Execution, error: str | None = None, cause: str | None = None) -> Execution:
    """StopExecution: ABORTED; the in-flight attempt is withdrawn and its late result discarded."""
    if execution.type == MachineType.EXPRESS:
        raise StateMachineTypeNotSupported("This operation is not supported by EXPRESS state machines")

    def apply(ex, row):
        ex.stop(error, cause)

    _step(execution.pk, apply, {"kind": "stop"})
    execution.refresh_from_db()
    return execution
