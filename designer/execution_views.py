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

import json
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode

from designer import document_search, graph, step_details
from designer.documents import printable, show_details
from designer.models import Execution, ExecutionStatus, HistoryEvent, StateMachine

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
    # A search that cannot run is shown with its message at the box (200, as Django's form views do).
    return render(request, "designer/execution_list.html", context)


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


# -- one execution: history pages, step details, replay ------------------------------------------
EVENTS_PAGE = 500


def execution_events(request, pk):
    """A page of the history table's rows, rendered as the page renders them: {"html", "next",
    "count"} for ?after=<seq> (exclusive), ?before=<seq> (exclusive), ?type=, ?state=. `next` is the
    seq to ask `after=` for the following page, null at the end."""
    execution = get_object_or_404(Execution.objects.only("pk"), pk=pk)
    try:
        after = int(request.GET.get("after") or 0)
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        return JsonResponse({"error": "after and before are event ids (whole numbers)"}, status=400)
    events = _filtered_events(execution, request.GET).filter(seq__gt=after)
    if before is not None:
        events = events.filter(seq__lt=before)
    page = list(events.order_by("seq")[:EVENTS_PAGE + 1])
    more = len(page) > EVENTS_PAGE
    page = page[:EVENTS_PAGE]
    html = render_to_string("designer/_event_rows.html",
                            {"events": [event_row(event) for event in page], "execution": execution})
    return JsonResponse({"html": html, "count": len(page), "next": page[-1].seq if more else None})


def _filtered_events(execution, parameters):
    events = HistoryEvent.objects.filter(execution=execution)
    if parameters.get("type"):
        events = events.filter(type=parameters["type"])
    if parameters.get("state"):
        events = events.filter(details__name=parameters["state"])
    return events


def event_row(event) -> dict:
    return {"seq": event.seq, "type": event.type, "name": event.name and printable(event.name),
            "timestamp": event.timestamp, "details": show_details(event.details)}


def history_context(execution, parameters, event_count: int) -> dict:
    """The execution page's history: filtered (?type=, ?state=) its first page of matches and a
    "Load more" link; unfiltered, the first and last EVENTS_PAGE events and a "Load more" link
    for the gap between them (25,000 events must not freeze the page)."""
    chosen = {"type": parameters.get("type", ""), "state": parameters.get("state", "")}
    context = {"event_filter": chosen, **event_filters(execution)}
    if any(chosen.values()):
        page = list(_filtered_events(execution, chosen).order_by("seq")[:EVENTS_PAGE + 1])
        first, last = page[:EVENTS_PAGE], []
        gap_after = first[-1].seq if len(page) > EVENTS_PAGE else None
        gap_before, left_out = None, None
    elif event_count <= 2 * EVENTS_PAGE:
        first, last = list(execution.events.order_by("seq")), []
        gap_after = gap_before = left_out = None
    else:
        first = list(execution.events.order_by("seq")[:EVENTS_PAGE])
        last = list(execution.events.order_by("-seq")[:EVENTS_PAGE])[::-1]
        gap_after, gap_before = first[-1].seq, last[0].seq
        left_out = event_count - len(first) - len(last)
    all_events = HistoryEvent.objects.filter(execution=execution)
    return {**context,
            "events": [event_row(event) for event in first],
            "later_events": [event_row(event) for event in last],
            "events_left_out": left_out,
            "gap_after": gap_after,
            "gap_before": gap_before,
            "filtered_history": any(chosen.values()),
            # The live view carries on from the last event the page has, filtered or not.
            "last_seq": all_events.order_by("-seq").values_list("seq", flat=True).first() or 0,
            "first_seq": all_events.order_by("seq").values_list("seq", flat=True).first() or 0}


def failed_state(execution) -> str | None:
    """The step the error banner jumps to: the last state that failed (by the graph's rules)."""
    events = HistoryEvent.objects.filter(execution=execution).order_by("seq")
    statuses = graph.state_statuses(
        events.values_list("seq", "type", "previous_event_id", "details__name").iterator(), execution.status)
    failed = [name for name, status in statuses.items() if status == "failed" and isinstance(name, str)]
    return failed[-1] if failed else None


def event_filters(execution) -> dict:
    """The history filter's choices: the event types and state names this execution has."""
    events = HistoryEvent.objects.filter(execution=execution)
    types = sorted(events.values_list("type", flat=True).distinct()[:100])
    states = sorted(name for name in events.filter(type__endswith="StateEntered")
                    .values_list("details__name", flat=True).distinct()[:500] if isinstance(name, str))
    return {"event_types": types, "state_names": states}


def state_detail(request, pk, name):
    execution = get_object_or_404(Execution.objects.only("pk", "status"), pk=pk)
    until = request.GET.get("seq", "")
    details = step_details.state_details(execution, name, until_seq=int(until) if until.isdigit() else None)
    if details is None:
        return JsonResponse({"error": f"The state {name[:80]!r} was not entered in this execution."},
                            status=404)
    return JsonResponse(details)


def statuses_at(request, pk):
    """Replay: each state's status once event ?seq= had happened (the graph's own rules,
    graph.state_statuses), and the execution's status then (RUNNING until its last event)."""
    execution = get_object_or_404(Execution.objects.only("pk", "status", "event_count"), pk=pk)
    try:
        seq = int(request.GET.get("seq", ""))
    except ValueError:
        return JsonResponse({"error": "seq must be an event id"}, status=400)
    events = HistoryEvent.objects.filter(execution=execution, seq__lte=seq).order_by("seq")
    last = (HistoryEvent.objects.filter(execution=execution).order_by("-seq")
            .values_list("seq", flat=True).first())
    status = execution.status if last is None or seq >= last else "RUNNING"
    statuses = graph.state_statuses(
        events.values_list("seq", "type", "previous_event_id", "details__name").iterator(), status)
    return JsonResponse({"seq": seq, "status": status, "states": statuses})


def event_json(event: HistoryEvent) -> str:
    return json.dumps(event.to_aws(), default=lambda moment: moment.isoformat())


def events_after(execution_id: int, seq: int, count: int = 200) -> tuple[int, str]:
    """The next `count` events after `seq` as JSON (joined), and the last one's seq (0: none left)."""
    events = list(HistoryEvent.objects.filter(execution_id=execution_id, seq__gt=seq).order_by("seq")[:count])
    return (events[-1].seq if events else 0), ",".join(event_json(event) for event in events)


def streamed_history(execution: Execution, filename: str, head: str = "{") -> StreamingHttpResponse:
    """A JSON download `head` + `"events": [...]}` of the whole history, sent as it is read (25,000 events
    of up to 256 KiB each would not fit in memory at once). An async iterator: daphne would read a sync
    one to the end before sending anything."""

    async def chunks():
        yield head + '"events": ['
        seq = 0
        while True:
            last, batch = await sync_to_async(events_after)(execution.pk, seq)
            if not last:
                break
            yield ("," if seq else "") + batch
            seq = last
        yield "]}"

    return StreamingHttpResponse(
        chunks(), content_type="application/json; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, filename),
                 "X-Content-Type-Options": "nosniff"})


def export_execution(request, pk):
    """The execution as DescribeExecution shows it and its whole history as GetExecutionHistory lists
    it, in one JSON download."""
    execution = get_object_or_404(Execution.objects.select_related("machine", "map_run"), pk=pk)
    description = json.dumps(execution.to_dict(), default=lambda moment: moment.isoformat())
    return streamed_history(execution, f"{execution.name}-export.json",
                            head='{"execution": ' + printable(description) + ", ")
