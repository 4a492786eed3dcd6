"""Approval emails and their links.

A link names a recipient row, a choice and that recipient's random nonce, signed (TimestampSigner, its
own salt) with an expiry no later than the Task's due time. It never carries the task token: a leaked
link decides nothing without the addressed user's session, and only a POST (with CSRF) decides
(designer/approval_views.py). It is single-use because the approval is decided once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from designer.approval_models import Approval, ApprovalAudit, ApprovalRecipient, AuditAction
from designer.approval_text import plain_message, render_message

log = logging.getLogger(__name__)
SALT = "stepwise.approval-link"


class BadLink(Exception):
    """Why a link is refused: `kind` is forged, expired or unknown; the page says which."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Link:
    recipient: ApprovalRecipient
    choice: str


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def link_expiry(approval: Approval) -> float:
    latest = approval.created_at.timestamp() + settings.STEPWISE_APPROVAL_LINK_MAX_AGE
    return latest if approval.due_at is None else min(latest, approval.due_at.timestamp())


def sign_link(recipient: ApprovalRecipient, choice: str, expires: float | None = None) -> str:
    expires = link_expiry(recipient.approval) if expires is None else expires
    return _signer().sign_object({"r": recipient.pk, "c": choice, "n": recipient.nonce, "e": int(expires)},
                                 compress=True)


def link_url(recipient: ApprovalRecipient, choice: str) -> str:
    return settings.STEPWISE_BASE_URL + reverse("approval-link", args=[sign_link(recipient, choice)])


def read_link(signed: str) -> Link:
    """The link's recipient and choice, or BadLink: forged (or tampered), expired, or unknown."""
    try:
        data = _signer().unsign_object(signed, max_age=settings.STEPWISE_APPROVAL_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise BadLink("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise BadLink("forged") from None
    if not isinstance(data, dict) or not {"r", "c", "n", "e"} <= data.keys():
        raise BadLink("forged")
    if time.time() >= data["e"]:
        raise BadLink("expired")
    recipient = (ApprovalRecipient.objects.select_related("approval", "approval__execution", "user")
                 .filter(pk=data["r"], nonce=data["n"]).first())
    if recipient is None or recipient.approval.choice(data["c"]) is None:
        raise BadLink("unknown")
    return Link(recipient, data["c"])


def send_approval_emails(approval: Approval, only: list[int] | None = None) -> int:
    """One HTML + text email to each recipient with an address (or to the `only` ones: a delegate);
    returns how many went out. A failure is recorded on the recipient (and in the audit) and the
    approval stays in the inbox."""
    sent = 0
    recipients = approval.recipients.select_related("user")
    if only is not None:
        recipients = recipients.filter(pk__in=only)
    for recipient in recipients:
        address = recipient.email or (recipient.user.email if recipient.user_id else "")
        if not address:
            recipient.send_error = "no email address"
            recipient.save(update_fields=["send_error"])
            continue
        context = {"approval": approval, "recipient": recipient,
                   "message_html": render_message(approval.message),
                   "message_text": plain_message(approval.message),
                   "links": [{"choice": choice["name"], "url": link_url(recipient, choice["name"])}
                             for choice in approval.choices],
                   "due_at": approval.due_at, "execution": approval.execution}
        mail = EmailMultiAlternatives(
            subject=approval.subject, body=render_to_string("designer/approval_email.txt", context),
            to=[address])
        mail.attach_alternative(render_to_string("designer/approval_email.html", context), "text/html")
        try:
            mail.send()
        except Exception as error:  # SMTP down, refused address: the inbox still has the approval
            log.warning("approval %s: the email to %s failed: %s", approval.pk, address, error)
            recipient.send_error = str(error)[:500]
            recipient.save(update_fields=["send_error"])
            ApprovalAudit.objects.create(approval=approval, who=address, channel="email",
                                         action=AuditAction.SENT, detail=f"failed: {error}"[:300])
            continue
        recipient.sent_at = timezone.now()
        recipient.save(update_fields=["sent_at"])
        ApprovalAudit.objects.create(approval=approval, who=address, channel="email", action=AuditAction.SENT,
                                     user=recipient.user)
        sent += 1
    return sent
