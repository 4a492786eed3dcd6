"""Task tokens and activities: a Task waiting for a callback or for an activity worker costs one
`TaskToken` row (designer/runtime/tokens.py, designer/runtime/activities.py); activities and their tags.
Re-exported by designer/models.py, where Django and the rest of Stepwise find them."""

from django.conf import settings
from django.db import models


def arn(kind: str, *parts: str) -> str:
    """As designer.models.arn (that module imports this one, so it cannot be imported from here)."""
    return ":".join(["arn:aws:states", settings.STEPWISE_REGION, settings.STEPWISE_ACCOUNT_ID, kind, *parts])


# -- callbacks: task tokens (designer/runtime/tokens.py) -------------------------------------------
class TokenStatus(models.TextChoices):
    OPEN = "OPEN"  # the Task waits for SendTaskSuccess/Failure
    SUCCEEDED = "SUCCEEDED"  # answered by SendTaskSuccess
    FAILED = "FAILED"  # answered by SendTaskFailure, or the request failed
    TIMED_OUT = "TIMED_OUT"  # its TimeoutSeconds or HeartbeatSeconds ran out
    CLOSED = "CLOSED"  # its task was withdrawn: execution stopped, timed out, ended, branch aborted


class TokenKind(models.TextChoices):
    CALLBACK = "callback"  # a `.waitForTaskToken` Task: its request carries the token
    ACTIVITY = "activity"  # an activity task: a worker takes it (and its token) with GetActivityTask


class TaskTokenQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=TokenStatus.OPEN)

    def unclaimed(self, activity_arn: str):
        """The open tasks of an activity that no worker has taken yet, oldest first (the poll's
        index: resource, status, started_at, created_at)."""
        return self.filter(kind=TokenKind.ACTIVITY, resource=activity_arn, status=TokenStatus.OPEN,
                           started_at=None).order_by("created_at", "id")


class TaskToken(models.Model):
    """A `.waitForTaskToken` Task waiting for its answer: one row however long it waits. The token is
    never reused (unique, 256 random bits); a closed row stays so a late answer gets TaskTimedOut."""

    token = models.CharField(max_length=1024, unique=True)
    execution = models.ForeignKey("designer.Execution", on_delete=models.CASCADE, related_name="task_tokens")
    frame = models.PositiveIntegerField()
    state_name = models.CharField(max_length=80)
    resource = models.CharField(max_length=256)
    status = models.CharField(max_length=10, choices=TokenStatus.choices, default=TokenStatus.OPEN)
    created_at = models.DateTimeField()
    timeout_seconds = models.FloatField(null=True, blank=True)
    heartbeat_seconds = models.FloatField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    heartbeat_due_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    kind = models.CharField(max_length=8, choices=TokenKind.choices, default=TokenKind.CALLBACK)
    # An activity task: when a worker took it with GetActivityTask, and the name it gave.
    started_at = models.DateTimeField(null=True, blank=True)
    worker_name = models.CharField(max_length=80, blank=True, default="")

    objects = TaskTokenQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # pending_tasks(): the open tokens, oldest first, without reading the closed ones.
            models.Index(fields=["status", "created_at"], name="designer_token_status_created"),
            models.Index(fields=["execution", "status"], name="designer_token_execution"),
            # GetActivityTask: the oldest task of an activity that no worker has taken.
            models.Index(fields=["resource", "status", "started_at", "created_at"],
                         name="designer_token_activity_poll"),
        ]

    def __str__(self):
        return f"{self.state_name} {self.kind} token ({self.status})"


# -- activities (designer/runtime/activities.py) ---------------------------------------------------
class Activity(models.Model):
    """An activity: work done by workers that poll for it (GetActivityTask). Its ARN is made of its
    name, so a Task that names a deleted activity finds nothing (ActivityScheduleFailed)."""

    name = models.CharField(max_length=80, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "activities"

    def __str__(self):
        return self.name

    @property
    def arn(self) -> str:
        return arn("activity", self.name)


class ActivityTag(models.Model):
    """A tag on an activity (CreateActivity's tags, TagResource / ListTagsForResource)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=256, blank=True, default="")

    class Meta:
        ordering = ["activity", "key"]
        constraints = [models.UniqueConstraint(fields=["activity", "key"], name="unique_activity_tag_key")]

    def __str__(self):
        return f"{self.key}={self.value}"
