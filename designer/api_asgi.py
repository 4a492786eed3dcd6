"""The API's own way through the ASGI server: signed calls skip what only the pages need.

Django's ASGI handler gives every request a thread of its own (ThreadSensitiveContext), a new database
connection, and the whole middleware stack: sessions, CSRF, authentication, messages. None of that
applies to a call authenticated by its signature (designer/api.py never looks at cookies), and under
load it was most of a call's cost (`manage.py bench_api`; py-spy showed thread and connection set-up
and middleware at about a third of daphne's CPU time). So POST / with an X-Amz-Target runs here on a
fixed pool of threads that keep their database connections between calls.

Calls that run user code for as long as it takes (StartSyncExecution, TestState) keep Django's way, a
thread each, so that a slow function holds up no other call.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponse, HttpResponseBadRequest

from designer import api

log = logging.getLogger(__name__)

# Enough threads to overlap one call's database waits with another's Python; more only add switching
# (every thread shares one GIL) and, on SQLite, more writers waiting for the one write lock.
API_THREADS = 8
# Operations that may run user code for minutes: Django's thread-per-request way.
OWN_THREAD = {api.TARGET_PREFIX + "StartSyncExecution", api.TARGET_PREFIX + "TestState"}

_pool = ThreadPoolExecutor(API_THREADS, thread_name_prefix="api")


def is_api_call(scope: dict) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
        return False
    target = next((value for name, value in scope.get("headers", ()) if name == b"x-amz-target"), None)
    return target is not None and target.decode("latin1") not in OWN_THREAD


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
