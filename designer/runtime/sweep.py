"""Work a dead worker dropped: queue rows a killed worker had claimed go back to the queue, and parents
are hinted about finished children nobody delivered."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from designer import queue
from designer.models import (
    AttemptStatus,
    Execution,
    ExecutionStatus,
    TaskAttempt,
)
from designer.runtime.clock import _datetime, _lease, _wall, now

log = logging.getLogger(__name__)


def _deliver_forgotten_children() -> int:
    """The sweep's part for Map Runs: hint parents with children finished a while ago and not taken."""
    late = _datetime(now()) - timedelta(seconds=sweep_period())
    parents = list(Execution.objects.filter(
        reported=False, parent__isnull=False, parent__status=ExecutionStatus.RUNNING, stop_date__lt=late)
        .order_by().values_list("parent_id", flat=True).distinct()[:100])
    for parent_id in parents:
        queue.enqueue("deliver_children", parent_id)
    return len(parents)


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
