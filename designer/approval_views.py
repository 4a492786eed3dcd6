"""An approval email's links (designer/approval_mail.py). GET and HEAD only show what would be decided,
with a button; only a POST (CSRF) by the addressed user, signed in, decides. Mail scanners open links
(Safe Links, Mimecast, Proofpoint): whatever they fetch or submit without that session changes nothing.
Every page shown and every decision is in the approval's audit."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from designer import runtime
from designer.approval_mail import BadLink, read_link
from designer.approval_text import render_message
from designer.models import ApprovalStatus, AuditAction, TokenStatus

BAD_LINK = {
    "forged": (400, "This link is not valid",
               "It was not made by this server, or it was changed after it was sent. Use the link in the "
               "email exactly as it came, or find the task in your inbox."),
    "expired": (410, "This link has expired",
                "Approval links expire at the task's due time. If the task still waits, it is in your "
                "inbox."),
    "unknown": (404, "This approval does not exist", "It was deleted, or the link does not belong to it."),
}


def client_facts(request) -> dict:
    return {"ip": request.META.get("REMOTE_ADDR"), "user_agent": request.headers.get("User-Agent", "")}


def _page(request, status: int, title: str, text: str, approval=None):
    return render(request, "designer/approval_page.html",
                  {"title": title, "text": text, "approval": approval}, status=status)


@login_not_required  # a bad link gets its own page first; a good one asks for the sign-in below
@require_http_methods(["GET", "HEAD", "POST"])
def approval_link(request, signed):
    try:
        link = read_link(signed)
    except BadLink as bad:
        return _page(request, *BAD_LINK[bad.kind])
    recipient, approval = link.recipient, link.recipient.approval
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    facts = client_facts(request)
    if not recipient.is_user(request.user):
        runtime.approval_audit(approval, AuditAction.REFUSED, user=request.user, channel="email",
                               detail=f"link addressed to {recipient}", **facts)
        return _page(request, 403, "This link is addressed to someone else",
                     f"It was sent to {recipient}; you are signed in as {request.user.get_username()}. "
                     "Sign in as the addressee, or find your own tasks in your inbox.", approval)
    if approval.status == ApprovalStatus.DECIDED:
        return _already_decided(request, approval, facts)
    if approval.status == ApprovalStatus.CLOSED or approval.token.status != TokenStatus.OPEN:
        return _page(request, 409, "This task no longer waits", runtime.approval_ended_reason(approval),
                     approval)
    if request.method == "POST":
        try:
            runtime.decide_approval(approval.pk, link.choice, request.user, channel="email",
                                    comment=request.POST.get("comment", "").strip(), **facts)
        except runtime.AlreadyDecided as decided:
            return _already_decided(request, decided.approval, facts)
        except runtime.StepwiseError as error:
            return _page(request, 409, "Not decided", error.message, approval)
        return _page(request, 200, f"Decided: {link.choice}",
                     "Thank you. The execution goes on with your answer.", approval)
    runtime.approval_audit(approval, AuditAction.VIEWED, user=request.user, channel="email",
                           decision=link.choice, detail=request.method, **facts)
    return render(request, "designer/approval_confirm.html",
                  {"approval": approval, "choice": link.choice,
                   "message_html": render_message(approval.message)})


def _already_decided(request, approval, facts):
    runtime.approval_audit(approval, AuditAction.REFUSED, user=request.user, channel="email",
                           detail="already decided", **facts)
    when = approval.decided_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    # A second click is news, not an error (the issue: "already decided by X at T", not an error page):
    # 200, so that neither the browser nor a mail scanner reports a failure.
    return _page(request, 200, "Already decided",
                 f"{approval.decision} by {approval.decided_by_name} at {when}.", approval)
