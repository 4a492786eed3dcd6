"""The live execution view's reading side, in each daphne process: one `Watcher` per execution that
this process's clients watch (live.py's docstring tells how events get here).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string

from designer import graph
from designer.live import group_name, hints_cross_processes
from designer.models import Execution, ExecutionStatus, HistoryEvent
from designer.pages import _event_row

log = logging.getLogger(__name__)

POLL_SECONDS = settings.STEPWISE_LIVE_POLL_SECONDS
SAFETY_POLL_SECONDS = settings.STEPWISE_LIVE_SAFETY_POLL_SECONDS
READ_LIMIT = 500  # rows per read: a 25,000-event burst goes out in slices, never in one message
# Events whose arrival changes the execution row a page shows (status, output, error, redrive).
_ROW_EVENTS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut",
               "ExecutionRedriven")
# An Express execution writes no events: its row is read again every this many polls.
ROW_REREAD_POLLS = 13



@dataclass(frozen=True, slots=True)
class LiveEvent:
    seq: int
    type: str
    name: str | None
    timestamp: float
    html: str  # the history table's row, rendered by templates/designer/_event_row.html

    def message(self) -> dict:
        return {"seq": self.seq, "type": self.type, "name": self.name, "timestamp": self.timestamp,
                "html": self.html}


def read_events(execution_id: int, after: int, limit: int = READ_LIMIT) -> list[HistoryEvent]:
    return list(HistoryEvent.objects.filter(execution_id=execution_id, seq__gt=after).order_by("seq")[:limit])


def rendered(execution_id: int, events: list[HistoryEvent]) -> list[LiveEvent]:
    execution = Execution(pk=execution_id)
    return [LiveEvent(event.seq, event.type, event.name, event.timestamp.timestamp(),
                      render_to_string("designer/_event_row.html",
                                       {"event": _event_row(event), "execution": execution}))
            for event in events]


def read_rendered(execution_id: int, after: int, limit: int = READ_LIMIT) -> list[LiveEvent]:
    return rendered(execution_id, read_events(execution_id, after, limit))


def _summary(execution: Execution) -> dict:
    return {"status": execution.status, "event_count": execution.event_count,
            "stop_date": execution.stop_date.isoformat() if execution.stop_date else None}


class Watcher:
    """One execution watched by this process's clients: reads its new events once for all of them
    and keeps its state statuses (graph.StatusTracker) and summary up to date."""

    def __init__(self, execution_id: int):
        self.execution_id = execution_id
        self.subscribers: set = set()
        self.seq = 0
        self.summary: dict = {}
        self.states: dict[str, str] = {}
        self.tracker = graph.StatusTracker()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._hints: asyncio.Task | None = None
        self._channel: str | None = None
        self.ready = asyncio.get_running_loop().create_future()

    # A hint from a worker, or a test: read now rather than at the next poll.
    def wake(self) -> None:
        self._wake.set()

    def _start_read(self) -> bool:
        execution = Execution.objects.filter(pk=self.execution_id).first()
        if execution is None:
            return False
        self.summary = _summary(execution)
        rows = HistoryEvent.objects.filter(execution_id=self.execution_id).order_by("seq").values_list(
            "seq", "type", "previous_event_id", "details__name")
        for batch in _batches(rows.iterator(chunk_size=2000), 2000):
            self.tracker.feed(batch)
            self.seq = batch[-1][0]
        self.states = self.tracker.statuses(self.summary["status"])
        return True

    def _read(self, reread_row: bool) -> list[LiveEvent]:
        events = read_events(self.execution_id, self.seq)
        if events:
            self.tracker.feed((e.seq, e.type, e.previous_event_id, e.name) for e in events)
            self.seq = events[-1].seq
        if reread_row or any(e.type in _ROW_EVENTS for e in events):
            execution = Execution.objects.filter(pk=self.execution_id).first()
            if execution is not None:
                self.summary = _summary(execution)
        elif events:
            self.summary = {**self.summary, "event_count": self.seq}
        if events or reread_row:
            self.states = self.tracker.statuses(self.summary.get("status", ExecutionStatus.RUNNING))
        return rendered(self.execution_id, events)

    async def run(self) -> None:
        try:
            found = await database_sync_to_async(self._start_read)()
            self.ready.set_result(found)
            if not found:
                return
            layer = get_channel_layer()
            if hints_cross_processes():
                # One member of the group per process and execution, however many clients watch.
                self._channel = await layer.new_channel()
                await layer.group_add(group_name(self.execution_id), self._channel)
                self._hints = asyncio.create_task(self._receive_hints(layer))
            interval = SAFETY_POLL_SECONDS if self._channel else POLL_SECONDS
            polls = 0
            while self.subscribers:
                try:
                    await asyncio.wait_for(self._wake.wait(), interval)
                except TimeoutError:
                    pass
                self._wake.clear()
                polls += 1
                running = self.summary.get("status") == ExecutionStatus.RUNNING
                reread = polls % ROW_REREAD_POLLS == 0 and running
                while True:
                    try:
                        events = await database_sync_to_async(self._read)(reread)
                    except Exception:  # a database hiccup must not end the live view
                        log.warning("live: reading execution %s failed", self.execution_id, exc_info=True)
                        break
                    reread = False
                    for subscriber in list(self.subscribers):
                        subscriber.deliver(events)
                    if len(events) < READ_LIMIT:
                        break
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            raise
        finally:
            if self._hints is not None:
                self._hints.cancel()
            if self._channel is not None:
                await get_channel_layer().group_discard(group_name(self.execution_id), self._channel)
            if _watchers.get(self.execution_id) is self:
                del _watchers[self.execution_id]

    async def _receive_hints(self, layer) -> None:
        while True:
            message = await layer.receive(self._channel)
            if message.get("seq", 0) > self.seq:
                self.wake()

    def unsubscribe(self, subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            if _watchers.get(self.execution_id) is self:  # a client arriving now starts a fresh one
                del _watchers[self.execution_id]
            self.wake()  # its loop sees nobody left and ends


_watchers: dict[int, Watcher] = {}


async def watch(execution_id: int, subscriber) -> Watcher | None:
    """Subscribe to an execution's watcher in this process (started on first use); None when there
    is no such execution. `subscriber.deliver(events)` is called with each new slice of events."""
    watcher = _watchers.get(execution_id)
    if watcher is None or (watcher._task is not None and watcher._task.done()):
        watcher = _watchers[execution_id] = Watcher(execution_id)
        watcher.subscribers.add(subscriber)
        watcher._task = asyncio.create_task(watcher.run())
    else:
        watcher.subscribers.add(subscriber)
    if not await watcher.ready:
        watcher.unsubscribe(subscriber)
        return None
    return watcher


def _batches(iterator, size: int):
    batch = []
    for item in iterator:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
