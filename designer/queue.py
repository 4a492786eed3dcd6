"""Background work by name: the runtime asks for a task ("advance", "wake", ...) without importing
designer/tasks.py, which imports the runtime to run it. The task object is looked up when first used.

    queue.enqueue("advance", execution_id, version)
    queue.enqueue("wake", execution_id, frame, until, run_after=when)
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
