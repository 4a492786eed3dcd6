"""Human approvals (designer/runtime/approvals.py): an approval is a `.waitForTaskToken` Task on
`arn:aws:states:::stepwise:approval.waitForTaskToken`, one row beside its TaskToken; its recipients are
who it was sent to (each with the random nonce their email links are bound to); its audit rows record
every view of a confirmation page and every decision. Imported by designer/models.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApprovalStatus(models.TextChoices):
    OPEN = "OPEN"  # waiting for a decision
    DECIDED = "DECIDED"  # someone chose; the Task got its answer
    CLOSED = "CLOSED"  # the Task ended without a decision: timed out, execution stopped or failed


class ApprovalQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=ApprovalStatus.OPEN)

    def addressed_to(self, user):
        """The approvals sent to `user`: by name, or to their email address."""
        addressed = Q(recipients__user=user)
        if user.email:
            addressed |= Q(recipients__email__iexact=user.email)
        return self.filter(addressed).distinct()


class Approval(models.Model):
    token = models.OneToOneField("designer.TaskToken", on_delete=models.CASCADE, related_name="approval")
    execution = models.ForeignKey("designer.Execution", on_delete=models.CASCADE, related_name="approvals")
    state_name = models.CharField(max_length=80)
    subject = models.CharField(max_length=200)
    message = models.TextField(blank=True)  # Markdown-ish; rendered escaped (designer/approval_text.py)
    choices = models.JSONField()  # [{"name": "Approve", "fail": false, "error": null}, ...]
    reject_error = models.CharField(max_length=256, default="Approval.Rejected")
    status = models.CharField(max_length=8, choices=ApprovalStatus.choices, default=ApprovalStatus.OPEN)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="claimed_approvals")
    claimed_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=80, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="decided_approvals")
    decided_by_name = models.CharField(max_length=254, blank=True)  # kept if the user is deleted
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_via = models.CharField(max_length=16, blank=True)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="designer_approval_status")]

    def __str__(self):
        return f"{self.subject} ({self.status})"

    def choice(self, name: str) -> dict | None:
        return next((choice for choice in self.choices if choice["name"] == name), None)


class ApprovalRecipient(models.Model):
    """One approver an approval was sent to: a user (by name or by their address) or a bare address."""

    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="approval_recipients")
    email = models.CharField(max_length=254, blank=True)
    nonce = models.CharField(max_length=43)  # in every link sent to this recipient; never the task token
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.email or self.user.get_username()

    def is_user(self, user) -> bool:
        if not user.is_authenticated:
            return False
        if self.user_id is not None:
            return self.user_id == user.pk
        return bool(user.email) and user.email.lower() == self.email.lower()


class AuditAction(models.TextChoices):
    SENT = "SENT"  # the email went out (or failed to)
    VIEWED = "VIEWED"  # a confirmation page was shown
    REFUSED = "REFUSED"  # a link or a decision was refused (expired, wrong recipient, decided ...)
    DECIDED = "DECIDED"
    CLAIMED = "CLAIMED"
    RELEASED = "RELEASED"
    DELEGATED = "DELEGATED"  # handed to another user (the detail names them)


class ApprovalAudit(models.Model):
    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="audit")
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    who = models.CharField(max_length=254, blank=True)  # the user's name or the recipient's address
    channel = models.CharField(max_length=16)  # email, inbox, execution
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    decision = models.CharField(max_length=80, blank=True)
    comment = models.TextField(blank=True)
    detail = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.action} {self.who} {self.at:%Y-%m-%d %H:%M:%S}"
