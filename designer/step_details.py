"""Step details: what one state of an execution did, from its history (the side panel of the
execution page, static/js/step-details.js, asks /executions/<id>/states/<name>.json).

Only StateEntered/StateExited name their state; every other event belongs to the entry its
previousEventId chain leads to, as on the graph (graph.StatusTracker decides that here too). A state
entered many times (in a loop, a Map's iterations) has one visit per entry: the page lists the last
VISITS_SHOWN. Documents are cut as the pages cut them (documents.show) and link to their event's JSON.
"""

from __future__ import annotations

import json

from django.urls import reverse

from designer import graph
from designer.documents import show
from designer.models import Execution, HistoryEvent

VISITS_SHOWN = 20
DOCUMENT_CHARS = 16 * 1024  # per document in the panel; the event's download has the rest
EVENTS_PER_VISIT = 200
_FAILURE_KEYS = ("error", "cause")


def state_details(execution: Execution, name: str, *, until_seq: int | None = None) -> dict | None:
    """The visits of state `name` (None: it was never entered), as of event `until_seq` if given (replay)."""
    light = HistoryEvent.objects.filter(execution=execution).order_by("seq")
    if until_seq is not None:
        light = light.filter(seq__lte=until_seq)
    tracker = graph.StatusTracker()
    tracker.feed(light.values_list("seq", "type", "previous_event_id", "details__name").iterator())
    wanted = [index for index, entry in enumerate(tracker.entries) if entry["name"] == name]
    if not wanted:
        return None
    shown = set(wanted[-VISITS_SHOWN:])
    seqs: dict[int, list[int]] = {index: [] for index in shown}
    for seq, index in tracker.owner.items():
        if index in shown and len(seqs[index]) < EVENTS_PER_VISIT:
            seqs[index].append(seq)
    events = {event.seq: event for event in HistoryEvent.objects.filter(
        execution=execution, seq__in=[seq for owned in seqs.values() for seq in owned])}
    statuses = _visit_statuses(tracker, execution.status)
    visits = [_visit(execution, [events[seq] for seq in sorted(seqs[index]) if seq in events],
                     statuses[index]) for index in sorted(shown)]
    return {"name": name, "visits": visits, "visit_count": len(wanted),
            "visits_left_out": len(wanted) - len(shown)}


def _starts_work(event_type: str) -> bool:
    return event_type.endswith(("Scheduled", "Started")) and not event_type.startswith("Map")


def _visit_statuses(tracker: graph.StatusTracker, execution_status: str) -> list[str]:
    """Each entry's status, by graph's own rules (it keeps the last per name; here each entry counts)."""
    statuses = []
    for entry in tracker.entries:
        single = graph.StatusTracker()
        single.entries = [entry]
        statuses.append(single.statuses(execution_status).get(entry["name"], "running"))
    return statuses


def _visit(execution: Execution, events: list[HistoryEvent], status: str) -> dict:
    entered = next((event for event in events if event.type.endswith("StateEntered")), None)
    exited = next((event for event in events if event.type.endswith(("StateExited", "StateAborted"))), None)
    failures, retries = [], []
    for position, event in enumerate(events):
        if not graph._is_failure(event.type):
            continue
        details = event.details or {}
        failure = {"seq": event.seq, "type": event.type, "timestamp": event.timestamp.isoformat(),
                   **{key: show(_text(details[key]), 2000).text for key in _FAILURE_KEYS if key in details}}
        # A retry: the same state schedules again after the failure; the back-off is the time between.
        again = next((later for later in events[position + 1:] if _starts_work(later.type)), None)
        if again is not None and (exited is None or again.seq < exited.seq):
            failure["retried_after_seconds"] = round((again.timestamp - event.timestamp).total_seconds(), 3)
            retries.append(failure)
        else:
            failures.append(failure)
    last = exited or (events[-1] if events else None)
    return {
        "status": status,
        "entered_seq": entered and entered.seq,
        "started": entered and entered.timestamp.isoformat(),
        "stopped": exited and exited.timestamp.isoformat(),
        "duration_seconds": (round((last.timestamp - entered.timestamp).total_seconds(), 3)
                             if entered and last and exited else None),
        "input": _document(execution, entered, "input"),
        "output": _document(execution, exited, "output"),
        "retries": retries,
        "failures": failures,
        "events": [{"seq": event.seq, "type": event.type, "timestamp": event.timestamp.isoformat()}
                   for event in events],
    }


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _document(execution: Execution, event: HistoryEvent | None, key: str) -> dict | None:
    if event is None or not isinstance(event.details, dict) or key not in event.details:
        return None
    value = event.details[key]
    # Stored as JSON values; AWS's events carry them as JSON text.
    shown = show(_text(value), DOCUMENT_CHARS)
    return {"text": shown.text, "truncated": shown.truncated, "total_chars": shown.total_chars,
            "url": reverse("execution-event", args=[execution.pk, event.seq])}
