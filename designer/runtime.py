"""The one place that changes an execution: start, advance, stop, redrive, and the answers to its
suspensions (Wait times, Task attempts, leases, timeouts).

Views, the API and workers call these functions; nothing else writes an execution's status.

Standard executions live in the database. Every step is one transaction that
  1. locks and loads the execution row and rebuilds the engine's `Execution` from its snapshot,
  2. applies one wake-up (a Wait's time came, a Task attempt started or finished, a lease ran out …)
     after checking that the wake-up still applies — a stale or duplicate one changes nothing,
  3. runs every runnable frame (pure states run many transitions in one batch; the batch ends at a
     Task, a Wait or the end),
  4. appends the new history rows, records new Task attempts and enqueues the follow-up work
     (django.tasks rows, `run_after` for anything due later), and
  5. writes the snapshot with a compare-and-swap on `version`.
A queued task is only a hint: it re-reads the row and checks before it does anything.

Task attempts run at most once: an attempt is recorded SCHEDULED, claimed as RUNNING with a lease
*before* the function is called, and renewed while it runs. If the worker dies, a check queued for the
lease's end finds it expired and fails the attempt with States.TaskFailed (the execution's Retry and
Catch decide what happens next); the function is never called again for that attempt. A late result
of an attempt that was declared lost, timed out or withdrawn (StopExecution) is discarded. A queued
row a killed worker had claimed is never run by django-tasks-db again; `sweep()` puts it back.

A redrive starts again from the snapshot taken before the step that ended the execution: what failed
(and whatever was withdrawn with it) is entered again, what succeeded is not run again.

Express executions keep no per-transition rows: StartSyncExecution runs in memory inside the request
(at most once); an async Express execution runs in one worker from start to end, and is started again
from the beginning if that worker dies (at least once), as AWS documents.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connections, transaction
from django.db.models import F

from designer import queue
from designer.models import (
    AttemptStatus,
    Execution,
    ExecutionStatus,
    HistoryEvent,
    MachineType,
    MapRun,
    MapRunStatus,
    StateMachine,
    StateMachineRevision,
    TaskAttempt,
    arn,
)
from engine import (
    FAILED,
    MAX_HISTORY_EVENTS,
    MAX_PAYLOAD_BYTES,
    RUNNING,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
    ExecutionOptions,
    TaskFailed,
    compile_definition,
    details_key,
    format_invalid_definition,
    iter_problems,
    json_text,
    jsontext,
)
from engine import Execution as EngineExecution
from engine import InvalidDefinition as EngineInvalidDefinition

log = logging.getLogger(__name__)

# How many state transitions one step may run before it commits and continues in another step.
BATCH_TRANSITIONS = 1000
HISTORY_ROWS_PER_INSERT = 500  # SQLite: 3,000 parameters, well under its 32,766 (PostgreSQL uses COPY)
EXPRESS_MAX_SECONDS = 300  # AWS: Express executions run for at most five minutes
REDRIVE_WINDOW = timedelta(days=14)
MAX_EXECUTION_SECONDS = 365 * 86400  # AWS: a Standard execution runs for at most one year
MAX_REDRIVES = 1000


# -- errors, named as AWS names them (the API maps the class name to the error code) ---------------
class StepwiseError(Exception):
    """Base class: `code` is the AWS error code, `message` the text AWS would send."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class ValidationException(StepwiseError):
    pass


class InvalidName(StepwiseError):
    pass


class InvalidArn(StepwiseError):
    pass


class InvalidDefinition(StepwiseError):
    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class InvalidExecutionInput(StepwiseError):
    pass


class StateMachineDoesNotExist(StepwiseError):
    pass


class StateMachineAlreadyExists(StepwiseError):
    pass


class StateMachineTypeNotSupported(StepwiseError):
    pass


class ExecutionDoesNotExist(StepwiseError):
    pass


class ExecutionAlreadyExists(StepwiseError):
    pass


class ExecutionLimitExceeded(StepwiseError):
    pass


class ExecutionNotRedrivable(StepwiseError):
    pass


class ResourceNotFound(StepwiseError):
    pass


# -- time ------------------------------------------------------------------------------------------
def now() -> float:
    """Execution time in epoch seconds: the wall clock plus STEPWISE_CLOCK_OFFSET (tests move it)."""
    return time.time() + settings.STEPWISE_CLOCK_OFFSET


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _real(epoch: float) -> datetime:
    """The wall-clock moment at which execution time `epoch` is reached (for `run_after`)."""
    return _datetime(epoch - settings.STEPWISE_CLOCK_OFFSET)


def _wall() -> datetime:
    return datetime.now(UTC)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- state machines --------------------------------------------------------------------------------
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidName(f"Invalid Name: '{name}'" if name else f"Invalid Name: the {what} name is empty")


def check_definition(definition_text: str, machine_type: str = MachineType.STANDARD) -> dict:
    """Parse and validate a definition; raise InvalidDefinition (with `.problems`) if it is not valid."""
    problems = [problem for problem in iter_problems(definition_text, state_machine_type=machine_type)
                if problem.severity == "ERROR"]
    if problems:
        raise InvalidDefinition(format_invalid_definition(problems), problems)
    try:
        definition = jsontext.loads(definition_text)
        compile_definition(definition, machine_type=machine_type)
    except EngineInvalidDefinition as error:
        raise InvalidDefinition(str(error), error.problems) from None
    except (ValueError, RecursionError) as error:  # iter_problems reports these; a second line of defence
        raise InvalidDefinition(f"Invalid State Machine Definition: '{error}'") from None
    return definition


def create_state_machine(name: str, definition_text: str, machine_type: str = MachineType.STANDARD,
                         role_arn: str | None = None) -> StateMachine:
    _check_name(name, "state machine")
    if machine_type not in MachineType.values:
        raise ValidationException(f"Invalid type: '{machine_type}' (STANDARD or EXPRESS)")
    check_definition(definition_text, machine_type)
    try:
        with transaction.atomic():
            machine = StateMachine.objects.create(
                name=name, type=machine_type, definition=definition_text, revision=1,
                **({"role_arn": role_arn} if role_arn else {}))
            StateMachineRevision.objects.create(machine=machine, number=1, definition=definition_text)
    except IntegrityError:
        machine_arn = arn("stateMachine", name)
        raise StateMachineAlreadyExists(f"State Machine Already Exists: '{machine_arn}'") from None
    return machine


def update_state_machine(machine: StateMachine, definition_text: str | None = None,
                         role_arn: str | None = None) -> StateMachine:
    """A new definition is a new revision; running executions keep the one they started with."""
    with transaction.atomic():
        machine = StateMachine.objects.select_for_update().get(pk=machine.pk)
        if definition_text is not None and definition_text != machine.definition:
            check_definition(definition_text, machine.type)
            machine.revision += 1
            machine.definition = definition_text
            StateMachineRevision.objects.create(machine=machine, number=machine.revision,
                                                definition=definition_text)
        if role_arn:
            machine.role_arn = role_arn
        machine.save()
    return machine


def get_state_machine(machine_arn: str) -> StateMachine:
    prefix = arn("stateMachine", "")
    if not isinstance(machine_arn, str) or not machine_arn.startswith(prefix):
        raise InvalidArn(f"Invalid Arn: '{machine_arn}'")
    name = machine_arn[len(prefix):].split(":")[0]
    try:
        return StateMachine.objects.get(name=name)
    except StateMachine.DoesNotExist:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'") from None


def get_execution(execution_arn: str) -> Execution:
    try:
        return Execution.objects.select_related("machine").get(arn=execution_arn)
    except Execution.DoesNotExist:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'") from None


def delete_state_machine(machine: StateMachine) -> None:
    """DeleteStateMachine: running Standard executions are stopped first (ABORTED, their in-flight
    attempts withdrawn), then the machine goes with its revisions, executions and history."""
    for execution in Execution.objects.filter(machine=machine, type=MachineType.STANDARD,
                                              status=ExecutionStatus.RUNNING):
        stop_execution(execution, "States.Aborted", "The state machine was deleted.")
    with transaction.atomic():
        TaskAttempt.objects.filter(execution__machine=machine).delete()
        HistoryEvent.objects.filter(execution__machine=machine).delete()
        Execution.objects.filter(machine=machine).delete()
        StateMachine.objects.filter(pk=machine.pk).delete()


_COMPILED: dict[int, Any] = {}
_COMPILED_MAP_RUNS: dict[tuple[int, str], Any] = {}


def _compiled(revision: StateMachineRevision, machine_type: str):
    """The compiled machine of a revision, compiled once per process (revisions never change)."""
    machine = _COMPILED.get(revision.pk)
    if machine is None:
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        machine = _COMPILED[revision.pk] = compile_definition(
            json.loads(revision.definition), validate=False, machine_type=machine_type)
    return machine


def _compiled_map_run(map_run: MapRun):
    """The compiled ItemProcessor a Map Run's children run, compiled once per map run and process."""
    key = (map_run.pk, map_run.arn)  # the ARN too: SQLite may give a deleted row's id to a new one
    machine = _COMPILED_MAP_RUNS.get(key)
    if machine is None:
        if len(_COMPILED_MAP_RUNS) > 512:
            _COMPILED_MAP_RUNS.clear()
        machine = _COMPILED_MAP_RUNS[key] = compile_definition(
            json.loads(map_run.definition), validate=False, machine_type=map_run.execution_type)
    return machine


def _machine_for(row: Execution):
    if row.map_run_id is not None:
        return _compiled_map_run(row.map_run)
    return _compiled(row.revision, row.type)


def _options(row: Execution, *, sync: bool = False) -> ExecutionOptions:
    machine_name = row.machine.name
    if row.map_run_id is not None:  # AWS: a Map Run's children run `<machine>/<label>`
        machine_name = f"{machine_name}/{row.map_run.label}"
    return ExecutionOptions(
        execution_arn=row.arn, execution_name=row.name, state_machine_arn=arn("stateMachine", machine_name),
        state_machine_name=machine_name, role_arn=row.machine.role_arn, machine_type=row.type,
        sync=sync, redrive_count=row.redrive_count, start_time=row.start_date.timestamp(),
        history=row.type == MachineType.STANDARD, clock=now,
        # Executions on workers run a DISTRIBUTED Map's iterations as child executions (a Map Run);
        # Express executions run in memory, where the iterations run inline.
        child_executions=row.type == MachineType.STANDARD,
    )


# -- starting --------------------------------------------------------------------------------------
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


# -- one step --------------------------------------------------------------------------------------
class _Stale(Exception):
    """The compare-and-swap found another version: someone else moved the execution."""


# What a step whose values cannot be stored raises: the database's JSON check (IntegrityError on
# SQLite, DataError on PostgreSQL), the strict writer (ValueError: NaN, inf, lone surrogates),
# TypeError, and RecursionError from a document the states nested too deeply.
UNSAVABLE = (IntegrityError, DataError, ValueError, TypeError, RecursionError, OverflowError)


def _unsavable_cause(error: BaseException) -> str:
    return (f"The execution could not continue: the state data of its next step cannot be saved "
            f"({type(error).__name__}: {str(error)[:300]}). Values must be JSON as AWS reads it: finite "
            f"numbers within the double range, valid Unicode, nested at most {jsontext.MAX_DEPTH} levels.")


def _fail_unsavable(execution_id: int, wakeup: dict | None, error: BaseException, *, shared: dict | None,
                    hint_parent: bool) -> Execution | None:
    """End an execution whose step could not be saved (and was rolled back): FAILED with
    States.Runtime, as AWS fails an execution it cannot continue, from the state before the step,
    which was saved, so it can be again. Without this it would stay RUNNING for ever: every retry of
    the step would fail the same way."""
    log.warning("execution %s: its step cannot be saved, failing it: %r", execution_id, error)
    with transaction.atomic():
        row = _lock_and_load(execution_id, shared)
        if row is None or row.status != ExecutionStatus.RUNNING:
            return None
        ex = _load(row)
        ex.finish(FAILED, error=RUNTIME, cause=_unsavable_cause(error))
        _run_and_save(row, ex, wakeup, hint_parent=hint_parent)
        return row


def _step(execution_id: int, apply: Callable[[EngineExecution, Execution], bool | None],
          wakeup: dict | None = None, *, shared: dict | None = None,
          hint_parent: bool = True) -> Execution | None:
    """Run one step: lock and load, `apply` the wake-up (False: it does not apply, change nothing),
    run, save. Returns the row after the step, or None if nothing changed.

    `wakeup` describes the wake-up as data: if this step ends the execution, it is kept with the
    snapshot from before the step, which is where a redrive starts again. `shared` and `hint_parent`
    are for steps run one after another in a batch (see `start_children`)."""
    for _ in range(5):
        try:
            with transaction.atomic():
                row = _lock_and_load(execution_id, shared)
                if row is None or row.status != ExecutionStatus.RUNNING:
                    return None
                ex = _load(row)
                if apply(ex, row) is False:
                    return None
                _run_and_save(row, ex, wakeup, hint_parent=hint_parent)
                return row
        except _Stale:
            continue
        except UNSAVABLE as error:  # rolled back whole; retrying would fail the same way
            return _fail_unsavable(execution_id, wakeup, error, shared=shared, hint_parent=hint_parent)
    raise RuntimeError(f"execution {execution_id}: gave up after repeated version conflicts")


def _lock_and_load(execution_id: int, shared: dict | None) -> Execution | None:
    """Lock a Standard execution's row and load it with its machine, revision and Map Run (joined;
    from `shared` for the children of one batch, see `_attach_related`)."""
    rows = (Execution.objects.select_for_update(of=("self",))  # of=self: PostgreSQL locks no row of
            .filter(pk=execution_id, type=MachineType.STANDARD)  # a nullable outer join (map_run)
            .order_by())  # first() would sort the one row by the model's ordering: a tenth of a step
    if shared is None:
        return next(iter(rows.select_related("machine", "revision", "map_run")[:1]), None)
    row = next(iter(rows[:1]), None)
    if row is not None:
        _attach_related(row, shared)
    return row


def _attach_related(row: Execution, shared: dict) -> None:
    """Give the row its machine, revision and Map Run from `shared`, reading them the first time.

    The children of a batch all have the same three, so they are read once for the batch, not joined
    into every child's query. They are as fresh as the batch (milliseconds old): a child's definition
    and names never change, only its machine's roleArn may."""
    key = (row.machine_id, row.revision_id, row.map_run_id)
    related = shared.get(key)
    if related is None:
        related = shared[key] = (
            StateMachine.objects.get(pk=row.machine_id), StateMachineRevision.objects.get(pk=row.revision_id),
            MapRun.objects.get(pk=row.map_run_id) if row.map_run_id is not None else None)
    row.machine, row.revision, row.map_run = related


def _load(row: Execution) -> EngineExecution:
    if row.snapshot is None:  # a Map Run's child, created without running: its first step starts it
        return EngineExecution(_machine_for(row), json.loads(row.input), _options(row))
    return EngineExecution.from_snapshot(_machine_for(row), row.snapshot, _options(row))


def _run_and_save(row: Execution, ex: EngineExecution, wakeup: dict | None = None, *,
                  hint_parent: bool = True, writes: _Writes | None = None) -> None:
    previous_snapshot = row.snapshot
    tracks_map_runs = _has_distributed_map(ex)
    fanouts_before = _distributed_fanouts(ex) if tracks_map_runs else {}
    new = ex.run(max_transitions=BATCH_TRANSITIONS, history_limit=MAX_HISTORY_EVENTS)
    withdrawn = ex.take_withdrawn()
    if withdrawn and tracks_map_runs:
        # Child rows before the Map Run row, the order a finishing child locks them in (no deadlock).
        _withdraw_children(row, withdrawn)
    map_runs = _track_map_runs(row, ex, fanouts_before) if tracks_map_runs else {}
    if writes is None:
        _insert_history(_history_rows(row, ex))
    else:
        writes.history += _history_rows(row, ex)
    if withdrawn:
        TaskAttempt.objects.open().filter(execution=row, frame__in=withdrawn).update(
            status=AttemptStatus.ABANDONED, finished_at=_wall())
    changes = {"snapshot": ex.to_snapshot(), "event_count": ex.event_count}
    if ex.status != RUNNING:
        changes.update(status=ex.status, stop_date=_datetime(now()), error=ex.error, cause=ex.cause,
                       output=jsontext.dumps(ex.output) if ex.status == ExecutionStatus.SUCCEEDED else None,
                       last_running_snapshot={"snapshot": previous_snapshot, "wakeup": wakeup or {}})
    if writes is None:
        current = Execution.objects.filter(pk=row.pk, version=row.version)
        if current.update(version=row.version + 1, **changes) != 1:
            raise _Stale()
    else:
        writes.swaps.append((row, row.version, tuple(changes)))
    row.version += 1
    for field, value in changes.items():
        setattr(row, field, value)
    if ex.status != RUNNING:
        if row.map_run_id is not None and hint_parent:  # a Map Run's child: its parent takes the outcome
            _hint_delivery(row.map_run_id, row.parent_id)
        return
    children = [suspension for suspension in new if suspension.kind == "child"]
    if children:
        _start_children(row, ex, children, map_runs)
    for suspension in new:
        if suspension.kind == "task":
            attempt = TaskAttempt.objects.create(
                execution=row, frame=suspension.frame, state_name=suspension.state_name,
                resource=suspension.resource or "", attempt=suspension.attempt,
                timeout_seconds=suspension.timeout_seconds, scheduled_at=_wall())
            queue.enqueue("run_attempt", attempt.pk)
        elif suspension.kind == "wait":
            until = suspension.until
            queue.enqueue("wake", row.pk, suspension.frame, until, run_after=_real(until))
        elif suspension.kind != "child":  # pragma: no cover - the engine makes no other kind so far
            log.error("execution %s: unknown suspension kind %r", row.pk, suspension.kind)
    if ex.has_runnable():  # the batch ran out of transitions: continue in a fresh step
        queue.enqueue("advance", row.pk, row.version)


def _history_rows(row: Execution, ex: EngineExecution) -> list[tuple]:
    """The step's new events as rows of the history table (and the engine forgets them)."""
    adapt = connections[HistoryEvent.objects.db].ops.adapt_datetimefield_value
    rows = [(row.pk, event["id"], event["type"], adapt(_datetime(event["timestamp"])),
             event["previousEventId"], _details_json(event.get(details_key(event["type"]))))
            for event in ex.events]
    ex.events.clear()
    return rows


def _insert_history(rows: list[tuple]) -> None:
    """Insert history rows: COPY on PostgreSQL, multi-row INSERTs elsewhere. The ORM's bulk_create
    costs ~100 µs an event, which would be most of a pure step's time, and one statement a row is a
    round trip each on PostgreSQL; a batch of children writes hundreds of rows at once, and psycopg
    parses a statement that long again every time (it caches those under 4 KB), which COPY avoids."""
    if not rows:
        return
    connection = connections[HistoryEvent.objects.db]
    table = connection.ops.quote_name(HistoryEvent._meta.db_table)
    columns = "(execution_id, seq, type, timestamp, previous_event_id, details)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django wraps execute()'s errors, not COPY's: a row the database refuses is a DataError
            # (the step cannot be saved) rather than psycopg's own class.
            with connection.wrap_database_errors, cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy:
                for history_row in rows:
                    copy.write_row(history_row)
            return
        placeholder = "(%s, %s, %s, %s, %s, %s)"
        for start in range(0, len(rows), HISTORY_ROWS_PER_INSERT):
            chunk = rows[start:start + HISTORY_ROWS_PER_INSERT]
            params = [value for history_row in chunk for value in history_row]
            cursor.execute(f"INSERT INTO {table} {columns} VALUES " + ", ".join([placeholder] * len(chunk)),
                           params)


def _details_json(details: dict | None) -> str:
    return jsontext.dumps(details)  # strict: a NaN or a lone surrogate fails the step, not the database


# -- Map Runs: a DISTRIBUTED Map's iterations as child executions ---------------------------------
# The parent's engine keeps the Map's bookkeeping (MaxConcurrency, tolerated failures, results in item
# order) and parks each iteration as a "child" suspension; the runtime turns each into an execution
# row of its own (with its own history), and hands its outcome back to the parent in a parent step.
CHILD_DELIVERIES_PER_STEP = 10_000
DELIVERY_BYTES_PER_STEP = 16 * 1024 * 1024  # of children's outputs, errors and causes held at once
DELIVERY_PAGE = 1000


def _has_distributed_map(ex: EngineExecution) -> bool:
    return ex.uses_distributed_map()


def _distributed_fanouts(ex: EngineExecution) -> dict[int, Any]:
    """{frame id: the engine's view of a Map Run} of the DISTRIBUTED Map states running now. A view
    stays bound to one run of its Map: `same_run` before and after a step tells which runs began or
    ended in it."""
    return ex.map_runs()


def _map_run_outcome(fan) -> str:
    """How a Map Run that ended in this step ended (ABORTED: withdrawn, the execution stopped or a
    sibling branch failed)."""
    return MapRunStatus(fan.outcome)


def _track_map_runs(row: Execution, ex: EngineExecution, before: dict[int, Any]) -> dict[int, MapRun]:
    """Close the Map Runs that ended in this step, open the ones that began, and give the new ones'
    MapRunStarted events their ARN. Returns the running Map Runs by the frame that runs them."""
    after = _distributed_fanouts(ex) if ex.status == RUNNING else {}
    ended = {frame_id: fan for frame_id, fan in before.items() if not fan.same_run(after.get(frame_id))}
    stopped = _datetime(now())
    for frame_id, fan in ended.items():
        MapRun.objects.filter(execution=row, frame=frame_id, status=MapRunStatus.RUNNING).update(
            status=_map_run_outcome(fan), stop_date=stopped)
    started = [(frame_id, fan) for frame_id, fan in after.items() if not fan.same_run(before.get(frame_id))]
    fresh = []
    for frame_id, fan in started:
        label = fan.label
        fresh.append(MapRun(
            execution=row, frame=frame_id, state_name=fan.state_name, label=label,
            arn=arn("mapRun", f"{row.machine.name}/{label}", str(uuid.uuid4())),
            execution_type=fan.execution_type, definition=json.dumps(fan.child_definition),
            max_concurrency=fan.max_concurrency, tolerated_failure_count=fan.tolerated_failure_count,
            tolerated_failure_percentage=fan.tolerated_failure_percentage,
            total=fan.total, start_date=stopped))
    for map_run in fresh:
        map_run.save()
    if fresh:
        _name_map_run_events(ex, fresh)
    running = {map_run.frame: map_run for map_run in fresh}
    for map_run in MapRun.objects.filter(execution=row, status=MapRunStatus.RUNNING).exclude(
            pk__in=[map_run.pk for map_run in fresh]):
        running.setdefault(map_run.frame, map_run)
    return running


def _name_map_run_events(ex: EngineExecution, fresh: list[MapRun]) -> None:
    """The engine names a Map Run `<machine>/<label>`; the runtime gives each its unique ARN."""
    unnamed = list(fresh)
    key = details_key("MapRunStarted")
    for event in ex.events:
        if event["type"] != "MapRunStarted" or key not in event:
            continue
        engine_name = event[key].get("mapRunArn", "")
        for map_run in unnamed:
            if engine_name.endswith("/" + map_run.label):
                event[key] = {**event[key], "mapRunArn": map_run.arn}
                unnamed.remove(map_run)
                break


def _start_children(row: Execution, ex: EngineExecution, suspensions: list, map_runs: dict[int, MapRun]):
    """Create a child execution for each "child" suspension, inside the parent's step: Standard
    children are started by their first `advance`, Express ones run in one worker."""
    started = _datetime(now())
    children = []
    for suspension in suspensions:
        map_run = map_runs[ex.map_frame_of(suspension.frame)]
        name = str(uuid.uuid4())
        express = map_run.execution_type == MachineType.EXPRESS
        machine_name = f"{row.machine.name}/{map_run.label}"
        children.append(Execution(
            machine=row.machine, revision=row.revision, map_run=map_run, parent=row,
            parent_frame=suspension.frame, type=map_run.execution_type, name=name,
            arn=arn("express", machine_name, name, str(uuid.uuid4())) if express
            else arn("execution", machine_name, name),
            input=jsontext.dumps(suspension.parameters), start_date=started))
    Execution.objects.bulk_create(children)
    if children[0].pk is None:  # a backend that does not return ids from bulk inserts
        arns = [child.arn for child in children]
        ids = dict(Execution.objects.filter(arn__in=arns).values_list("arn", "pk"))
        for child in children:
            child.pk = ids[child.arn]
    express = [(child.pk,) for child in children if child.type == MachineType.EXPRESS]
    _enqueue_many(queue.task("run_express"), express)
    standard = [child.pk for child in children if child.type != MachineType.EXPRESS]
    _enqueue_many(queue.task("start_children"), [(chunk,) for chunk in _child_batches(standard)])
    if len(children) >= ANALYZE_AFTER_ROWS:
        transaction.on_commit(_refresh_planner_statistics)


# PostgreSQL plans from statistics that autovacuum refreshes a while after a table changed, and
# never where it is turned off (as on our CI machines). A Map Run that starts thousands of children
# at once changes the queue and execution tables out of all proportion: with the statistics of the
# empty tables, every worker's claim sorted all 20,000 waiting rows (56 ms) instead of reading the
# first one from django-tasks-db's ordering index (0.06 ms). ANALYZE after a bulk load is what the
# PostgreSQL manual advises.
ANALYZE_AFTER_ROWS = 1000


def _refresh_planner_statistics() -> None:
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DBTaskResult._meta.db_table}, {Execution._meta.db_table}")


def _enqueue_many(task, arguments: list[tuple]) -> None:
    """Enqueue one task per argument tuple in multi-row INSERTs: a Map Run may start 10,000 children in
    one step, and one INSERT each would hold the parent's transaction for seconds. The rows are the ones
    django-tasks-db's DatabaseBackend.enqueue writes (its pre_save handler's date for "no run_after")."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.compat import normalize_json
    from django_tasks_db.models import DBTaskResult, get_date_max

    backend = task.get_backend()
    if len(arguments) < 2 or not isinstance(backend, DatabaseBackend):
        for args in arguments:
            task.enqueue(*args)
        return
    DBTaskResult.objects.bulk_create([
        DBTaskResult(id=backend._get_id(), args_kwargs=normalize_json({"args": list(args), "kwargs": {}}),
                     priority=task.priority, task_path=task.module_path, queue_name=task.queue_name,
                     run_after=task.run_after or get_date_max(), backend_name=backend.alias)
        for args in arguments], batch_size=500)


def _hint_delivery(map_run_id: int, parent_id: int) -> None:
    """Queue one hint for the parent to take its finished children, unless one is queued already.

    The Map Run's `delivery_queued` flag says one is. `deliver_children` clears it (an UPDATE, which
    waits for every lock on the row) before it reads the children; a child that skips the hint holds
    a shared lock on the row until its step commits, so the queued hint's reading sees it. Shared, so
    that finishing children do not commit one after another. The hint goes to the back of the queue:
    while children keep the workers busy, one parent step takes many of them (each parent step loads
    the Map's whole bookkeeping)."""
    map_run = MapRun.objects.filter(pk=map_run_id)
    if map_run.values_list("delivery_queued", flat=True).first():
        if not _flag_still_set(map_run_id):  # just cleared: one more hint, and no lock upgrade
            queue.enqueue("deliver_children", parent_id)
        return
    if map_run.select_for_update().values_list("delivery_queued", flat=True).first():
        return  # another child queued it meanwhile; our lock keeps its reading after our commit
    map_run.update(delivery_queued=True)
    queue.enqueue("deliver_children", parent_id)


def _flag_still_set(map_run_id: int) -> bool:
    """Read the flag again under a shared lock held to the end of the transaction (PostgreSQL; SQLite
    has one writer at a time, which orders the steps already)."""
    connection = connections[MapRun.objects.db]
    if connection.vendor != "postgresql":
        return True
    table = connection.ops.quote_name(MapRun._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT delivery_queued FROM {table} WHERE id = %s FOR SHARE", [map_run_id])
        row = cursor.fetchone()
    return bool(row and row[0])


def _deliver_forgotten_children() -> int:
    """The sweep's part for Map Runs: hint parents with children finished a while ago and not taken."""
    late = _datetime(now()) - timedelta(seconds=sweep_period())
    parents = list(Execution.objects.filter(
        reported=False, parent__isnull=False, parent__status=ExecutionStatus.RUNNING, stop_date__lt=late)
        .order_by().values_list("parent_id", flat=True).distinct()[:100])
    for parent_id in parents:
        queue.enqueue("deliver_children", parent_id)
    return len(parents)


def _withdraw_children(row: Execution, frames: list[int]) -> None:
    """Children the parent no longer waits for (the Map failed, the execution stopped): their
    outcome is not wanted, and those still running are stopped (ABORTED)."""
    withdrawn = Execution.objects.filter(parent=row, parent_frame__in=frames, reported=False)
    running = list(withdrawn.filter(status=ExecutionStatus.RUNNING).values_list("pk", "type"))
    withdrawn.update(reported=True)
    express = [pk for pk, kind in running if kind == MachineType.EXPRESS]
    if express:  # its worker's final write (a compare-and-swap on version) then changes nothing
        Execution.objects.filter(pk__in=express, status=ExecutionStatus.RUNNING).update(
            status=ExecutionStatus.ABORTED, stop_date=_datetime(now()), version=F("version") + 1,
            lease_expires_at=None)
    for pk, kind in running:
        if kind == MachineType.STANDARD:
            queue.enqueue("abort_child", pk)


def abort_child(execution_id: int) -> Execution | None:
    """Stop a child execution its parent withdrew."""

    def apply(ex, row):
        ex.stop(None, None)

    return _step(execution_id, apply, {"kind": "stop"})


# A parent step may start thousands of Standard children at once. Each child's first step is short
# (it runs to its first Task or Wait, or to its end), so one queued task per child would spend more on
# the queue (claim, finish) than on the child: they are queued CHILDREN_PER_TASK to a task, in at
# least CHILD_TASKS_WANTED tasks where there are enough children, so that every worker gets some.
CHILDREN_PER_TASK = 50
CHILD_TASKS_WANTED = 32


def _child_batches(execution_ids: list[int]) -> list[list[int]]:
    size = max(1, min(CHILDREN_PER_TASK, len(execution_ids) // CHILD_TASKS_WANTED))
    return [execution_ids[i:i + size] for i in range(0, len(execution_ids), size)]


def start_children(execution_ids: list[int]) -> None:
    """The first steps of child executions a parent step created, in one transaction: one SELECT
    locks them, their history goes in at once (`_insert_history`) and their compare-and-swaps in one
    UPDATE per set of fields (`_swap_versions`), and the parent is hinted once, after the commit, for
    all that finished. Each child's
    step is still all or nothing, and a child that has moved on is left alone (a task run again after
    its worker died, put back by the sweep, hints again for the finished ones not yet taken).

    Children locked by someone else (a StopExecution, say), and all of them if the batch fails, go
    one by one through `_step` afterwards, so that one child's failure does not keep the others from
    starting; the task then fails with the first error."""
    shared: dict = {}
    try:
        started = _start_together(execution_ids, shared)
    except Exception:
        log.exception("starting children %s together failed; starting them one by one", execution_ids[:3])
        started = set()
    first_error = None
    for execution_id in execution_ids:
        if execution_id in started:
            continue
        try:
            _step(execution_id, _first_step, shared=shared, hint_parent=False)
        except Exception as error:  # reported below, once the other children have started
            log.exception("execution %s: its first step failed", execution_id)
            first_error = first_error or error
    finished = (Execution.objects.filter(pk__in=execution_ids, reported=False, map_run__isnull=False)
                .exclude(status=ExecutionStatus.RUNNING).order_by())
    for map_run_id, parent_id in set(finished.values_list("map_run_id", "parent_id")):
        with transaction.atomic():
            _hint_delivery(map_run_id, parent_id)
    if first_error is not None:
        raise first_error


def _start_together(execution_ids: list[int], shared: dict) -> set[int]:
    """Run the first step of every child not yet started and not locked by another transaction, all
    in one transaction; returns the ids it locked (the others are for `_step`)."""
    writes = _Writes()
    with transaction.atomic():
        rows = list(Execution.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(pk__in=execution_ids, type=MachineType.STANDARD).order_by("pk"))
        for row in rows:
            if row.status != ExecutionStatus.RUNNING or row.version != 0:
                continue  # ended (stopped, say) or started already: what _first_step checks
            _attach_related(row, shared)
            _run_and_save(row, _load(row), hint_parent=False, writes=writes)
        writes.save()
    return {row.pk for row in rows}


class _Writes:
    """The writes of steps that share one transaction, held to its end: every step's history rows go
    in together, and their compare-and-swaps in one UPDATE per set of changed fields (a mismatch,
    which the row locks rule out, rolls all of them back)."""

    def __init__(self):
        self.history: list[tuple] = []
        self.swaps: list[tuple[Execution, int, tuple[str, ...]]] = []

    def save(self) -> None:
        _insert_history(self.history)
        groups: dict[tuple[str, ...], list[tuple[Execution, int]]] = {}
        for row, old_version, fields in self.swaps:
            groups.setdefault(fields, []).append((row, old_version))
        for fields, rows in groups.items():
            if _swap_versions(rows, ("version", *fields)) != len(rows):
                raise _Stale()


def _swap_versions(rows: list[tuple[Execution, int]], fields: tuple[str, ...]) -> int:
    """Write `fields` of many execution rows in one UPDATE, each only if its version is still the one
    given (a compare-and-swap a row); returns how many were written. The ORM's bulk_update builds a
    CASE per row and field, which costs more than the steps it saves."""
    connection = connections[Execution.objects.db]
    quote = connection.ops.quote_name
    model_fields = [Execution._meta.get_field(name) for name in fields]
    table = quote(Execution._meta.db_table)
    # The new values come as a table `swap` whose columns are column1 (id), column2 (the version read)
    # and then one per field.
    assignments = ", ".join(f"{quote(field.column)} = swap.column{number}"
                            for number, field in enumerate(model_fields, 3))
    where = f"{table}.{quote('id')} = swap.column1 AND {table}.{quote('version')} = swap.column2"
    total = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), SWAPS_PER_UPDATE):
            chunk = rows[start:start + SWAPS_PER_UPDATE]
            if connection.vendor == "postgresql":
                # All the rows as one JSON parameter: a statement with more than 50 parameters is
                # parsed again by psycopg on every call, and arrays of text are quoted in Python —
                # either cost more than the UPDATE.
                types = ["bigint", "integer", *(field.db_type(connection) for field in model_fields)]
                record = ", ".join(f"column{number} {db_type}" for number, db_type in enumerate(types, 1))
                document = _swap_document(chunk, model_fields)
                cursor.execute(f"UPDATE {table} SET {assignments} FROM jsonb_to_recordset(%s::jsonb) "
                               f"AS swap({record}) WHERE {where}", [document])
            else:  # SQLite names a VALUES table's columns column1, column2 … (and cannot rename them)
                placeholder = "(" + ", ".join(["%s"] * (2 + len(model_fields))) + ")"
                values = ", ".join([placeholder] * len(chunk))
                params = []
                for row, old_version in chunk:
                    params += (row.pk, old_version)
                    params += (field.get_db_prep_save(getattr(row, field.attname), connection)
                               for field in model_fields)
                cursor.execute(f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS swap "
                               f"WHERE {where}", params)
            total += cursor.rowcount
    return total


SWAPS_PER_UPDATE = 200  # 2,200 parameters at most on SQLite, like HISTORY_ROWS_PER_INSERT


def _swap_document(chunk: list[tuple[Execution, int]], model_fields: list) -> str:
    """The rows of a swap as jsonb_to_recordset reads them: a JSON field's value as it is, a date as
    ISO 8601 text, NULL as null."""
    records = []
    for row, old_version in chunk:
        values = (row.pk, old_version, *(getattr(row, field.attname) for field in model_fields))
        records.append({f"column{number}": value.isoformat() if isinstance(value, datetime) else value
                        for number, value in enumerate(values, 1)})
    return json.dumps(records, ensure_ascii=False, separators=(",", ":"))


def _first_step(ex: EngineExecution, row: Execution) -> bool | None:
    """`_step`'s wake-up for a child's first step: it applies only to a child not started yet."""
    return False if row.version != 0 else None


def deliver_children(parent_id: int) -> Execution | None:
    """Hand the outcomes of finished children to their parent, many in one parent step. A child is
    delivered once: it is marked `reported` in the same transaction; a duplicate hint finds nothing."""
    MapRun.objects.filter(execution_id=parent_id, delivery_queued=True).update(delivery_queued=False)
    undelivered = Execution.objects.filter(parent_id=parent_id, reported=False).exclude(
        status=ExecutionStatus.RUNNING)
    if not undelivered.exists():  # an earlier hint delivered it: do not load the parent at all
        return None
    more = []

    def apply(ex, row):
        finished, full = _take_finished_children(row)
        if full:  # the rest in the next step
            more.append(True)
        if not finished:
            return False
        delivered = False
        for child in finished:
            suspension = ex.suspension(child.parent_frame)
            if suspension is None or suspension.kind != "child":
                continue  # withdrawn meanwhile
            if child.status == ExecutionStatus.SUCCEEDED:
                ex.resume_child(child.parent_frame, output=json.loads(child.output))
            else:
                error = child.error or _CHILD_ERRORS.get(child.status)
                ex.resume_child(child.parent_frame, error=error, cause=child.cause, failed=True)
            delivered = True
        return delivered

    result = _step(parent_id, apply, {"kind": "children"})
    if more:
        queue.enqueue("deliver_children", parent_id)
    return result


def _take_finished_children(parent: Execution) -> tuple[list[Execution], bool]:
    """The parent's finished children not yet delivered, marked delivered (`reported`) in the parent's
    step: page after page, until the step holds CHILD_DELIVERIES_PER_STEP of them or their outcomes
    DELIVERY_BYTES_PER_STEP (then it is full: True). Each parent step loads and saves the Map's whole
    bookkeeping, so the more it takes at once the better, as long as what it holds stays bounded."""
    finished: list[Execution] = []
    size = 0
    while len(finished) < CHILD_DELIVERIES_PER_STEP and size < DELIVERY_BYTES_PER_STEP:
        after = finished[-1].pk if finished else 0
        page = list(Execution.objects.filter(parent=parent, reported=False, pk__gt=after)
                    .exclude(status=ExecutionStatus.RUNNING)
                    .only("pk", "status", "output", "error", "cause", "parent_frame")
                    .order_by("pk")[:DELIVERY_PAGE])
        if page:
            Execution.objects.filter(pk__in=[child.pk for child in page]).update(reported=True)
            finished += page
            size += sum(len(child.output or "") + len(child.error or "") + len(child.cause or "")
                        for child in page)
        if len(page) < DELIVERY_PAGE:
            return finished, False
    return finished, True


_CHILD_ERRORS = {ExecutionStatus.ABORTED: "States.Aborted", ExecutionStatus.TIMED_OUT: TIMEOUT,
                 ExecutionStatus.FAILED: TASK_FAILED}


def get_map_run(map_run_arn: str) -> MapRun:
    map_run = MapRun.objects.select_related("execution", "execution__machine").filter(arn=map_run_arn).first()
    if map_run is None:
        raise ResourceNotFound(f"Resource not found: '{map_run_arn}'")
    return map_run


def update_map_run(map_run: MapRun, max_concurrency: int | None = None,
                   tolerated_failure_count: int | None = None,
                   tolerated_failure_percentage: float | None = None) -> MapRun:
    """UpdateMapRun: a parent step changes the running Map's limits in the engine's snapshot; a
    higher MaxConcurrency starts more children at once, tolerance applies from the next failure."""
    def apply(ex, row):
        return ex.update_map_run(map_run.frame, map_run.state_name, max_concurrency, tolerated_failure_count,
                                 tolerated_failure_percentage)

    changes = {}
    if max_concurrency is not None:
        changes["max_concurrency"] = max_concurrency
    if tolerated_failure_count is not None:
        changes["tolerated_failure_count"] = tolerated_failure_count
    if tolerated_failure_percentage is not None:
        changes["tolerated_failure_percentage"] = tolerated_failure_percentage
    with transaction.atomic():
        if map_run.status == MapRunStatus.RUNNING:
            _step(map_run.execution_id, apply)
        MapRun.objects.filter(pk=map_run.pk).update(**changes)
    map_run.refresh_from_db()
    return map_run


# -- wake-ups --------------------------------------------------------------------------------------
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


# -- redrive --------------------------------------------------------------------------------------
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


# -- work a dead worker dropped -------------------------------------------------------------------
class WorkerLost(Exception):
    """The worker running a Task attempt's queue row stopped: `sweep` marks that row FAILED with this
    class (the queue can import it back), while the attempt's lease decides the attempt's outcome."""


def sweep() -> int:
    """Give back to the queue the wake-ups a killed worker had claimed but not finished.

    django-tasks-db never runs a claimed row again, so a worker killed in the middle of a step would
    leave that row RUNNING for ever and its execution stuck. Every task here is an idempotent hint
    (it re-reads the execution and checks before it acts), so a row that has been RUNNING for longer
    than any step takes simply goes back to READY. A Task attempt is the exception that proves the
    rule: its row is given back only if the attempt was never claimed; a claimed attempt belongs to
    its lease (at most once). Returns how many rows went back to the queue."""
    from django_tasks_db.models import DBTaskResult

    stale = _wall() - 2 * _lease()
    stuck = DBTaskResult.objects.filter(status="RUNNING", started_at__lt=stale,
                                        task_path__startswith="designer.tasks.")
    requeue, dropped = [], []
    for row in stuck:
        args = row.args_kwargs.get("args") or []
        if row.task_path == "designer.tasks.run_attempt":
            attempt = TaskAttempt.objects.filter(pk=args[0]).first() if args else None
            if attempt is not None and attempt.status == AttemptStatus.SCHEDULED:
                requeue.append(row.pk)
            elif attempt is None or attempt.status != AttemptStatus.RUNNING:
                dropped.append(row.pk)  # decided by its lease; nothing left to do
        else:
            requeue.append(row.pk)
    if requeue:
        DBTaskResult.objects.filter(pk__in=requeue, status="RUNNING").update(status="READY", started_at=None)
        log.warning("gave %d task(s) a dead worker had claimed back to the queue", len(requeue))
    if dropped:
        DBTaskResult.objects.filter(pk__in=dropped, status="RUNNING").update(
            status="FAILED", finished_at=_wall(), exception_class_path="designer.runtime.WorkerLost",
            traceback="The worker running this task stopped; the task attempt's lease decided its outcome.")
    return len(requeue)


def sweep_period() -> float:
    return max(settings.STEPWISE_TASK_LEASE_SECONDS, 1.0)


_queued_sweep: list = [None]  # the id of a `sweep` row this process saw queued


def _ensure_sweeper() -> None:
    """Keep one `sweep` row queued while there is work (started by any start; it stops when idle).

    The row this process last saw queued is looked up by its key first: finding a queued sweep by its
    task path scans every queued row, a year's time limits of every execution among them."""
    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.filter(status="READY")
    if _queued_sweep[0] is not None and queued.filter(pk=_queued_sweep[0]).exists():
        return
    _queued_sweep[0] = queued.filter(task_path="designer.tasks.sweep").values_list("pk", flat=True).first()
    if _queued_sweep[0] is None:
        _queued_sweep[0] = queue.enqueue("sweep", run_after=_wall() + timedelta(seconds=sweep_period())).id


def sweep_and_reschedule() -> None:
    from django_tasks_db.models import DBTaskResult

    sweep()
    if _deliver_forgotten_children():
        log.warning("hinted parents whose finished children had not been taken")
    # Finished hints have done their work: keep a day of them to look at, not every one for ever.
    DBTaskResult.objects.filter(status="SUCCESSFUL", task_path__startswith="designer.tasks.",
                                finished_at__lt=_wall() - timedelta(days=1)).delete()
    others = DBTaskResult.objects.filter(status="RUNNING").exclude(task_path="designer.tasks.sweep")
    busy = Execution.objects.running().exists() or others.exists()
    if busy:
        _ensure_sweeper()


# -- Task attempts ---------------------------------------------------------------------------------
def _lease() -> timedelta:
    return timedelta(seconds=settings.STEPWISE_TASK_LEASE_SECONDS)


def _attempt_deadline(attempt: TaskAttempt) -> datetime:
    deadline = attempt.lease_expires_at
    if attempt.timeout_seconds is not None and attempt.started_at is not None:
        deadline = min(deadline, attempt.started_at + timedelta(seconds=attempt.timeout_seconds))
    return deadline


def claim_attempt(attempt_id: int, worker: str) -> TaskAttempt | None:
    """Mark the attempt RUNNING (with a lease) and record TaskStarted, in one transaction, before the
    function is called. Returns None if the attempt must not run (already run, or withdrawn)."""
    with transaction.atomic():
        attempt = (TaskAttempt.objects.select_for_update().select_related("execution")
                   .filter(pk=attempt_id, status=AttemptStatus.SCHEDULED).first())
        if attempt is None:
            return None
        started = []

        def apply(ex, row):
            suspension = ex.suspension(attempt.frame)
            if suspension is None or suspension.kind != "task":
                return False
            ex.task_started(attempt.frame)
            started.append(True)

        _step(attempt.execution_id, apply)
        if not started:
            attempt.status = AttemptStatus.ABANDONED
            attempt.finished_at = _wall()
            attempt.save(update_fields=["status", "finished_at"])
            return None
        attempt.status = AttemptStatus.RUNNING
        attempt.worker = worker
        attempt.started_at = _wall()
        attempt.lease_expires_at = attempt.started_at + _lease()
        attempt.save(update_fields=["status", "worker", "started_at", "lease_expires_at"])
        queue.enqueue("check_attempt", attempt.pk, run_after=_attempt_deadline(attempt))
    return attempt


def finish_attempt(attempt_id: int, result: Any = None, error: str | None = None, cause: str | None = None,
                   *, status: str = AttemptStatus.SUCCEEDED) -> bool:
    """Record how an attempt ended and hand the outcome to the execution. False if the attempt was no
    longer running (lost, timed out or withdrawn): then its outcome is discarded."""
    with transaction.atomic():
        attempt = TaskAttempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None or attempt.status != AttemptStatus.RUNNING:
            return False
        attempt.status = status
        attempt.finished_at = _wall()
        attempt.error, attempt.cause = error, cause
        attempt.result = json_text(result) if status == AttemptStatus.SUCCEEDED else None
        attempt.save(update_fields=["status", "finished_at", "error", "cause", "result"])

        def apply(ex, row):
            suspension = ex.suspension(attempt.frame)
            if suspension is None or suspension.kind != "task":
                return False
            if status == AttemptStatus.SUCCEEDED:
                ex.resume_task(attempt.frame, result=result)
            else:
                ex.resume_task(attempt.frame, error=error, cause=cause,
                               timed_out=status == AttemptStatus.TIMED_OUT)

        _step(attempt.execution_id, apply, {"kind": "task", "frame": attempt.frame, "attempt": attempt.pk,
                                            "ok": status == AttemptStatus.SUCCEEDED})
    return True


def _renew_leases(attempt_id: int, stop: threading.Event) -> None:
    """While the function runs: push the lease forward every third of its length."""
    from django.db import connection

    period = settings.STEPWISE_TASK_LEASE_SECONDS / 3
    try:
        while not stop.wait(period):
            TaskAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.RUNNING).update(
                lease_expires_at=_wall() + _lease())
    except Exception:  # a lease we cannot renew simply expires: the check task handles that
        log.exception("renewing the lease of task attempt %s failed", attempt_id)
    finally:
        connection.close()


def call_function(resource: str, parameters: Any, timeout_seconds: float | None) -> tuple[str, Any, Any]:
    """Run a Task's resource: ("ok", result, None) or (status, error, cause). Never raises."""
    from designer import functions

    try:
        result = functions.invoke(resource, parameters, timeout_seconds=timeout_seconds)
    except TaskFailed as failure:
        status = AttemptStatus.TIMED_OUT if failure.error == TIMEOUT else AttemptStatus.FAILED
        return status, failure.error, failure.cause
    except Exception as error:  # a bug in the runtime's caller side, not the function: still never crash
        log.exception("task resource %s raised outside its wrapper", resource)
        return AttemptStatus.FAILED, type(error).__name__, str(error)
    try:
        jsontext.dumps(result)
    except (TypeError, ValueError) as error:
        return AttemptStatus.FAILED, RUNTIME, f"The task returned a result that is not JSON: {error}"
    return "ok", result, None


def run_task_attempt(attempt_id: int) -> None:
    """What a worker does with a Task attempt: claim it, call the function, report the outcome.

    With STEPWISE_TASK_THREADS > 0 (a db_worker's default) the call and its report run on one of that
    many threads and the worker goes back to the queue at once, so a slow function holds up no other
    execution. When every thread is busy the worker waits here for one, *before* the claim: the attempt
    is not lost and its lease and TimeoutSeconds have not started. The claim stays in this thread, so
    the at-most-once rule is the same as before: claimed once, with a lease, before the call.
    """
    threads = settings.STEPWISE_TASK_THREADS
    if threads <= 0:
        claimed = _claim_with_parameters(attempt_id)
        if claimed is not None:
            _call_and_finish(*claimed)
        return
    slots, pool = _task_pool(threads)
    slots.acquire()
    try:
        claimed = _claim_with_parameters(attempt_id)
        if claimed is None:
            slots.release()
            return
        pool.submit(_call_in_pool_thread, *claimed, slots)
    except BaseException:
        slots.release()
        raise


_pool_lock = threading.Lock()
_pools: dict[int, tuple[threading.BoundedSemaphore, Any]] = {}


def _task_pool(threads: int) -> tuple[threading.BoundedSemaphore, Any]:
    """The semaphore that bounds the calls in flight (a slot is taken before the claim, so the pool's
    queue stays empty), and the pool that runs them."""
    # One pool a process, made on first use. Its threads are not daemons: on SIGTERM, db_worker exits
    # and the interpreter waits for the calls that are running (a function that finishes still reports
    # its result). Whatever is still running when the process is killed (serve's STOP_TIMEOUT,
    # systemd's TimeoutStopSec, kill -9) is left to its lease: it fails with States.TaskFailed, once.
    from concurrent.futures import ThreadPoolExecutor

    with _pool_lock:
        if threads not in _pools:
            _pools[threads] = (threading.BoundedSemaphore(threads),
                               ThreadPoolExecutor(threads, thread_name_prefix="task-attempt"))
        return _pools[threads]


def _claim_with_parameters(attempt_id: int) -> tuple[TaskAttempt, Any] | None:
    attempt = claim_attempt(attempt_id, worker_id())
    if attempt is None:
        return None
    return attempt, _load(attempt.execution).suspension(attempt.frame).parameters


def _call_in_pool_thread(attempt: TaskAttempt, parameters: Any, slots: threading.BoundedSemaphore) -> None:
    from django.db import connection

    try:
        _call_and_finish(attempt, parameters)
    except Exception:  # the attempt stays RUNNING: its lease runs out and check_attempt fails it
        log.exception("task attempt %s: reporting its outcome failed", attempt.pk)
    finally:
        connection.close()  # this thread's own connection; the worker's stays open for its next task
        slots.release()


def _call_and_finish(attempt: TaskAttempt, parameters: Any) -> None:
    stop = threading.Event()
    renewer = threading.Thread(target=_renew_leases, args=(attempt.pk, stop), daemon=True)
    renewer.start()
    try:
        status, value, cause = call_function(attempt.resource, parameters, attempt.timeout_seconds)
    finally:
        stop.set()
        renewer.join()
    if status == "ok":
        delivered = finish_attempt(attempt.pk, result=value)
    else:
        delivered = finish_attempt(attempt.pk, error=value, cause=cause, status=status)
    if not delivered:
        log.info("task attempt %s ended after it was declared lost or withdrawn: result discarded",
                 attempt.pk)


def check_attempt(attempt_id: int) -> None:
    """Queued for when a running attempt's lease (or its TimeoutSeconds) runs out."""
    attempt = TaskAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.RUNNING).first()
    if attempt is None:
        return
    wall = _wall()
    timeout = attempt.timeout_seconds
    if timeout is not None and wall >= attempt.started_at + timedelta(seconds=timeout):
        finish_attempt(attempt_id, error=TIMEOUT, cause=None, status=AttemptStatus.TIMED_OUT)
    elif wall >= attempt.lease_expires_at:
        finish_attempt(attempt_id, error=TASK_FAILED, status=AttemptStatus.LOST, cause=(
            f"The worker running this task attempt ({attempt.worker}) stopped renewing its lease of "
            f"{settings.STEPWISE_TASK_LEASE_SECONDS:g} s. Stepwise runs a task attempt at most once, "
            "so it was not run again: use Retry to try again."))
    else:
        queue.enqueue("check_attempt", attempt_id, run_after=_attempt_deadline(attempt))


# -- Express ---------------------------------------------------------------------------------------
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
