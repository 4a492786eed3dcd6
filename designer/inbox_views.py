"""The inbox: every open task the signed-in user may act on. My tasks are the approvals addressed to
them (or claimed by them) that no one else claimed; the Group queue is what others may take (for staff,
every approval and every plain `.waitForTaskToken` token, from runtime.pending_tasks()); Done is what
was decided. As viewflow has inbox, queue and archive."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from designer import runtime
from designer.approval_text import render_message
from designer.approval_views import client_facts
from designer.models import Approval, ApprovalStatus, TaskToken, TokenStatus

TABS = (("mine", "My tasks"), ("queue", "Group queue"), ("done", "Done"))
SHOWN = 200


def inbox_count(request) -> dict:
    """Context processor: the top bar's count of tasks waiting for the user (one indexed query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_count": runtime.approvals_waiting_for(user).count()}


def _queue(user):
    approvals = Approval.objects.open().filter(token__status=TokenStatus.OPEN)
    mine = runtime.approvals_waiting_for(user).values("pk")
    if user.is_staff:
        return approvals.exclude(pk__in=mine)
    return approvals.addressed_to(user).exclude(pk__in=mine)  # claimed by someone else


def inbox(request):
    runtime.close_ended_approvals()
    tab = request.GET.get("tab", "mine")
    if tab not in dict(TABS):
        tab = "mine"
    related = ("execution", "execution__machine", "token", "claimed_by", "decided_by")
    user = request.user
    tokens = []
    if tab == "mine":
        approvals = runtime.approvals_waiting_for(user)
    elif tab == "queue":
        approvals = _queue(user)
        if user.is_staff:
            tokens = list(runtime.pending_tasks().filter(approval__isnull=True)[:SHOWN])
    else:
        approvals = Approval.objects.exclude(status=ApprovalStatus.OPEN)
        if not user.is_staff:
            approvals = approvals.filter(decided_by=user)
    approvals = approvals.select_related(*related).prefetch_related("recipients__user")
    order = ("-decided_at", "-id") if tab == "done" else ("created_at", "id")
    approvals = approvals.order_by(*order)
    rows = [{"approval": approval, "message_html": render_message(approval.message),
             "may_act": tab != "done" and runtime.may_act_on_approval(user, approval)}
            for approval in approvals[:SHOWN]]
    actionable = [row["approval"] for row in rows if row["may_act"]]
    return render(request, "designer/inbox.html", {
        "tabs": TABS, "tab": tab, "rows": rows, "tokens": tokens,
        "bulk_choices": _common_choices(actionable),
        "delegates": (get_user_model().objects.filter(is_active=True).exclude(pk=user.pk)
                      .order_by("username").values_list("username", flat=True)[:SHOWN]
                      if actionable else []),
        "counts": {"mine": runtime.approvals_waiting_for(user).count(),
                   "queue": _queue(user).count() + (runtime.pending_tasks().filter(approval__isnull=True)
                                                    .count() if user.is_staff else 0)},
    })


def _common_choices(approvals) -> list[str]:
    """The choices every actionable approval offers (Approve and Reject unless they differ): what
    a bulk action may apply to all of them."""
    if not approvals:
        return []
    names = [choice["name"] for choice in approvals[0].choices]
    for approval in approvals[1:]:
        names = [name for name in names if approval.choice(name) is not None]
    return names


def _back(request):
    tab = request.POST.get("tab")
    return redirect(reverse("inbox") + (f"?tab={tab}" if tab in dict(TABS) else ""))


@require_POST
def claim(request, pk):
    try:
        runtime.claim_approval(pk, request.user)
        messages.success(request, "Claimed: it is in My tasks, and no one else's.")
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    return _back(request)


@require_POST
def release(request, pk):
    try:
        runtime.release_approval(pk, request.user)
        messages.success(request, "Released to the group queue.")
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    return _back(request)


@require_POST
def delegate(request, pk):
    to = request.POST.get("to", "").strip()
    try:
        runtime.delegate_approval(pk, request.user, to)
        messages.success(request, f"Delegated to {to}: it is theirs now.")
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    return _back(request)


@require_POST
def bulk_decide(request):
    """One choice and comment for every selected approval; each is decided on its own, so one already
    decided (or not the user's) is reported and the others still go through."""
    choice, comment = request.POST.get("choice", ""), request.POST.get("comment", "").strip()
    ids = [int(pk) for pk in request.POST.getlist("approval") if pk.isdigit()][:SHOWN]
    if not ids:
        messages.error(request, "Select the tasks to decide first.")
        return _back(request)
    decided, problems = 0, []
    for pk in ids:
        try:
            runtime.decide_approval(pk, choice, request.user, channel="inbox", comment=comment,
                                    **client_facts(request))
            decided += 1
        except runtime.StepwiseError as error:
            problems.append(f"#{pk}: {error.message}")
    if decided:
        messages.success(request, f"{choice}: {decided} task{'s' if decided != 1 else ''}.")
    for problem in problems:
        messages.error(request, problem)
    return _back(request)


@require_POST
def decide(request, pk):
    """Approve, reject or another choice, from the inbox or the execution page (`next`)."""
    approval = get_object_or_404(Approval, pk=pk)
    choice = request.POST.get("choice", "")
    try:
        channel = "execution" if request.POST.get("channel") == "execution" else "inbox"
        runtime.decide_approval(approval.pk, choice, request.user, channel=channel,
                                comment=request.POST.get("comment", "").strip(), **client_facts(request))
        messages.success(request, f"{choice}: {approval.subject}")
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    if request.POST.get("channel") == "execution":
        return redirect("execution", approval.execution_id)
    return _back(request)


@require_POST
def answer_token(request, pk):
    """Staff: a plain token's JSON result (SendTaskSuccess) or error (SendTaskFailure) from the inbox."""
    if not request.user.is_staff:
        messages.error(request, "Only staff may answer other tasks.")
        return _back(request)
    token = get_object_or_404(TaskToken, pk=pk)
    try:
        if request.POST.get("outcome") == "failure":
            runtime.send_task_failure(token.token, request.POST.get("error") or None,
                                      request.POST.get("cause") or None)
        else:
            runtime.send_task_success(token.token, request.POST.get("output", ""))
        messages.success(request, f"Answered {token.state_name}.")
    except runtime.StepwiseError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return _back(request)
