"""The API's own way through the ASGI server: signed calls skip what only the pages need.

Django's ASGI handler gives every request a thread of its own (ThreadSensitiveContext), a new database
connection, and the whole middleware stack: sessions, CSRF, authentication, messages. None of that
applies to a call authenticated by its signature (designer/api.py never looks at cookies), and under
load it was most of a call's cost (`manage.py bench_api`; py-spy showed thread and connection set-up
and middleware at about a third of daphne's CPU time). So POST / with an X-Amz-Target runs here on a
fixed pool of threads that keep their database connections between calls.

Calls that run user code for as long as it takes (StartSyncExecution, TestState) keep Django's way, a
thread each, so that a slow function holds up no other call.

GetActivityTask long-polls (up to STEPWISE_ACTIVITY_POLL_SECONDS, AWS's 60 s), and AWS advises keeping
100 polls open per activity: a waiting poll holds no thread. It is checked and makes its first claim
attempt on the pool like any call; if there is no task it awaits here. One `_ActivityWatch` a process
and activity looks for unclaimed tasks every STEPWISE_ACTIVITY_WATCH_SECONDS (one query however many
polls wait) and wakes as many waiting polls, oldest first, as it found tasks; each woken poll makes a
claim attempt on the pool (designer/runtime/activities.py: exactly one poller gets a task). A client
that goes away stops its poll, so no task is claimed for a poller that is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponse, HttpResponseBadRequest

from designer import api, runtime

log = logging.getLogger(__name__)

# Enough threads to overlap one call's database waits with another's Python; more only add switching
# (every thread shares one GIL) and, on SQLite, more writers waiting for the one write lock.
API_THREADS = 8
# Operations that may run user code for minutes: Django's thread-per-request way.
OWN_THREAD = {api.TARGET_PREFIX + "StartSyncExecution", api.TARGET_PREFIX + "TestState"}
ACTIVITY_POLL = api.TARGET_PREFIX + "GetActivityTask"

_pool = ThreadPoolExecutor(API_THREADS, thread_name_prefix="api")


def _target(scope: dict) -> str | None:
    target = next((value for name, value in scope.get("headers", ()) if name == b"x-amz-target"), None)
    return None if target is None else target.decode("latin1")


def is_api_call(scope: dict) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
        return False
    target = _target(scope)
    return target is not None and target not in OWN_THREAD


class ApiCalls:
    """ASGI middleware: API calls (is_api_call) are answered here, everything else by `app`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if not is_api_call(scope):
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        request = ASGIRequest(scope, BytesIO(body))
        if _target(scope) == ACTIVITY_POLL:
            response = await _long_poll(request, receive)
            if response is None:
                return  # the poller went away
        else:
            response = await asyncio.get_running_loop().run_in_executor(_pool, _answer, request)
        headers = [(name.encode("latin1"), value.encode("latin1")) for name, value in response.items()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})


async def _read_body(receive) -> bytes | None:
    """The request body; past the API's size limit only the first part is kept (handle() refuses the
    call by its Content-Length), so a huge body cannot fill the memory."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= api.MAX_REQUEST_BYTES:
            chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _answer(request: ASGIRequest) -> HttpResponse:
    try:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it for the pages
        response = api.handle(request)
    except DisallowedHost as error:
        response = HttpResponseBadRequest(str(error))
    except Exception:
        log.exception("API call failed outside its handler")
        response = api._error(api.ApiError("InternalFailure", "The request processing has failed because "
                                           "of an unknown error, exception or failure.", status=500))
    finally:
        _keep_or_close_connections()
    # SecurityMiddleware sets this on every other response.
    response.setdefault("X-Content-Type-Options", "nosniff")
    return response


# -- GetActivityTask ----------------------------------------------------------------------------------
def _first_poll(request: ASGIRequest) -> tuple[HttpResponse | None, dict | None]:
    """On the pool: check the call and make the first claim attempt. (answer, None) when the call is
    answered now (an error or a task); (None, checked request) when it is to wait."""
    try:
        request.get_host()
        checked = api.checked_call(request)
        if isinstance(checked, HttpResponse):
            return _finished(checked), None
        operation, payload = checked
        claim = _claim(payload)
        return (claim, None) if claim is not None else (None, payload)
    except DisallowedHost as error:
        return _finished(HttpResponseBadRequest(str(error))), None
    finally:
        _keep_or_close_connections()


def _claim(payload: dict) -> HttpResponse | None:
    """One claim attempt: the answer (a task, or an error such as a deleted activity), or None."""
    claimed: list = []

    def call() -> dict:
        task = api.poll_once(payload)
        claimed.append(task)
        return {} if task is None else {"taskToken": task[0], "input": task[1]}

    response = api.answered("GetActivityTask", call)
    if claimed and claimed[0] is None:
        return None
    return _finished(response)


def _claim_on_pool(payload: dict) -> HttpResponse | None:
    try:
        return _claim(payload)
    finally:
        _keep_or_close_connections()


def _finished(response: HttpResponse) -> HttpResponse:
    response.setdefault("X-Content-Type-Options", "nosniff")
    return response


async def _long_poll(request: ASGIRequest, receive) -> HttpResponse | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.STEPWISE_ACTIVITY_POLL_SECONDS
    answer, payload = await loop.run_in_executor(_pool, _first_poll, request)
    if answer is not None:
        return answer
    activity_arn = payload["activityArn"]
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while (remaining := deadline - loop.time()) > 0:
            woken = await _watch(activity_arn).wait(remaining, gone)
            if gone.done():
                return None
            if woken:
                answer = await loop.run_in_executor(_pool, _claim_on_pool, payload)
                if answer is not None:
                    return answer
        # AWS answers a poll that found nothing with a null taskToken, which clients read as no token.
        return _finished(api._respond({}))
    finally:
        gone.cancel()


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _ActivityWatch:
    """The polls of one activity waiting in this process, and the one loop that looks for their tasks."""

    def __init__(self, activity_arn: str):
        self.activity_arn = activity_arn
        self.waiters: deque[asyncio.Future] = deque()
        self.loop_task: asyncio.Task | None = None

    async def wait(self, timeout: float, gone: asyncio.Future) -> bool:
        """Wait until a task may be there for this poll (True), the timeout, or the client leaving."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if self.loop_task is None or self.loop_task.done():
            self.loop_task = asyncio.ensure_future(self._look())
        try:
            await asyncio.wait({waiter, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiter.done():
                waiter.cancel()
            try:
                self.waiters.remove(waiter)
            except ValueError:
                pass
        return waiter.done() and not waiter.cancelled()

    async def _look(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiters:
            await asyncio.sleep(settings.STEPWISE_ACTIVITY_WATCH_SECONDS)
            waiting = [waiter for waiter in self.waiters if not waiter.done()]
            if not waiting:
                continue
            try:
                found = await loop.run_in_executor(_pool, _count_unclaimed, self.activity_arn, len(waiting))
            except Exception:  # the database may be back at the next look; the polls keep waiting
                log.warning("activity watch %s: looking for tasks failed", self.activity_arn, exc_info=True)
                continue
            for waiter in waiting[:found]:
                waiter.set_result(True)
        _watches.pop(self.activity_arn, None)


_watches: dict[str, _ActivityWatch] = {}


def _watch(activity_arn: str) -> _ActivityWatch:
    watch = _watches.get(activity_arn)
    if watch is None:
        watch = _watches[activity_arn] = _ActivityWatch(activity_arn)
    return watch


def _count_unclaimed(activity_arn: str, limit: int) -> int:
    try:
        return runtime.has_unclaimed(activity_arn, limit)
    finally:
        _keep_or_close_connections()


def _keep_or_close_connections() -> None:
    """A pool thread keeps its connection for the next call unless the call left it unusable or in a
    transaction (Django's request_finished would close it; CONN_MAX_AGE is for its own threads)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if connection.in_atomic_block or not connection.get_autocommit():
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()
