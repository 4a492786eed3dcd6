"""The live execution view's writing side: the runtime's hook that hints the pages watching an
execution once the transaction that wrote its new events commits. The reading side, in daphne, is
watchers.py; consumers.py speaks to the browsers.

How an event gets to a page: the database is the truth, a notification is only a hint. Each daphne
process keeps one `Watcher` per execution its clients watch; the watcher reads the new rows by
(execution, seq > last) — the unique index on those two columns makes that a short range scan — and
hands them to its clients. It reads
  * every POLL_SECONDS (150 ms) in the embedded deployment: workers are other processes and the
    in-memory channel layer does not reach them, so the poll is what crosses processes, and
  * at once when a worker's hint comes through the Redis channel layer (REDIS_URL), with a slow poll
    (SAFETY_POLL_SECONDS) only in case a hint was lost: channels_redis drops messages to a full or
    expired channel.
The runtime calls `history_written` where it inserts history rows; the hint goes out after the
transaction commits (`transaction.on_commit`), so a watcher it wakes always finds the rows. A client
keeps the seq it has and reads the gap itself whenever what it is handed does not follow on, so
whatever happens in between, it converges to the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import cache

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def group_name(execution_id: int) -> str:
    return f"execution-{execution_id}"


@cache
def hints_cross_processes() -> bool:
    """True when the channel layer reaches other processes (Redis); the in-memory one does not, and
    the embedded deployment's watchers poll instead."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer | type(None))


def history_written(rows: Iterable[tuple]) -> None:
    """The runtime's one hook: history rows (execution id, seq, ...) were just inserted in the current
    transaction. After it commits, hint the watchers of those executions (only through a layer that
    reaches them)."""
    if not hints_cross_processes():
        return
    latest: dict[int, int] = {}
    for row in rows:
        latest[row[0]] = max(latest.get(row[0], 0), row[1])
    if latest:
        transaction.on_commit(lambda: publish(latest))


def publish(latest: dict[int, int]) -> None:
    """Send "execution X has events up to seq N" to each execution's group, all in one round of the
    event loop. Never fails the caller: a lost hint only delays a page until its next poll."""
    layer = get_channel_layer()

    async def send():
        await asyncio.gather(*(layer.group_send(group_name(execution_id), {"type": "events", "seq": seq})
                               for execution_id, seq in latest.items()))

    try:
        async_to_sync(send)()
    except Exception:  # the step has committed; the page polls anyway
        log.warning("live: could not publish to %d executions", len(latest), exc_info=True)
