"""Express executions: StartSyncExecution runs in memory inside the request (at most once); an async one
runs in one worker from start to end, started again from the beginning if that worker dies."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import transaction

from designer import queue
from designer.models import (
    AttemptStatus,
    Execution,
    ExecutionStatus,
    MachineType,
    StateMachine,
    StateMachineRevision,
    arn,
)
from designer.runtime.attempts import call_function
from designer.runtime.children import _hint_delivery
from designer.runtime.clock import _datetime, _lease, _wall, now
from designer.runtime.compiled import _compiled, _machine_for, _options
from designer.runtime.errors import StateMachineTypeNotSupported
from designer.runtime.machines import _check_name
from designer.runtime.start import _parse_input
from designer.runtime.step import UNSAVABLE, _unsavable_cause
from engine import (
    RUNNING,
    RUNTIME,
    jsontext,
)
from engine import Execution as EngineExecution

log = logging.getLogger(__name__)


EXPRESS_MAX_SECONDS = 300  # AWS: Express executions run for at most five minutes


def _run_in_memory(ex: EngineExecution, deadline: float) -> None:
    """Drive an Express execution to its end in this process: tasks run inline, waits sleep."""
    ex.run()
    while ex.status == RUNNING:
        pending = ex.suspensions()
        tasks = [s for s in pending.values() if s.kind == "task"]
        if tasks:
            for suspension in tasks:
                if ex.suspension(suspension.frame) is None:
                    continue
                ex.task_started(suspension.frame)
                remaining = max(deadline - now(), 0.001)
                timeout = min(suspension.timeout_seconds or remaining, remaining)
                status, value, cause = call_function(suspension.resource, suspension.parameters, timeout)
                if status == "ok":
                    ex.resume_task(suspension.frame, result=value)
                else:
                    ex.resume_task(suspension.frame, error=value, cause=cause,
                                   timed_out=status == AttemptStatus.TIMED_OUT)
        elif pending:
            wake = min(pending.values(), key=lambda s: s.until)
            if wake.until > deadline:
                time.sleep(max(0.0, deadline - now()))
                ex.time_out()
                break
            time.sleep(max(0.0, wake.until - now()))
            ex.resume_wait(wake.frame)
        else:
            raise RuntimeError("execution is stuck: nothing runnable and nothing pending")
        if now() >= deadline and ex.status == RUNNING:
            ex.time_out()
            break
        ex.run()


def _express_deadline(row: Execution, machine) -> float:
    limit = EXPRESS_MAX_SECONDS
    if machine.timeout_seconds:
        limit = min(limit, machine.timeout_seconds)
    return row.start_date.timestamp() + limit


def start_sync_express(machine: StateMachine, input_text: str | None = None,
                       name: str | None = None, *, revision: StateMachineRevision | None = None) -> Execution:
    """StartSyncExecution: run in memory inside the request, keep only the result row."""
    if machine.type != MachineType.EXPRESS:
        raise StateMachineTypeNotSupported("This operation is only supported by EXPRESS state machines")
    input_text, input_value = _parse_input(input_text)
    name = name or str(uuid.uuid4())
    _check_name(name, "execution")
    revision = revision or machine.current_revision()
    row = Execution(machine=machine, revision=revision, type=machine.type, name=name, input=input_text,
                    arn=arn("express", machine.name, name, str(uuid.uuid4())), start_date=_datetime(now()),
                    runs=1)
    compiled = _compiled(revision, machine.type)
    ex = EngineExecution(compiled, input_value, _options(row, sync=True))
    _run_in_memory(ex, _express_deadline(row, compiled))
    _finish_express(row, ex)
    row.save()
    return row


def _finish_express(row: Execution, ex: EngineExecution) -> None:
    row.status, row.error, row.cause = ex.status, ex.error, ex.cause
    try:
        row.output = jsontext.dumps(ex.output) if ex.status == ExecutionStatus.SUCCEEDED else None
    except UNSAVABLE as error:  # the output cannot be saved (NaN, a lone surrogate): as a Standard step
        row.status, row.error, row.output = ExecutionStatus.FAILED, RUNTIME, None
        row.cause = _unsavable_cause(error)
    row.stop_date = _datetime(now())


def run_express(execution_id: int) -> None:
    """Run an async Express execution from its beginning, holding a lease on it while it runs."""
    with transaction.atomic():
        row = (Execution.objects.select_for_update(of=("self",))
               .select_related("machine", "revision", "map_run")
               .filter(pk=execution_id, type=MachineType.EXPRESS, status=ExecutionStatus.RUNNING).first())
        if row is None or (row.lease_expires_at is not None and row.lease_expires_at > _wall()):
            return  # finished, or another worker holds it
        row.version += 1
        row.runs += 1
        row.lease_expires_at = _wall() + _lease()
        row.save(update_fields=["version", "runs", "lease_expires_at"])
        queue.enqueue("check_express", row.pk, run_after=row.lease_expires_at)
    claimed = row.version
    stop = threading.Event()
    renewer = threading.Thread(target=_renew_express_lease, args=(row.pk, claimed, stop), daemon=True)
    renewer.start()
    try:
        compiled = _machine_for(row)
        ex = EngineExecution(compiled, json.loads(row.input), _options(row))
        _run_in_memory(ex, _express_deadline(row, compiled))
    finally:
        stop.set()
        renewer.join()
    _finish_express(row, ex)
    with transaction.atomic():
        updated = Execution.objects.filter(pk=row.pk, version=claimed, status=ExecutionStatus.RUNNING).update(
            version=claimed + 1, status=row.status, output=row.output, error=row.error, cause=row.cause,
            stop_date=row.stop_date, lease_expires_at=None)
        if updated and row.map_run_id is not None:  # a Map Run's child: its parent takes the outcome
            _hint_delivery(row.map_run_id, row.parent_id)


def _renew_express_lease(execution_id: int, version: int, stop: threading.Event) -> None:
    from django.db import connection

    try:
        while not stop.wait(settings.STEPWISE_TASK_LEASE_SECONDS / 3):
            Execution.objects.filter(pk=execution_id, version=version, status=ExecutionStatus.RUNNING).update(
                lease_expires_at=_wall() + _lease())
    except Exception:
        log.exception("renewing the lease of express execution %s failed", execution_id)
    finally:
        connection.close()


def check_express(execution_id: int) -> None:
    """Queued for when an async Express run's lease ends: if its worker died, start it again."""
    row = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).first()
    if row is None or row.lease_expires_at is None:
        return
    if row.lease_expires_at > _wall():
        queue.enqueue("check_express", execution_id, run_after=row.lease_expires_at)
        return
    log.warning("express execution %s: its worker stopped; starting it again from the beginning", row.arn)
    queue.enqueue("run_express", execution_id)
