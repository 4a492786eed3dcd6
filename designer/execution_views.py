"""The executions lists (all machines, or one) and the light status poll that keeps their rows live.

Thin views over ExecutionQuerySet: newest first (top_level().listed()), keyset-paged on
(start_date, id) so that page 500 of 20,000 executions costs what page 1 costs (no OFFSET, no COUNT).

Why a poll and not a second WebSocket consumer: a list shows at most PAGE_SIZE rows, and what it needs
is "has any of these changed status, is there anything newer" — one indexed query by primary keys.
The live view's WebSocket machinery is keyed by execution and seq (watchers.py); a status change of
any execution would need a new cross-process signal, and in the embedded deployment a watcher would
poll the database anyway. The page polls only while it is visible and while it shows a running row
or is the first page (new rows appear there), every POLL_SECONDS.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from designer import document_search
from designer.models import Execution, ExecutionStatus, StateMachine

PAGE_SIZE = 50
POLL_SECONDS = 2
POLL_MAX_IDS = 200
# ?since=: the time-range filter's choices (the start date is within the last …).
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
         "30d": timedelta(days=30)}
SINCE_LABELS = {"": "Any time", "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days",
                "30d": "Last 30 days"}


def execution_list(request, name=None):
    machine = get_object_or_404(StateMachine, name=name) if name is not None else None
    context = _listing(request, machine)
    status = 400 if context["search_error"] else 200
    return render(request, "designer/execution_list.html", context, status=status)


def _listing(request, machine):
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "").upper()
    if status not in ExecutionStatus.values:
        status = ""
    since = request.GET.get("since", "")
    if since not in SINCE:
        since = ""
    executions = Execution.objects.top_level().listed(status or None)
    if machine is not None:
        executions = executions.of_machine(machine)
    if since:
        executions = executions.filter(start_date__gte=timezone.now() - SINCE[since])
    search_error = None
    if document_search.looks_like_document_query(query):
        try:
            executions = document_search.filter_executions(executions, document_search.parse(query))
        except document_search.SearchError as error:
            search_error = str(error)
            executions = executions.none()
    elif query:
        executions = executions.filter(name__icontains=query)
    cursor = _cursor(request.GET.get("before", ""))
    if cursor is not None:
        start, pk = cursor
        executions = executions.filter(Q(start_date__lt=start) | Q(start_date=start, id__lt=pk))
    # Only what the rows show: an input or output may be 256 KiB.
    rows = list(executions.select_related("machine", "revision")
                .only("name", "status", "start_date", "stop_date", "type", "machine__name",
                      "machine__type", "revision__number", "redrive_count")[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row.duration_text = _duration(row.start_date, row.stop_date)
    filters = {key: value for key, value in (("q", query), ("status", status), ("since", since)) if value}
    base = reverse("machine-executions", args=[machine.name]) if machine else reverse("executions")
    return {
        "machine": machine,
        "executions": rows,
        "query": query,
        "status": status,
        "since": since,
        "statuses": ExecutionStatus.choices,
        "since_choices": list(SINCE_LABELS.items()),
        "search_error": search_error,
        "filtered": bool(filters),
        "first_page": cursor is None,
        "first_url": _url(base, filters),
        "older_url": _url(base, {**filters, "before": _cursor_text(rows[-1])}) if more else None,
        "poll_url": reverse("execution-statuses"),
        "poll_seconds": POLL_SECONDS,
    }


def _url(base: str, parameters: dict) -> str:
    parameters = {key: value for key, value in parameters.items() if value}
    return f"{base}?{urlencode(parameters)}" if parameters else base


def _cursor_text(execution: Execution) -> str:
    return f"{execution.start_date.isoformat()}~{execution.pk}"


def _cursor(text: str) -> tuple[datetime, int] | None:
    start, _, pk = text.rpartition("~")
    try:
        moment = datetime.fromisoformat(start)
        number = int(pk)
    except ValueError:
        return None  # a bad cursor is the first page
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.utc)
    return moment, number


def execution_statuses(request):
    """The poll of the lists: {"executions": {id: {"status", "stop_date", "duration"}}, "newest": id}
    for ?ids=1,2,3 (at most POLL_MAX_IDS), and the newest top-level execution's id (of ?machine=)."""
    try:
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part][:POLL_MAX_IDS]
    except ValueError:
        return JsonResponse({"error": "ids must be execution ids separated by commas"}, status=400)
    found = Execution.objects.filter(pk__in=ids).values_list("pk", "status", "start_date", "stop_date")
    newest = Execution.objects.top_level().listed()
    if request.GET.get("machine"):
        newest = newest.filter(machine__name=request.GET["machine"])
    newest_id = newest.values_list("pk", flat=True).first()
    return JsonResponse({
        "executions": {str(pk): {"status": status, "stop_date": stop and stop.isoformat(),
                                 "duration": _duration(start, stop)}
                       for pk, status, start, stop in found},
        "newest": newest_id,
    })


def _duration(start, stop) -> str:
    if stop is None:
        return ""
    seconds = (stop - start).total_seconds()
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
