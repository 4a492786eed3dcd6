"""WebSocket consumers of the live execution view (routing.py mounts them, watchers.py feeds them).

`ws/executions/<id>/?after=<seq>`: a logged-in user's page (Origin checked by asgi.py's
AllowedHostsOriginValidator) gets, right away, the execution's status, its states' statuses and its
events after `after`, then every new event, each with its seq, in order. Messages to one client are
coalesced: at most one every FLUSH_SECONDS, each carrying up to watchers.READ_LIMIT events, so a
10,000-item Map reaches the browser as a few messages a second, not tens of thousands.

Server → client: {"type": "update", "status", "event_count", "stop_date", "states": {name: status},
"events": [{"seq", "type", "name", "timestamp", "html"}]}, and {"type": "error", "error"} for a client
message it cannot take. Client → server: {"type": "ping"} (answered {"type": "pong"}); nothing else is needed,
since a client that reconnects says where it is with `after=`.

Close codes: 4400 bad `after`, 4401 not logged in, 4404 no such execution.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from designer import watchers

FLUSH_SECONDS = 0.1  # at most ~10 messages a second to one client
INBOX_LIMIT = 5000  # events handed to a client that has not sent them yet; past this, read from the database
MAX_CLIENT_MESSAGE = 1024


class ExecutionConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.watcher = None
        self._flush_task = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accepted first so the page sees the code (a refused handshake is a bare HTTP 403).
            await self.accept()
            await self.close(code=4401)
            return
        self.execution_id = int(self.scope["url_route"]["kwargs"]["pk"])
        try:
            self.seq = _after(self.scope.get("query_string", b""))
        except ValueError as error:
            await self.accept()
            await self._send({"type": "error", "error": str(error)})
            await self.close(code=4400)
            return
        self.inbox: list[watchers.LiveEvent] = []
        self.gap = True  # the first flush reads what came after `after` from the database
        self.last_flush = 0.0
        self.sent_summary = None
        await self.accept()
        self.watcher = await watchers.watch(self.execution_id, self)
        if self.watcher is None:
            await self.close(code=4404)
            return
        self._schedule()

    async def disconnect(self, code):
        if self.watcher is not None:
            self.watcher.unsubscribe(self)
            self.watcher = None
        if self._flush_task is not None:
            self._flush_task.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return await self._send({"type": "error", "error": "binary messages are not understood: "
                                                               "send JSON text such as {\"type\": \"ping\"}"})
        if len(text_data) > MAX_CLIENT_MESSAGE:
            return await self._send({"type": "error",
                                     "error": f"message too long ({len(text_data)} characters, at most "
                                              f"{MAX_CLIENT_MESSAGE})"})
        try:
            message = json.loads(text_data)
        except ValueError as error:
            return await self._send({"type": "error", "error": f"not JSON: {error}"})
        if not isinstance(message, dict) or message.get("type") != "ping":
            kind = message.get("type") if isinstance(message, dict) else type(message).__name__
            return await self._send({"type": "error",
                                     "error": f"unknown message {str(kind)[:40]!r}: the only message a "
                                              f"client sends is {{\"type\": \"ping\"}}"})
        await self._send({"type": "pong"})

    # -- from the watcher ---------------------------------------------------------------------------
    def deliver(self, events: list[watchers.LiveEvent]) -> None:
        if len(self.inbox) + len(events) > INBOX_LIMIT:
            self.inbox, self.gap = [], True  # a slow client: it reads from the database when it can
        else:
            self.inbox.extend(events)
        self._schedule()

    def _schedule(self) -> None:
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        wait = self.last_flush + FLUSH_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        inbox, self.inbox = self.inbox, []
        if self.gap:
            read = await database_sync_to_async(watchers.read_rendered)(self.execution_id, self.seq)
            self.gap = len(read) == watchers.READ_LIMIT
            inbox = read + inbox
        batch = []
        for event in inbox:
            if event.seq <= self.seq:
                continue
            if event.seq != self.seq + 1 or len(batch) >= watchers.READ_LIMIT:
                self.gap = True  # what follows is read from the database at the next flush
                break
            batch.append(event)
            self.seq = event.seq
        watcher = self.watcher
        if watcher is None:
            return
        summary = (watcher.summary, watcher.states)
        if batch or summary != self.sent_summary:
            self.sent_summary = summary
            self.last_flush = time.monotonic()
            await self._send({"type": "update", **watcher.summary, "states": watcher.states,
                              "events": [event.message() for event in batch]})
        if self.gap or self.inbox:
            self._flush_task = asyncio.create_task(self._flush())

    async def _send(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message))


def _after(query_string: bytes) -> int:
    values = parse_qs(query_string.decode("latin-1")).get("after", ["0"])
    try:
        after = int(values[-1])
    except ValueError:
        raise ValueError(f"after must be a whole number (the last event seq the page has), "
                         f"not {values[-1][:40]!r}") from None
    if after < 0:
        raise ValueError("after must be 0 or more")
    return after
