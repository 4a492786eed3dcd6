"""Stepwise's data: state machines (with revisions), executions, their history and Task attempts.

Models own data and how it is named (ARNs, `to_dict()`); querysets own lists. Nothing here changes
an execution's status: designer/runtime/ is the one place that does, one transaction per step.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from engine import details_key, to_aws


def arn(kind: str, *parts: str) -> str:
    """`arn:aws:states:<region>:<account>:<kind>:<part>:...` with the configured region and account."""
    return ":".join(["arn:aws:states", settings.STEPWISE_REGION, settings.STEPWISE_ACCOUNT_ID, kind, *parts])


class MachineType(models.TextChoices):
    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"


class StateMachineQuerySet(models.QuerySet):
    def search(self, text: str):
        """Machines whose name contains `text` (any case); all of them for an empty text."""
        return self.filter(name__icontains=text) if text else self

    def of_type(self, machine_type: str):
        return self.filter(type=machine_type) if machine_type in MachineType.values else self

    def with_execution_summary(self):
        """Each machine with its executions counted by status (`count_running`, `count_succeeded`,
        ..., `count_total`) and its latest execution's `last_status` and `last_start`, all in the
        one query. A Map Run's children are counted with their parent, not as the machine's own."""
        own = Q(executions__parent=None)
        counts = {f"count_{status.lower()}": Count("executions", filter=own & Q(executions__status=status))
                  for status in ExecutionStatus.values}
        latest = (Execution.objects.filter(machine=OuterRef("pk"), parent=None)
                  .order_by("-start_date", "-id"))
        return self.annotate(
            **counts, count_total=Count("executions", filter=own),
            last_status=Subquery(latest.values("status")[:1]),
            last_start=Subquery(latest.values("start_date")[:1]),
        )


class StateMachine(models.Model):
    name = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=8, choices=MachineType.choices, default=MachineType.STANDARD)
    definition = models.TextField(help_text="The Amazon States Language definition (JSON text).")
    role_arn = models.CharField(max_length=256, default="arn:aws:iam::123456789012:role/stepwise")
    # The number of the latest StateMachineRevision; executions pin the revision they started with.
    revision = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = StateMachineQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("machine", args=[self.name])

    @property
    def arn(self) -> str:
        return arn("stateMachine", self.name)

    @property
    def is_express(self) -> bool:
        return self.type == MachineType.EXPRESS

    def current_revision(self) -> "StateMachineRevision":
        return self.revisions.get(number=self.revision)


class StateMachineRevision(models.Model):
    """A definition as it was when executions started with it: editing a machine never changes
    what its running executions run."""

    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    definition = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["machine", "-number"]
        constraints = [models.UniqueConstraint(fields=["machine", "number"], name="unique_revision_number")]

    def __str__(self):
        return f"{self.machine.name} revision {self.number}"


class ExecutionStatus(models.TextChoices):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class ExecutionQuerySet(models.QuerySet):
    def running(self):
        return self.filter(status=ExecutionStatus.RUNNING)

    def finished(self):
        return self.exclude(status__in=[ExecutionStatus.RUNNING, ExecutionStatus.PENDING_REDRIVE])

    def recent(self, limit: int = 20):
        return self.listed().select_related("machine")[:limit]

    def of_machine(self, machine):
        return self.filter(machine=machine)

    def top_level(self):
        """The executions that were started, not a Map Run's children (listed with their Map Run)."""
        return self.filter(parent=None)

    def listed(self, status: str | None = None, redrive_filter: str | None = None):
        """Newest first, as ListExecutions and the pages list them; ListExecutions' statusFilter and
        redriveFilter (REDRIVEN: redriven at least once, NOT_REDRIVEN: never)."""
        executions = self
        if status:
            executions = executions.filter(status=status)
        if redrive_filter == "REDRIVEN":
            executions = executions.filter(redrive_count__gt=0)
        elif redrive_filter == "NOT_REDRIVEN":
            executions = executions.filter(redrive_count=0)
        return executions.order_by("-start_date", "-id")


class Execution(models.Model):
    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="executions")
    revision = models.ForeignKey(StateMachineRevision, on_delete=models.PROTECT, related_name="executions")
    type = models.CharField(max_length=8, choices=MachineType.choices, default=MachineType.STANDARD)
    name = models.CharField(max_length=80)
    arn = models.CharField(max_length=256, unique=True)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices,
                              default=ExecutionStatus.RUNNING)
    input = models.TextField(default="{}")
    # None and "" differ for AWS (no error vs an empty error name), hence null=True on text.
    output = models.TextField(null=True, blank=True)  # noqa: DJ001
    error = models.TextField(null=True, blank=True)  # noqa: DJ001
    cause = models.TextField(null=True, blank=True)  # noqa: DJ001
    start_date = models.DateTimeField()
    stop_date = models.DateTimeField(null=True, blank=True)
    redrive_count = models.PositiveIntegerField(default=0)
    redrive_date = models.DateTimeField(null=True, blank=True)
    # A DISTRIBUTED Map's iterations run as child executions of the execution that runs the Map.
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="children")
    # A child's Map Run (its definition is the run's ItemProcessor) and the parent's engine frame
    # that waits for it.
    map_run = models.ForeignKey("MapRun", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="executions")
    parent_frame = models.PositiveIntegerField(null=True, blank=True)
    # A finished child whose outcome the parent has taken (or no longer wants: it was withdrawn).
    reported = models.BooleanField(default=False)
    # Compare-and-swap counter: every step writes `version = v + 1 WHERE version = v`.
    version = models.PositiveIntegerField(default=0)
    # The engine's `Execution.to_snapshot()` after the last step (Standard and async Express).
    snapshot = models.JSONField(null=True, blank=True)
    # The snapshot before the step that ended the execution: what a redrive starts again from.
    last_running_snapshot = models.JSONField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    # Async Express runs in one worker from start to end; a lease says that worker is alive.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0, help_text="Starts of an async Express execution.")

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            # AWS: a Standard execution's name is unique for its state machine; Express names are not.
            models.UniqueConstraint(
                fields=["machine", "name"], condition=Q(type="STANDARD"),
                name="unique_standard_execution_name"),
        ]
        indexes = [models.Index(fields=["status", "-start_date"]),
                   models.Index(fields=["machine", "-start_date"]),
                   models.Index(fields=["parent", "reported", "status"]),
                   models.Index(fields=["map_run", "status"])]

    def __str__(self):
        return f"{self.machine.name}:{self.name}"

    def get_absolute_url(self):
        return reverse("execution", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status == ExecutionStatus.RUNNING

    @property
    def duration(self):
        return self.stop_date - self.start_date if self.stop_date else None

    @property
    def state_machine_arn(self) -> str:
        """A Map Run's child runs the machine `<machine>/<label>` (AWS names it so)."""
        if self.map_run_id is not None:
            return f"{self.machine.arn}/{self.map_run.label}"
        return self.machine.arn

    def to_dict(self) -> dict:
        """DescribeExecution's fields (dates as datetimes)."""
        data = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": self.input,
            "inputDetails": {"included": True},
            "redriveCount": self.redrive_count,
        }
        if self.stop_date:
            data["stopDate"] = self.stop_date
        if self.output is not None:
            data["output"] = self.output
            data["outputDetails"] = {"included": True}
        if self.error is not None:
            data["error"] = self.error
        if self.cause is not None:
            data["cause"] = self.cause
        if self.redrive_date:
            data["redriveDate"] = self.redrive_date
        if self.map_run_id is not None:
            data["mapRunArn"] = self.map_run.arn
        return data


class MapRunStatus(models.TextChoices):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


class MapRun(models.Model):
    """A DISTRIBUTED Map state's run: its iterations are child executions (`executions`).

    The parent execution's engine snapshot keeps the Map's own bookkeeping (concurrency, tolerance,
    results in item order); this row names the run, holds the definition its children run, and
    counts them. ARN: `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<uuid>`."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="map_runs")
    frame = models.PositiveIntegerField(help_text="The parent's engine frame that runs the Map state.")
    state_name = models.CharField(max_length=80)
    label = models.CharField(max_length=80, help_text="The Map's Label, or its state name.")
    arn = models.CharField(max_length=256, unique=True)
    status = models.CharField(max_length=10, choices=MapRunStatus.choices, default=MapRunStatus.RUNNING)
    execution_type = models.CharField(max_length=8, choices=MachineType.choices,
                                      default=MachineType.STANDARD)
    # The ItemProcessor as a definition of its own (with the query language it inherits).
    definition = models.TextField()
    max_concurrency = models.PositiveIntegerField(default=0, help_text="0: no limit.")
    tolerated_failure_count = models.PositiveIntegerField(default=0)
    tolerated_failure_percentage = models.FloatField(default=0.0)
    total = models.PositiveIntegerField(default=0, help_text="Items (or batches) to run.")
    # A hint for the parent to take finished children is queued (one at a time: see runtime).
    delivery_queued = models.BooleanField(default=False)
    start_date = models.DateTimeField()
    stop_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["execution", "frame", "status"])]

    def __str__(self):
        return self.arn.rsplit(":", 2)[-2]

    @property
    def state_machine_arn(self) -> str:
        return f"{self.execution.machine.arn}/{self.label}"

    def counts(self) -> dict:
        """AWS's itemCounts / executionCounts (one item per child execution here)."""
        by_status = dict(self.executions.order_by().values_list("status").annotate(n=models.Count("id")))
        started = sum(by_status.values())
        return {
            "pending": max(self.total - started, 0),
            "running": by_status.get(ExecutionStatus.RUNNING, 0),
            "succeeded": by_status.get(ExecutionStatus.SUCCEEDED, 0),
            "failed": by_status.get(ExecutionStatus.FAILED, 0),
            "timedOut": by_status.get(ExecutionStatus.TIMED_OUT, 0),
            "aborted": by_status.get(ExecutionStatus.ABORTED, 0),
            "total": self.total,
            "resultsWritten": 0,  # no ResultWriter: results go back to the parent
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        }

    def to_dict(self) -> dict:
        """DescribeMapRun's fields (dates as datetimes)."""
        counts = self.counts()
        data = {
            "mapRunArn": self.arn, "executionArn": self.execution.arn, "status": self.status,
            "startDate": self.start_date, "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": self.tolerated_failure_percentage,
            "toleratedFailureCount": self.tolerated_failure_count,
            "itemCounts": counts, "executionCounts": dict(counts), "redriveCount": 0,
        }
        if self.stop_date:
            data["stopDate"] = self.stop_date
        return data


class HistoryEvent(models.Model):
    """One AWS-shaped history event of a Standard execution; `seq` is the event's AWS id."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    previous_event_id = models.PositiveIntegerField(default=0)
    # The event's details object (the value under e.g. "taskScheduledEventDetails"), JSON values.
    details = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "seq"]
        constraints = [models.UniqueConstraint(fields=["execution", "seq"], name="unique_event_seq")]

    def __str__(self):
        return f"#{self.seq} {self.type}"

    @property
    def name(self) -> str | None:
        return (self.details or {}).get("name")

    def to_aws(self) -> dict:
        """The event as GetExecutionHistory returns it."""
        event = {
            "type": self.type, "id": self.seq, "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp.timestamp(),
        }
        key = details_key(self.type)
        if key is not None and self.details is not None:
            event[key] = self.details
        return to_aws(event)


class AttemptStatus(models.TextChoices):
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    # The worker running it stopped renewing its lease: the attempt failed, it is never re-run.
    LOST = "LOST"
    # Withdrawn before or while it ran (execution stopped, branch aborted): its result is discarded.
    ABANDONED = "ABANDONED"


class TaskAttemptQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=[AttemptStatus.SCHEDULED, AttemptStatus.RUNNING])


class TaskAttempt(models.Model):
    """One run of a Task state's resource, recorded before it starts so that it runs at most once."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="attempts")
    frame = models.PositiveIntegerField(help_text="The engine frame (top level, branch or iteration).")
    state_name = models.CharField(max_length=80)
    resource = models.CharField(max_length=256)
    attempt = models.PositiveIntegerField(default=0, help_text="Retries before this attempt.")
    status = models.CharField(max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.SCHEDULED)
    worker = models.CharField(max_length=128, blank=True, default="")
    timeout_seconds = models.FloatField(null=True, blank=True)
    scheduled_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(null=True, blank=True)  # noqa: DJ001
    error = models.TextField(null=True, blank=True)  # noqa: DJ001
    cause = models.TextField(null=True, blank=True)  # noqa: DJ001

    objects = TaskAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["execution", "id"]
        indexes = [models.Index(fields=["execution", "status"])]

    def __str__(self):
        return f"{self.state_name} attempt {self.attempt} ({self.status})"


# -- the AWS-compatible API (designer/api.py) ------------------------------------------------------
class AccessKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def revoke(self) -> int:
        """Revoke the keys not revoked yet (a revoked key keeps the moment it was revoked); returns how
        many were."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class AccessKey(models.Model):
    """An AWS-style access key of a Django user, for Signature Version 4 (designer/sigv4.py).

    SigV4 needs the secret itself on the server (it signs the request again and compares), so the
    secret is stored encrypted with a key derived from SECRET_KEY, not hashed: rotating SECRET_KEY
    makes every existing key unusable."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    access_key_id = models.CharField(max_length=32, unique=True)
    secret_encrypted = models.TextField(editable=False)
    description = models.CharField(max_length=200, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.access_key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user, description: str = "") -> tuple["AccessKey", str]:
        """A new key for `user`: returns (key, secret). The secret is shown once and never again."""
        from designer.sigv4 import encrypt_secret, new_key_pair

        key_id, secret = new_key_pair()
        key = cls.objects.create(user=user, access_key_id=key_id, secret_encrypted=encrypt_secret(secret),
                                 description=description)
        return key, secret

    def secret(self) -> str:
        from designer.sigv4 import decrypt_secret

        return decrypt_secret(self.secret_encrypted)

    @classmethod
    def find_active(cls, access_key_id: str) -> "AccessKey | None":
        """The active key with this id, with its user (what a signed API request is checked against).

        Read on every call, so a revoked key (or a deactivated user) is refused at once. The id is
        unique: no ORDER BY (the model's ordering made a third of this query's cost under load)."""
        matches = cls.objects.active().select_related("user").filter(access_key_id=access_key_id)
        return next(iter(matches.order_by()[:1]), None)

    def note_use(self, now) -> None:
        """Remember when the key was last used, to the minute: one UPDATE a minute, not one a request."""
        if self.last_used is None or now - self.last_used > timedelta(minutes=1):
            type(self).objects.filter(pk=self.pk).update(last_used=now)


class Tag(models.Model):
    """A tag on a state machine (TagResource / ListTagsForResource)."""

    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=256, blank=True, default="")

    class Meta:
        ordering = ["machine", "key"]
        constraints = [models.UniqueConstraint(fields=["machine", "key"], name="unique_tag_key")]

    def __str__(self):
        return f"{self.key}={self.value}"


class StateMachineVersion(models.Model):
    """An immutable, numbered snapshot of a state machine (PublishStateMachineVersion): it pins a
    revision. ARN: the machine's ARN + `:<number>`."""

    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    revision = models.ForeignKey(StateMachineRevision, on_delete=models.CASCADE, related_name="versions")
    description = models.CharField(max_length=256, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    # AWS never gives a deleted version's number to another version: deleted ones stay as markers.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["machine", "-number"]
        constraints = [models.UniqueConstraint(fields=["machine", "number"], name="unique_version_number")]

    def __str__(self):
        return f"{self.machine.name}:{self.number}"

    @property
    def arn(self) -> str:
        return f"{self.machine.arn}:{self.number}"


class StateMachineAlias(models.Model):
    """A name that routes executions to one or two versions by weight. ARN: the machine's ARN +
    `:<alias name>`. `routing` is `[{"version": <number>, "weight": <0-100>}, ...]`."""

    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=256, blank=True, default="")
    routing = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["machine", "name"]
        constraints = [models.UniqueConstraint(fields=["machine", "name"], name="unique_alias_name")]

    def __str__(self):
        return f"{self.machine.name}:{self.name}"

    @property
    def arn(self) -> str:
        return f"{self.machine.arn}:{self.name}"


class ExecutionOrigin(models.Model):
    """The version (and alias) an execution was started through, when it was not the machine itself
    (DescribeExecution's stateMachineVersionArn / stateMachineAliasArn; ListExecutions by either)."""

    execution = models.OneToOneField(Execution, on_delete=models.CASCADE, related_name="origin")
    version_arn = models.CharField(max_length=256, db_index=True)
    alias_arn = models.CharField(max_length=256, blank=True, default="", db_index=True)

    def __str__(self):
        return self.alias_arn or self.version_arn


class Draft(models.Model):
    """A machine's definition as one user is editing it in the designer, saved as they type: a reload,
    a closed tab or a second browser finds it. Any text is kept, an invalid one too (AWS Workflow
    Studio loses work it cannot validate); Save turns it into a revision."""

    machine = models.ForeignKey(StateMachine, on_delete=models.CASCADE, related_name="drafts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    definition = models.TextField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["machine", "user"],
                                               name="one_draft_per_machine_and_user")]

    def __str__(self):
        return f"{self.machine.name} draft of {self.user}"


# Human approvals (designer/approval_models.py), task tokens and activities (designer/task_models.py)
# live in modules of their own; imported here so that Django registers them with this app, and
# re-exported (they refer to Execution, above).
from designer.approval_models import (  # noqa: E402, F401
    Approval,
    ApprovalAudit,
    ApprovalRecipient,
    ApprovalStatus,
    AuditAction,
)
from designer.task_models import (  # noqa: E402, F401
    Activity,
    ActivityTag,
    TaskToken,
    TaskTokenQuerySet,
    TokenKind,
    TokenStatus,
)
