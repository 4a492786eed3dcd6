"""Map Runs: a DISTRIBUTED Map's iterations as child executions. The children's first steps (many in
one transaction), their outcomes delivered to the parent, UpdateMapRun, and a withdrawn child stopped."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from django.db import connections, transaction

from designer import queue
from designer.models import (
    Execution,
    ExecutionStatus,
    MachineType,
    MapRun,
    MapRunStatus,
)
from designer.runtime.children import _hint_delivery
from designer.runtime.errors import ResourceNotFound
from designer.runtime.step import _attach_related, _insert_history, _load, _run_and_save, _Stale, _step
from engine import (
    TASK_FAILED,
    TIMEOUT,
)
from engine import Execution as EngineExecution

log = logging.getLogger(__name__)


# The parent's engine keeps the Map's bookkeeping (MaxConcurrency, tolerated failures, results in item
# order) and parks each iteration as a "child" suspension; the runtime turns each into an execution
# row of its own (with its own history), and hands its outcome back to the parent in a parent step.
CHILD_DELIVERIES_PER_STEP = 10_000
DELIVERY_BYTES_PER_STEP = 16 * 1024 * 1024  # of children's outputs, errors and causes held at once
DELIVERY_PAGE = 1000


def abort_child(execution_id: int) -> Execution | None:
    """Stop a child execution its parent withdrew."""

    def apply(ex, row):
        ex.stop(None, None)

    return _step(execution_id, apply, {"kind": "stop"})


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
