"""Activities: work done by the user's own workers, which poll for it with GetActivityTask and answer
with SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat (designer/runtime/tokens.py).

A Task whose Resource is an activity ARN parks with an activity token (the step records it, see
step.py `_schedule_activity`): a `TaskToken` row of kind activity, with a timer row for its
TimeoutSeconds, which counts from scheduling. A poller takes the oldest unclaimed task with a
conditional UPDATE (`started_at` still null), so each task goes to exactly one poller, however many
processes poll; then one step records ActivityStarted with the worker's name, and HeartbeatSeconds
start counting from then, as AWS documents. A worker that took a task and died is caught by those
deadlines, never by handing the task out again.

GetActivityTask's waiting (up to 60 s) is not here: the API's ASGI entry awaits between claim
attempts (designer/api_asgi.py), so a poll costs no thread while it waits.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from designer import queue
from designer.models import Activity, ActivityTag, TaskToken, TokenKind, TokenStatus, arn
from designer.runtime.clock import _datetime, _real, now
from designer.runtime.errors import InvalidArn, StepwiseError
from designer.runtime.machines import _check_name
from designer.runtime.step import _step, activity_name
from designer.runtime.versions import check_tag_count
from engine import jsontext

# AWS's cause is not documented word for word; the error names what went wrong, as the API's does.
SCHEDULE_FAILED_ERROR = "ActivityDoesNotExist"


class ActivityDoesNotExist(StepwiseError):
    pass


class ActivityAlreadyExists(StepwiseError):  # AWS never answers it for the same name (idempotent)
    pass


def create_activity(name: str, tags: list[tuple[str, str]] = ()) -> Activity:
    """CreateActivity: idempotent by name; the tags are set on the activity (created or found)."""
    _check_name(name, "activity")
    check_tag_count(len({key for key, _ in tags}))
    with transaction.atomic():
        activity = Activity.objects.filter(name=name).first()
        if activity is None:
            try:
                with transaction.atomic():
                    activity = Activity.objects.create(name=name)
            except IntegrityError:  # made by a concurrent CreateActivity a moment ago
                activity = Activity.objects.get(name=name)
        tag_activity(activity, list(tags))
    return activity


def get_activity(activity_arn: str) -> Activity:
    """The activity of an ARN: InvalidArn for anything but an activity ARN, ActivityDoesNotExist."""
    name = activity_name(activity_arn)
    if name is None:
        raise InvalidArn(f"Invalid Arn: '{activity_arn}'")
    activity = Activity.objects.filter(name=name).first()
    if activity is None:
        raise ActivityDoesNotExist(f"Activity Does Not Exist: '{activity_arn}'")
    return activity


def delete_activity(activity_arn: str) -> None:
    """DeleteActivity: tasks already scheduled stay until their deadlines (no worker can poll for them
    any more); a Task that names it later fails with ActivityScheduleFailed."""
    if activity_name(activity_arn) is None:
        raise InvalidArn(f"Invalid Arn: '{activity_arn}'")
    Activity.objects.filter(name=activity_name(activity_arn)).delete()


def tag_activity(activity: Activity, tags: list[tuple[str, str]]) -> None:
    existing = set(activity.tags.values_list("key", flat=True))
    check_tag_count(len(existing | {key for key, _ in tags}))
    for key, value in tags:
        ActivityTag.objects.update_or_create(activity=activity, key=key, defaults={"value": value})


def untag_activity(activity: Activity, keys: list[str]) -> None:
    activity.tags.filter(key__in=keys).delete()


def activity_schedule_failed(execution_id: int, frame: int, token: str) -> None:
    """Queued by the step that parked a Task on an activity that does not exist: fail the Task with
    ActivityScheduleFailed (Retry and Catch see the error), if it still waits on that token."""
    def apply(ex, execution):
        suspension = ex.suspension(frame)
        if suspension is None or suspension.kind != "task" or suspension.task_token != token:
            return False
        ex.resume_task(frame, error=SCHEDULE_FAILED_ERROR, schedule_failed=True,
                       cause=f"Activity Does Not Exist: '{suspension.resource}'")

    _step(execution_id, apply, {"kind": "task", "frame": frame})


def has_unclaimed(activity_arn: str, limit: int) -> int:
    """How many tasks of the activity wait for a poller (at most `limit`): what a waiting poll checks."""
    return len(TaskToken.objects.unclaimed(activity_arn).values_list("pk", flat=True)[:limit])


def claim_activity_task(activity_arn: str, worker_name: str | None = None) -> tuple[str, str] | None:
    """One claim attempt of GetActivityTask: (taskToken, input JSON text) of the oldest task of the
    activity that no worker has taken, or None when there is none. Never gives a task to two pollers:
    the claim is a conditional UPDATE of `started_at` from null."""
    for _ in range(10):  # a task another poller took, or whose execution ended meanwhile: the next one
        candidate = TaskToken.objects.unclaimed(activity_arn).values_list(
            "pk", "token", "execution_id", "frame", "heartbeat_seconds").first()
        if candidate is None:
            return None
        pk, token, execution_id, frame, heartbeat = candidate
        started = now()
        due = None if heartbeat is None else _datetime(started + heartbeat)
        # Committed on its own, before the step: a claim holds no lock while the step waits for the
        # execution's row, which a step closing this token may hold (no lock-order deadlock).
        claimed = TaskToken.objects.filter(pk=pk, status=TokenStatus.OPEN, started_at=None).update(
            started_at=_datetime(started), worker_name=(worker_name or "")[:80], heartbeat_due_at=due)
        if claimed != 1:
            continue
        if due is not None:
            queue.enqueue("check_token", pk, due.timestamp(), run_after=_real(due.timestamp()))
        task_input = _record_started(execution_id, frame, token, worker_name)
        if task_input is not None:
            return token, task_input
    return None


def _record_started(execution_id: int, frame: int, token: str, worker_name: str | None) -> str | None:
    """ActivityStarted, in one step; the task's input as JSON text, or None if it no longer waits."""
    handed: list[str] = []

    def apply(ex, execution):
        suspension = ex.suspension(frame)
        if suspension is None or suspension.kind != "task" or suspension.task_token != token:
            return False
        ex.task_started(frame, worker_name=worker_name)
        handed.append(jsontext.dumps(suspension.parameters))

    _step(execution_id, apply)
    return handed[0] if handed else None


def activity_tasks(activity: Activity, *, open_limit: int = 100, recent_limit: int = 20):
    """The activity's open tasks (oldest first) and its recently ended ones (newest first), for the
    Activities page."""
    rows = TaskToken.objects.filter(kind=TokenKind.ACTIVITY, resource=arn("activity", activity.name))
    rows = rows.select_related("execution", "execution__machine")
    open_tasks = list(rows.filter(status=TokenStatus.OPEN).order_by("created_at", "id")[:open_limit])
    recent = list(rows.exclude(status=TokenStatus.OPEN).order_by("-closed_at", "-id")[:recent_limit])
    return open_tasks, recent
