"""Starting an execution: StartExecution's input checked, the row, its first step and its timeout queued."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from designer import queue
from designer.models import (
    Execution,
    ExecutionStatus,
    MachineType,
    StateMachine,
    StateMachineRevision,
    arn,
)
from designer.runtime.clock import _datetime, _real, now
from designer.runtime.compiled import _compiled, _options
from designer.runtime.errors import ExecutionAlreadyExists, InvalidExecutionInput
from designer.runtime.machines import _check_name
from designer.runtime.step import UNSAVABLE, _history_rows, _insert_history
from designer.runtime.sweep import _ensure_sweeper
from designer.runtime.wakeups import _time_limit
from engine import (
    MAX_PAYLOAD_BYTES,
    jsontext,
)
from engine import Execution as EngineExecution


def _parse_input(input_text: str | None) -> tuple[str, Any]:
    if input_text is None:
        input_text = "{}"
    if not isinstance(input_text, str):
        raise InvalidExecutionInput("Invalid State Machine Execution Input: the input must be JSON text")
    if len(input_text.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput(
            f"Invalid State Machine Execution Input: the input is {len(input_text.encode())} bytes, "
            f"over the limit of {MAX_PAYLOAD_BYTES} bytes (256 KiB)")
    try:
        return input_text, jsontext.loads(input_text)
    except jsontext.JsonTextError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None


def start_execution(machine: StateMachine, input_text: str | None = None, name: str | None = None, *,
                    parent: Execution | None = None,
                    revision: StateMachineRevision | None = None) -> Execution:
    """StartExecution. Standard: the execution is recorded and its first step queued for a worker.
    Async Express: queued to run in one worker. Nothing is written if anything is wrong.
    `revision`: the one a version pins (the API's version and alias ARNs); default the latest."""
    input_text, input_value = _parse_input(input_text)
    if name is None:
        name = str(uuid.uuid4())
    _check_name(name, "execution")
    express = machine.type == MachineType.EXPRESS
    execution_arn = (arn("express", machine.name, name, str(uuid.uuid4())) if express
                     else arn("execution", machine.name, name))
    started = now()
    # Reads before the transaction: on SQLite it holds the one write lock, which the workers need too.
    revision = revision or machine.current_revision()
    with transaction.atomic():
        row = Execution(machine=machine, revision=revision, type=machine.type, name=name, arn=execution_arn,
                        input=input_text, start_date=_datetime(started), parent=parent)
        if express:
            row.save()
            queue.enqueue("run_express", row.pk)
            _ensure_sweeper()
            return row
        compiled = _compiled(revision, machine.type)
        ex = EngineExecution(compiled, input_value, _options(row))
        ex.start()
        row.event_count = ex.event_count
        row.snapshot = ex.to_snapshot()
        try:
            with transaction.atomic():
                row.save()
                _insert_history(_history_rows(row, ex))
        except UNSAVABLE as error:
            # The name may be taken: looked up only now, since a new name is the rule.
            if isinstance(error, IntegrityError):
                existing = Execution.objects.filter(machine=machine, name=name).first()
                if existing is not None:
                    if existing.status == ExecutionStatus.RUNNING and existing.input == input_text:
                        return existing  # AWS: StartExecution is idempotent for a running execution
                    raise ExecutionAlreadyExists(f"Execution Already Exists: '{execution_arn}'") from None
            # Nothing else is a clash: the input passed the reader but the database refused the row.
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: it cannot be saved "
                                        f"({type(error).__name__}: {error})") from None
        deadline = started + _time_limit(compiled)
        queue.enqueue_together([("advance", (row.pk, row.version), None),
                                ("execution_timeout", (row.pk,), _real(deadline))])
        _ensure_sweeper()
    return row
