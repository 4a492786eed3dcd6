"""Human approvals: a Task on `arn:aws:states:::stepwise:approval.waitForTaskToken`.

Its request (made where every `.waitForTaskToken` Task makes one, designer/runtime/attempts.py) records
an `Approval` beside the Task's token and emails each approver; the Task then waits on its token like
any callback. A decision is SendTaskSuccess {outcome, comment, approver} or, for a failing choice
(Reject by default), SendTaskFailure with the approval's error (`Approval.Rejected` unless set). The
approval row is locked while deciding, so of two approvers deciding at once one wins and the other is
told who decided; the token's own conditional update guards the Task the same way."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from designer.approval_models import (
    Approval,
    ApprovalAudit,
    ApprovalRecipient,
    ApprovalStatus,
    AuditAction,
)
from designer.models import AttemptStatus, ExecutionStatus, TaskAttempt, TaskToken, TokenStatus
from designer.runtime.errors import StepwiseError, ValidationException
from designer.runtime.tokens import TaskTimedOut, send_task_failure, send_task_success
from engine import jsontext

log = logging.getLogger(__name__)

RESOURCE = "arn:aws:states:::stepwise:approval.waitForTaskToken"
_RESOURCE = re.compile(r"^arn:aws[a-zA-Z-]*:states:[a-z0-9-]*:\d{0,12}:stepwise:approval\.waitForTaskToken$")
REJECTED = "Approval.Rejected"
INVALID = "Approval.InvalidParameters"
DEFAULT_CHOICES = [{"name": "Approve", "fail": False, "error": None},
                   {"name": "Reject", "fail": True, "error": None}]
MAX_APPROVERS = 50
MAX_COMMENT = 4000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AlreadyDecided(StepwiseError):
    def __init__(self, approval: Approval):
        when = approval.decided_at.strftime("%Y-%m-%d %H:%M:%S %Z") if approval.decided_at else "?"
        super().__init__(f"Already decided: {approval.decision} by {approval.decided_by_name} at {when}.")
        self.approval = approval


class TaskEnded(StepwiseError):
    """The Task no longer waits: its execution was stopped or ended, or the Task timed out."""


class NotAllowed(StepwiseError):
    pass


def is_approval(resource: str) -> bool:
    return isinstance(resource, str) and _RESOURCE.match(resource) is not None


# -- the request -------------------------------------------------------------------------------------
def _text(parameters: dict, name: str, limit: int, required: bool = False) -> str:
    value = parameters.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise ValueError(f"{name} must be a{' non-empty' if required else ''} string of at most {limit} "
                         "characters.")
    return value


def _choices(value: Any) -> list[dict]:
    if value is None:
        return [dict(choice) for choice in DEFAULT_CHOICES]
    if not isinstance(value, list) or not 1 <= len(value) <= 10:
        raise ValueError("Choices must be a list of 1 to 10 names or {Name, Fail, Error} objects.")
    choices = []
    for item in value:
        if isinstance(item, str):
            item = {"Name": item, "Fail": item == "Reject"}
        if (not isinstance(item, dict) or not isinstance(item.get("Name"), str)
                or not 0 < len(item["Name"]) <= 80 or not isinstance(item.get("Fail", False), bool)
                or not isinstance(item.get("Error"), str | None) or len(item.get("Error") or "") > 256):
            raise ValueError("Each choice is a name (at most 80 characters) or {Name, Fail, Error}.")
        choices.append({"name": item["Name"], "fail": item.get("Fail", False), "error": item.get("Error")})
    if len({choice["name"] for choice in choices}) != len(choices):
        raise ValueError("Choices must have different names.")
    return choices


def _recipients(value: Any) -> list[tuple[Any, str]]:
    """(user or None, address) for each approver: a username, or an address (a user who has it, if any)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_APPROVERS:
        raise ValueError(f"Approvers must be 1 to {MAX_APPROVERS} usernames or email addresses.")
    users = get_user_model().objects
    found = []
    for name in value:
        if not isinstance(name, str):
            raise ValueError("Approvers must be usernames or email addresses.")
        if "@" in name:
            if _EMAIL.fullmatch(name) is None:
                raise ValueError(f"Approver {name!r} is not an email address.")
            found.append((users.filter(email__iexact=name, is_active=True).order_by("id").first(), name))
        else:
            user = users.filter(username=name, is_active=True).first()
            if user is None:
                raise ValueError(f"Approver {name!r} is no active user.")
            found.append((user, ""))
    return found


def request(attempt: TaskAttempt, parameters: Any) -> tuple[str, Any, Any]:
    """The approval Task's request: record the approval and email its approvers. Returns what
    attempts.call_function returns: ("ok", the TaskSubmitted output, None) or (status, error, cause)."""
    try:
        if not isinstance(parameters, dict):
            raise ValueError("The Parameters must be an object with Approvers and Subject.")
        subject = _text(parameters, "Subject", 200, required=True)
        message = _text(parameters, "Message", 20000)
        reject_error = _text(parameters, "RejectError", 256) or REJECTED
        choices = _choices(parameters.get("Choices"))
        approvers = _recipients(parameters.get("Approvers"))
        timeout = parameters.get("TimeoutSeconds")
        if timeout is not None and (type(timeout) is not int or timeout <= 0):
            raise ValueError("TimeoutSeconds must be a positive integer.")
    except ValueError as problem:
        return AttemptStatus.FAILED, INVALID, str(problem)
    with transaction.atomic():
        token = (TaskToken.objects.open().filter(execution_id=attempt.execution_id, frame=attempt.frame)
                 .order_by("-id").first())
        if token is None:  # answered or withdrawn before the request ran: nothing to ask
            return AttemptStatus.FAILED, TaskTimedOut.__name__, "The task no longer waits."
        due = token.timeout_at
        if timeout is not None:
            mine = token.created_at + timedelta(seconds=timeout)
            due = mine if due is None else min(due, mine)
        approval = Approval.objects.create(
            token=token, execution_id=attempt.execution_id, state_name=token.state_name, subject=subject,
            message=message, choices=choices, reject_error=reject_error, created_at=timezone.now(),
            due_at=due)
        ApprovalRecipient.objects.bulk_create(
            ApprovalRecipient(approval=approval, user=user, email=email, nonce=secrets.token_urlsafe(32))
            for user, email in approvers)
    from designer.approval_mail import send_approval_emails

    emailed = send_approval_emails(approval)
    names = [email or user.get_username() for user, email in approvers]
    return "ok", {"ApprovalId": approval.pk, "Approvers": names, "Emailed": emailed}, None


# -- deciding ----------------------------------------------------------------------------------------
def sync_closed() -> int:
    """Approvals whose Task ended without a decision (timed out, execution stopped) are closed."""
    ended = Approval.objects.open().exclude(token__status=TokenStatus.OPEN)
    return ended.update(status=ApprovalStatus.CLOSED)


def ended_reason(approval: Approval) -> str:
    token, execution = approval.token, approval.execution
    if execution.status == ExecutionStatus.ABORTED:
        return "The execution was stopped: this approval no longer decides anything."
    if token.status == TokenStatus.TIMED_OUT:
        return "The approval's due time passed: the task timed out."
    if execution.status != ExecutionStatus.RUNNING:
        return f"The execution has ended ({execution.get_status_display().lower()})."
    return "The task no longer waits for this approval."


def may_act(user, approval: Approval) -> bool:
    """Addressed approvers and staff; an approval claimed by someone is theirs (and staff's) alone."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if approval.claimed_by_id is not None and approval.claimed_by_id != user.pk:
        return False
    return any(recipient.is_user(user) for recipient in approval.recipients.all())


def audit(approval: Approval, action: str, *, user=None, who: str = "", channel: str, decision: str = "",
          comment: str = "", detail: str = "", ip: str | None = None, user_agent: str = "") -> ApprovalAudit:
    if user is not None and not user.is_authenticated:
        user = None
    return ApprovalAudit.objects.create(
        approval=approval, action=action, user=user, who=who or (user.get_username() if user else ""),
        channel=channel, decision=decision, comment=comment[:MAX_COMMENT], detail=detail[:300], ip=ip or None,
        user_agent=user_agent[:300])


def decide(approval_id: int, choice_name: str, user, *, comment: str = "", channel: str,
           ip: str | None = None, user_agent: str = "") -> Approval:
    """Decide the approval as `user` chose: the Task gets its answer in the same transaction. Raises
    AlreadyDecided (naming who and when), TaskEnded, NotAllowed or ValidationException."""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise ValidationException(f"The comment must be at most {MAX_COMMENT} characters.")
    with transaction.atomic():
        approval = (Approval.objects.select_for_update().select_related("token", "execution")
                    .filter(pk=approval_id).first())
        if approval is None:
            raise ValidationException("No such approval.")
        if approval.status == ApprovalStatus.DECIDED:
            raise AlreadyDecided(approval)
        if approval.status == ApprovalStatus.CLOSED or approval.token.status != TokenStatus.OPEN:
            raise TaskEnded(ended_reason(approval))
        if not may_act(user, approval):
            raise NotAllowed("You are not an approver of this task.")
        choice = approval.choice(choice_name)
        if choice is None:
            raise ValidationException(f"{choice_name!r} is not one of this approval's choices.")
        approval.status = ApprovalStatus.DECIDED
        approval.decision, approval.comment = choice["name"], comment
        approval.decided_by, approval.decided_by_name = user, user.get_username()
        approval.decided_at, approval.decided_via = timezone.now(), channel
        approval.save()
        audit(approval, AuditAction.DECIDED, user=user, channel=channel, decision=choice["name"],
              comment=comment, ip=ip, user_agent=user_agent)
        answer = {"outcome": choice["name"], "comment": comment, "approver": user.get_username()}
        try:
            if choice["fail"]:
                send_task_failure(approval.token.token, choice["error"] or approval.reject_error,
                                  jsontext.dumps(answer))
            else:
                send_task_success(approval.token.token, jsontext.dumps(answer))
        except TaskTimedOut:
            raise TaskEnded(ended_reason(approval)) from None
    return approval


def claim(approval_id: int, user) -> Approval:
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval_id)
        if approval.status != ApprovalStatus.OPEN:
            raise TaskEnded("This approval is no longer open.")
        if not may_act(user, approval):
            raise NotAllowed("Claimed by someone else." if approval.claimed_by_id else "Not yours to claim.")
        approval.claimed_by, approval.claimed_at = user, timezone.now()
        approval.save(update_fields=["claimed_by", "claimed_at"])
        audit(approval, AuditAction.CLAIMED, user=user, channel="inbox")
    return approval


def release(approval_id: int, user) -> Approval:
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval_id)
        if approval.claimed_by_id not in (None, user.pk) and not user.is_staff:
            raise NotAllowed("Claimed by someone else.")
        approval.claimed_by, approval.claimed_at = None, None
        approval.save(update_fields=["claimed_by", "claimed_at"])
        audit(approval, AuditAction.RELEASED, user=user, channel="inbox")
    return approval


def delegate(approval_id: int, user, to_username: str) -> Approval:
    """Hand the approval to another user: it becomes theirs (claimed for them, so in their My tasks and
    no one else's), they are added as an approver if they were not one, and they get the email."""
    target = get_user_model().objects.filter(username=to_username, is_active=True).first()
    if target is None:
        raise ValidationException(f"{to_username!r} is no active user.")
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval_id)
        if approval.status != ApprovalStatus.OPEN:
            raise TaskEnded("This approval is no longer open.")
        if not may_act(user, approval):
            raise NotAllowed("Claimed by someone else." if approval.claimed_by_id
                             else "Not yours to delegate.")
        if target.pk == user.pk:
            raise ValidationException("Delegate to someone else (or claim it yourself).")
        added = None
        if not any(recipient.is_user(target) for recipient in approval.recipients.all()):
            added = ApprovalRecipient.objects.create(approval=approval, user=target,
                                                     nonce=secrets.token_urlsafe(32))
        approval.claimed_by, approval.claimed_at = target, timezone.now()
        approval.save(update_fields=["claimed_by", "claimed_at"])
        audit(approval, AuditAction.DELEGATED, user=user, channel="inbox",
              detail=f"to {target.get_username()}")
    if added is not None:
        from designer.approval_mail import send_approval_emails

        send_approval_emails(approval, only=[added.pk])
    return approval


def waiting_for(user):
    """The open approvals `user` may act on and that no one else claimed: the top bar's count."""
    addressed = Q(recipients__user=user) | Q(claimed_by=user)
    if user.email:
        addressed |= Q(recipients__email__iexact=user.email)
    mine = Approval.objects.filter(addressed).values("pk")
    return (Approval.objects.open().filter(token__status=TokenStatus.OPEN, pk__in=mine)
            .exclude(Q(claimed_by__isnull=False) & ~Q(claimed_by=user)))
