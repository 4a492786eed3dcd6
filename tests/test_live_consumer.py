"""The live execution view's consumer (designer/consumers.py) through the real ASGI stack (Origin check,
sessions, routing) with Channels' WebsocketCommunicator, against the test database."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from designer import consumers, live, runtime, watchers
from designer.asgi import application
from designer.models import Execution, HistoryEvent
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOLD = json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}})
# Pass states in a loop: a step runs many transitions, so one step writes many events at once.
LOOP = json.dumps({"StartAt": "Count", "States": {
    "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
    "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 400, "Next": "Count"}],
             "Default": "Done"},
    "Done": {"Type": "Succeed"}}})


@pytest.fixture
def session_cookie(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(get_user_model().objects.create_user("watcher", password="x"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch):
    monkeypatch.setattr(watchers, "POLL_SECONDS", 0.02)


def connect(path, *headers):
    return WebsocketCommunicator(application, path, headers=list(headers))


async def receive_until(communicator, predicate, timeout=5.0):
    """Messages until one satisfies `predicate` (all of them, in order)."""
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await communicator.receive_from(timeout))
            messages.append(message)
            if predicate(message):
                return messages


def seqs(messages):
    return [event["seq"] for message in messages for event in message.get("events", [])]


@database_sync_to_async
def start(definition, name="m"):
    machine = runtime.create_state_machine(name, definition)
    execution = runtime.start_execution(machine, json.dumps({"n": 0}))
    drain()
    return execution.pk


@database_sync_to_async
def stop(pk):
    runtime.stop_execution(Execution.objects.get(pk=pk))


@database_sync_to_async
def event_seqs(pk):
    return list(HistoryEvent.objects.filter(execution_id=pk).order_by("seq").values_list("seq", flat=True))


async def test_not_logged_in_is_closed_with_4401():
    pk = await start(HOLD)
    communicator = connect(f"/ws/executions/{pk}/", ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_another_origin_is_refused(session_cookie):
    pk = await start(HOLD)
    communicator = connect(f"/ws/executions/{pk}/", (b"origin", b"http://evil.example"),
                           (b"cookie", session_cookie))
    connected, code = await communicator.connect()
    assert not connected
    assert code == 1000  # AllowedHostsOriginValidator denies the handshake (HTTP 403 to a browser)
    missing = connect(f"/ws/executions/{pk}/", (b"cookie", session_cookie))
    assert not (await missing.connect())[0]


async def test_unknown_execution_and_bad_after_are_closed(session_cookie):
    communicator = connect("/ws/executions/999999/", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4404}
    pk = await start(HOLD)
    communicator = connect(f"/ws/executions/{pk}/?after=x1", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    error = await communicator.receive_json_from()
    assert error == {"type": "error", "error": "after must be a whole number (the last event seq the page "
                                               "has), not 'x1'"}
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4400}


async def test_connect_sends_status_states_and_the_events_after_the_pages_last(session_cookie):
    pk = await start(HOLD)
    assert await event_seqs(pk) == [1, 2]  # ExecutionStarted, WaitStateEntered
    communicator = connect(f"/ws/executions/{pk}/?after=1", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    first = await communicator.receive_json_from()
    assert first["type"] == "update" and first["status"] == "RUNNING"
    assert first["states"] == {"Hold": "running"}
    assert [event["seq"] for event in first["events"]] == [2]
    row = first["events"][0]["html"]
    assert row.startswith('<tr class="event-WaitStateEntered">') and "<td>Hold</td>" in row
    # The gap after a reconnect: stopped while nobody watched, a new client asks from where it was.
    await communicator.disconnect()
    await stop(pk)
    again = connect(f"/ws/executions/{pk}/?after=2", ORIGIN, (b"cookie", session_cookie))
    assert (await again.connect())[0]
    update = await again.receive_json_from()
    assert update["status"] == "ABORTED" and update["states"] == {"Hold": "aborted"}
    assert [event["seq"] for event in update["events"]] == list(range(3, update["event_count"] + 1))
    assert update["events"][-1]["type"] == "ExecutionAborted"
    await again.disconnect()


async def test_live_events_arrive_in_order_with_nothing_missing(session_cookie):
    pk = await start(HOLD)
    communicator = connect(f"/ws/executions/{pk}/?after=0", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    first = await communicator.receive_json_from()
    assert seqs([first]) == [1, 2]
    await stop(pk)
    messages = await receive_until(communicator, lambda m: m.get("status") == "ABORTED"
                                   and m["events"] and m["events"][-1]["type"] == "ExecutionAborted")
    assert seqs([first, *messages]) == await event_seqs(pk)
    await communicator.disconnect()


async def test_a_burst_of_events_is_coalesced_into_few_messages(session_cookie, monkeypatch):
    monkeypatch.setattr(watchers, "READ_LIMIT", 100)
    pk = await start(HOLD, "holder")
    communicator = connect(f"/ws/executions/{pk}/?after=2", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    await communicator.receive_json_from()
    loop = await start(LOOP, "loop")  # ~1,200 events in one go, for a client that watches it from 0
    watcher = connect(f"/ws/executions/{loop}/?after=0", ORIGIN, (b"cookie", session_cookie))
    assert (await watcher.connect())[0]
    began = asyncio.get_running_loop().time()
    expected = await event_seqs(loop)
    messages = await receive_until(watcher, lambda m: m["events"] and m["events"][-1]["seq"] == expected[-1],
                                   timeout=30)
    took = asyncio.get_running_loop().time() - began
    assert seqs(messages) == expected
    assert len(expected) > 1000
    assert all(len(m["events"]) <= 100 for m in messages)
    # At most one message per FLUSH_SECONDS, so ~12 messages take over a second, never a flood.
    assert len(messages) <= len(expected) // 100 + 2
    assert took >= (len(messages) - 1) * consumers.FLUSH_SECONDS * 0.9
    assert messages[-1]["status"] == "SUCCEEDED"
    assert messages[-1]["states"] == {"Count": "succeeded", "More": "succeeded", "Done": "succeeded"}
    await watcher.disconnect()
    await communicator.disconnect()


async def test_two_clients_of_one_execution_share_one_watcher(session_cookie):
    pk = await start(HOLD)
    one = connect(f"/ws/executions/{pk}/", ORIGIN, (b"cookie", session_cookie))
    two = connect(f"/ws/executions/{pk}/?after=1", ORIGIN, (b"cookie", session_cookie))
    assert (await one.connect())[0] and (await two.connect())[0]
    assert seqs([await one.receive_json_from()]) == [1, 2]
    assert seqs([await two.receive_json_from()]) == [2]
    assert len([w for w in watchers._watchers.values() if w.execution_id == pk]) == 1
    assert len(watchers._watchers[pk].subscribers) == 2
    await one.disconnect()
    await two.disconnect()
    await asyncio.sleep(0.1)
    assert pk not in watchers._watchers


@pytest.mark.parametrize(("sent", "error"), [
    ("not json", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    ('{"type": "subscribe"}', "unknown message 'subscribe': the only message a client sends is "
                              '{"type": "ping"}'),
    ("[1, 2]", "unknown message 'list': the only message a client sends is {\"type\": \"ping\"}"),
    ("x" * 2000, "message too long (2000 characters, at most 1024)"),
])
async def test_a_bad_client_message_gets_a_precise_error_and_the_connection_goes_on(session_cookie, sent,
                                                                                      error):
    pk = await start(HOLD)
    communicator = connect(f"/ws/executions/{pk}/?after=2", ORIGIN, (b"cookie", session_cookie))
    assert (await communicator.connect())[0]
    await communicator.receive_json_from()
    await communicator.send_to(text_data=sent)
    assert await communicator.receive_json_from() == {"type": "error", "error": error}
    await communicator.send_to(bytes_data=b"\x00")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.send_to(text_data='{"type": "ping"}')
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


def test_history_written_hints_only_through_a_layer_that_crosses_processes():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    live.hints_cross_processes.cache_clear()
    assert live.hints_cross_processes() is False
