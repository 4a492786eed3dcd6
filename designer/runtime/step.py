"""One step of a Standard execution: lock and load the row, apply one wake-up, run, save the history
and the snapshot with a compare-and-swap on `version` (see the package's docstring)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import DataError, IntegrityError, connections, transaction

from designer import live, queue
from designer.models import (
    Activity,
    AttemptStatus,
    Execution,
    ExecutionStatus,
    HistoryEvent,
    MachineType,
    MapRun,
    StateMachine,
    StateMachineRevision,
    TaskAttempt,
    TaskToken,
    TokenKind,
    TokenStatus,
    arn,
)
from designer.runtime.children import (
    _distributed_fanouts,
    _has_distributed_map,
    _hint_delivery,
    _start_children,
    _track_map_runs,
    _withdraw_children,
)
from designer.runtime.clock import _datetime, _real, _wall, now
from designer.runtime.compiled import _machine_for, _options
from engine import (
    FAILED,
    MAX_HISTORY_EVENTS,
    RUNNING,
    RUNTIME,
    details_key,
    jsontext,
    task_events,
)
from engine import Execution as EngineExecution

if TYPE_CHECKING:  # the batch of children's first steps (map_runs) hands its writes to the step
    from designer.runtime.map_runs import _Writes

log = logging.getLogger(__name__)


# How many state transitions one step may run before it commits and continues in another step.
BATCH_TRANSITIONS = 1000
HISTORY_ROWS_PER_INSERT = 500  # SQLite: 3,000 parameters, well under its 32,766 (PostgreSQL uses COPY)


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
        # Their callbacks too: a late SendTask* gets TaskTimedOut (StopExecution, the execution's
        # timeout, a failed sibling branch, the end of the execution).
        TaskToken.objects.open().filter(execution=row, frame__in=withdrawn).update(
            status=TokenStatus.CLOSED, closed_at=_wall())
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
        if suspension.kind == "task" and is_activity(suspension.resource):
            _schedule_activity(row, suspension)
        elif suspension.kind == "task":
            attempt = TaskAttempt.objects.create(
                execution=row, frame=suspension.frame, state_name=suspension.state_name,
                resource=suspension.resource or "", attempt=suspension.attempt,
                timeout_seconds=suspension.timeout_seconds, scheduled_at=_wall())
            queue.enqueue("run_attempt", attempt.pk)
            if suspension.task_token is not None:
                _record_token(row, suspension)
        elif suspension.kind == "wait":
            until = suspension.until
            queue.enqueue("wake", row.pk, suspension.frame, until, run_after=_real(until))
        elif suspension.kind != "child":  # pragma: no cover - the engine makes no other kind so far
            log.error("execution %s: unknown suspension kind %r", row.pk, suspension.kind)
    if ex.has_runnable():  # the batch ran out of transitions: continue in a fresh step
        queue.enqueue("advance", row.pk, row.version)


def is_activity(resource: str | None) -> bool:
    return task_events(resource or "").family == "Activity"


def _schedule_activity(row: Execution, suspension) -> None:
    """An activity Task parked: its task waits, as a token row of kind activity, for a worker's
    GetActivityTask. An activity that does not exist (never made, or deleted) fails the Task in a
    step of its own, with ActivityScheduleFailed (designer/runtime/activities.py)."""
    if not Activity.objects.filter(name=activity_name(suspension.resource)).exists():
        queue.enqueue("activity_schedule_failed", row.pk, suspension.frame, suspension.task_token)
        return
    _record_token(row, suspension, TokenKind.ACTIVITY)


def activity_name(activity_arn: str | None) -> str | None:
    """The name in an activity ARN of this region and account (None for any other ARN)."""
    prefix = arn("activity", "")
    if not isinstance(activity_arn, str) or not activity_arn.startswith(prefix):
        return None
    name = activity_arn[len(prefix):]
    return name if name and ":" not in name else None


def _record_token(row: Execution, suspension, kind: str = TokenKind.CALLBACK) -> None:
    """A `.waitForTaskToken` Task or an activity task parked: its token's row, and a timer row for each
    of its deadlines (designer/runtime/tokens.py answers them). TimeoutSeconds counts from now, when
    the task is scheduled; so does a callback's HeartbeatSeconds, while an activity's counts from
    when a worker takes it, as AWS documents."""
    created = now()
    timeout, heartbeat = suspension.timeout_seconds, suspension.heartbeat_seconds
    token = TaskToken.objects.create(
        token=suspension.task_token, execution=row, frame=suspension.frame, state_name=suspension.state_name,
        resource=suspension.resource or "", created_at=_datetime(created), kind=kind,
        timeout_seconds=suspension.timeout_seconds, heartbeat_seconds=suspension.heartbeat_seconds,
        timeout_at=None if timeout is None else _datetime(created + timeout),
        heartbeat_due_at=None if heartbeat is None or kind == TokenKind.ACTIVITY
        else _datetime(created + heartbeat))
    for deadline in {token.timeout_at, token.heartbeat_due_at} - {None}:
        queue.enqueue("check_token", token.pk, deadline.timestamp(), run_after=_real(deadline.timestamp()))


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
    live.history_written(rows)  # the pages watching hear of them once the transaction commits
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
