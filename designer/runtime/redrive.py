"""RedriveExecution: start again from the snapshot taken before the step that ended the execution."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import transaction

from designer import queue
from designer.models import (
    Execution,
    ExecutionStatus,
    MachineType,
    MapRun,
    MapRunStatus,
    TaskAttempt,
)
from designer.runtime.children import _distributed_fanouts, _has_distributed_map
from designer.runtime.clock import _datetime, _real, now
from designer.runtime.errors import ExecutionNotRedrivable, StateMachineTypeNotSupported
from designer.runtime.step import _load, _run_and_save
from designer.runtime.sweep import _ensure_sweeper
from designer.runtime.wakeups import MAX_EXECUTION_SECONDS, _time_limit
from engine import (
    MAX_HISTORY_EVENTS,
)
from engine import Execution as EngineExecution

REDRIVE_WINDOW = timedelta(days=14)
MAX_REDRIVES = 1000


def redrive_execution(execution: Execution) -> Execution:
    """RedriveExecution: continue a FAILED, ABORTED or TIMED_OUT Standard execution from the step that
    ended it. Steps that succeeded are not run again; the failed state (and any branch or iteration
    that was aborted with it) is entered again, with its input, and Retry counts start afresh."""
    if execution.type == MachineType.EXPRESS:
        raise StateMachineTypeNotSupported("This operation is not supported by EXPRESS state machines")
    with transaction.atomic():
        row = (Execution.objects.select_for_update().select_related("machine", "revision")
               .filter(pk=execution.pk).first())
        reason = _not_redrivable(row)
        if reason:
            raise ExecutionNotRedrivable(f"Execution '{row.arn}' cannot be redriven: {reason}")
        saved = row.last_running_snapshot
        row.snapshot = saved["snapshot"]
        row.redrive_count += 1
        row.redrive_date = _datetime(now())
        ex = _load(row)  # $$.Execution.RedriveCount is the new count
        ex.event_count = row.event_count  # the events of the step that ended it are in the history
        ex.emit(None, "ExecutionRedriven", {"redriveCount": row.redrive_count})
        _redo(ex, saved.get("wakeup") or {})
        if _has_distributed_map(ex):
            _reopen_map_runs(row, ex)
        changes = {"status": ExecutionStatus.RUNNING, "stop_date": None, "output": None, "error": None,
                   "cause": None, "redrive_count": row.redrive_count, "redrive_date": row.redrive_date}
        updated = Execution.objects.filter(pk=row.pk, version=row.version).update(
            version=row.version + 1, **changes)
        if updated != 1:  # pragma: no cover - the row is locked
            raise RuntimeError("execution changed while it was being redriven")
        row.version += 1
        for field, value in changes.items():
            setattr(row, field, value)
        _run_and_save(row, ex)
        _ensure_sweeper()
        if ex.root_machine.timeout_seconds:
            deadline = now() + _time_limit(ex.root_machine)
            queue.enqueue("execution_timeout", row.pk, run_after=_real(deadline))
    execution.refresh_from_db()
    return execution


def redrive_problem(execution: Execution) -> str | None:
    """Why this execution cannot be redriven now (DescribeExecution's redriveStatusReason), or None."""
    if execution.type == MachineType.EXPRESS:
        return "Express executions cannot be redriven."
    return _not_redrivable(execution)


def _not_redrivable(row: Execution) -> str | None:
    """Why AWS would refuse to redrive this execution (None: it may be redriven)."""
    if row.status in (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED):
        return f"Execution is {row.status} and cannot be redriven."
    if not row.last_running_snapshot or not row.stop_date:
        return "Execution was started before the launch of RedriveExecution."
    if _datetime(now()) - row.stop_date > REDRIVE_WINDOW:
        return "Execution redrivable period exceeded."
    if (_datetime(now()) - row.start_date).total_seconds() > MAX_EXECUTION_SECONDS:
        return "Execution has exceeded the max execution time."
    if row.redrive_count >= MAX_REDRIVES:
        return "Execution has reached the maximum number of redrives."
    if row.event_count >= MAX_HISTORY_EVENTS - 1:
        return "Execution history event limit exceeded."
    return None


def _redo(ex: EngineExecution, wakeup: dict) -> None:
    """Replay the step that ended the execution, except that what failed is entered again.

    The snapshot is from before that step. A task result that failed it (or a lost attempt), and every
    task or wait that was withdrawn with it, is entered again; a successful result is delivered again
    (the states after it run anew, and a Fail state fails again, as on AWS)."""
    kind, frame_id = wakeup.get("kind"), wakeup.get("frame")
    if kind == "task" and wakeup.get("ok") and ex.suspension(frame_id) is not None:
        attempt = TaskAttempt.objects.get(pk=wakeup["attempt"])
        ex.resume_task(frame_id, result=json.loads(attempt.result))
    elif kind == "wait" and ex.suspension(frame_id) is not None:
        ex.resume_wait(frame_id)
    ex.redrive(lambda frame: _redo_child(ex, frame))


def _redo_child(ex: EngineExecution, frame: int) -> tuple[Any] | None:
    """A Map Run's iteration on redrive: a child that succeeded gives its output again (`(output,)`);
    any other (failed, aborted, never finished) runs again as a new child execution (None)."""
    child = (Execution.objects.filter(parent__arn=ex.options.execution_arn, parent_frame=frame)
             .order_by("-pk").first())
    if child is not None and child.status == ExecutionStatus.SUCCEEDED:
        return (json.loads(child.output),)
    return None


def _reopen_map_runs(row: Execution, ex: EngineExecution) -> None:
    """On redrive, the Map Runs the restored snapshot is in the middle of are running again."""
    for frame_id in _distributed_fanouts(ex):
        latest = MapRun.objects.filter(execution=row, frame=frame_id).order_by("-pk").first()
        if latest is not None and latest.status != MapRunStatus.RUNNING:
            MapRun.objects.filter(pk=latest.pk).update(status=MapRunStatus.RUNNING, stop_date=None)
