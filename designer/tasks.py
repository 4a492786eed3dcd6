"""Background work, carried by django.tasks rows (django-tasks-db) and run by `manage.py db_worker`.

Each task is only a wake-up hint: it calls designer/runtime/, which re-reads the execution and does
nothing if the work no longer applies. Anything due later is a row with `run_after`, so a Wait of a
year costs one row and survives restarts.
"""

from django.tasks import task

from designer import runtime

# How long an idle `db_worker` waits before it looks at the queue again (`--interval`; its default is
# 1 s). A worker that has just run a task looks again at once, so this is only the delay before an
# idle worker notices new work. At 0.01 s each idle worker polled 100 times a second, and while a long
# step kept the others idle (a parent starting 10,000 children, say) that polling took CPU from it.
WORKER_POLL_SECONDS = 0.1


@task
def advance(execution_id: int, expected_version: int) -> None:
    """Run an execution's runnable frames (its first step, or the continuation of a long batch)."""
    runtime.advance(execution_id, expected_version)


@task
def wake(execution_id: int, frame: int, until: float) -> None:
    """A Wait state's or a retry back-off's time has come."""
    runtime.resume_wait(execution_id, frame, until)


@task
def run_attempt(attempt_id: int) -> None:
    """Run one Task attempt (at most once)."""
    runtime.run_task_attempt(attempt_id)


@task
def check_attempt(attempt_id: int) -> None:
    """A running attempt's lease or timeout may have run out."""
    runtime.check_attempt(attempt_id)


@task
def execution_timeout(execution_id: int) -> None:
    """The state machine's TimeoutSeconds may have passed."""
    runtime.time_out(execution_id)


@task
def run_express(execution_id: int) -> None:
    """Run an async Express execution from its beginning to its end."""
    runtime.run_express(execution_id)


@task
def check_express(execution_id: int) -> None:
    """An async Express run's lease may have run out: start it again if its worker died."""
    runtime.check_express(execution_id)


@task
def activity_schedule_failed(execution_id: int, frame: int, token: str) -> None:
    """A Task named an activity that does not exist: it fails with ActivityScheduleFailed."""
    runtime.activity_schedule_failed(execution_id, frame, token)


@task
def sweep() -> None:
    """Give back to the queue what a killed worker had claimed (see runtime.sweep); runs every lease
    period while there is work."""
    runtime.sweep_and_reschedule()


@task
def start_children(execution_ids: list[int]) -> None:
    """Start child executions of a Map Run: their first steps, together in one transaction."""
    runtime.start_children(execution_ids)


@task
def deliver_children(execution_id: int) -> None:
    """Children of this execution's Map Runs finished: hand their outcomes to it."""
    runtime.deliver_children(execution_id)


@task
def abort_child(execution_id: int) -> None:
    """The parent withdrew this child execution (its Map failed, or the parent stopped)."""
    runtime.abort_child(execution_id)


@task
def check_token(token_id: int, deadline: float) -> None:
    """A callback's TimeoutSeconds or HeartbeatSeconds may have run out."""
    runtime.check_token(token_id, deadline)
