"""What a parent's step does for its DISTRIBUTED Maps: open and close the Map Run rows, create a child
execution row per iteration and queue its start, withdraw children, hint the parent to take their
outcomes. The step core calls these; the work on Map Runs from outside a step is in `map_runs`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connections, transaction
from django.db.models import F

from designer import queue
from designer.models import (
    Execution,
    ExecutionStatus,
    MachineType,
    MapRun,
    MapRunStatus,
    arn,
)
from designer.runtime.clock import _datetime, now
from engine import (
    RUNNING,
    details_key,
    jsontext,
)
from engine import Execution as EngineExecution


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


# A parent step may start thousands of Standard children at once. Each child's first step is short
# (it runs to its first Task or Wait, or to its end), so one queued task per child would spend more on
# the queue (claim, finish) than on the child: they are queued CHILDREN_PER_TASK to a task, in at
# least CHILD_TASKS_WANTED tasks where there are enough children, so that every worker gets some.
CHILDREN_PER_TASK = 50
CHILD_TASKS_WANTED = 32


def _child_batches(execution_ids: list[int]) -> list[list[int]]:
    size = max(1, min(CHILDREN_PER_TASK, len(execution_ids) // CHILD_TASKS_WANTED))
    return [execution_ids[i:i + size] for i in range(0, len(execution_ids), size)]
