"""Background work by name: the runtime asks for a task ("advance", "wake", ...) without importing
designer/tasks.py, which imports the runtime to run it. The task object is looked up when first used.

    queue.enqueue("advance", execution_id, version)
    queue.enqueue("wake", execution_id, frame, until, run_after=when)
    queue.enqueue_together([("advance", (execution_id, version), None), ("execution_timeout", ...)])
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any


def task(name: str) -> Any:
    """The django.tasks Task `name` of designer/tasks.py."""
    return getattr(import_module("designer.tasks"), name)


def enqueue(name: str, *args: Any, run_after: datetime | None = None) -> Any:
    """Queue task `name` with `args`, to run at once or not before `run_after`."""
    queued = task(name)
    if run_after is not None:
        queued = queued.using(run_after=run_after)
    return queued.enqueue(*args)


def enqueue_together(calls: list[tuple[str, tuple, datetime | None]]) -> None:
    """Queue a few different tasks, each `(name, args, run_after)`, in one INSERT: a start queues its
    first step and its time limit, and every statement in the write transaction keeps the other
    writers waiting. Rows as django-tasks-db's own enqueue writes them."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.compat import normalize_json
    from django_tasks_db.models import DBTaskResult, get_date_max

    tasks = [(task(name) if run_after is None else task(name).using(run_after=run_after), args)
             for name, args, run_after in calls]
    if not all(isinstance(queued.get_backend(), DatabaseBackend) for queued, _ in tasks):
        for queued, args in tasks:
            queued.enqueue(*args)
        return
    DBTaskResult.objects.bulk_create([
        DBTaskResult(id=queued.get_backend()._get_id(),
                     args_kwargs=normalize_json({"args": list(args), "kwargs": {}}), priority=queued.priority,
                     task_path=queued.module_path, queue_name=queued.queue_name,
                     run_after=queued.run_after or get_date_max(), backend_name=queued.get_backend().alias)
        for queued, args in tasks])
