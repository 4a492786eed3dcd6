"""The live view across processes: a real daphne, a real db_worker that advances the execution, and a
client on a real WebSocket (the `websockets` package). Embedded (SQLite, no Redis: the daphne polls the
database) and with REDIS_URL (two daphnes; the client's is not the one the execution was started on,
and its safety poll is made too slow to matter, so only the worker's hints can bring the events)."""

import asyncio
import concurrent.futures
import json
import sqlite3
import subprocess
import sys

import pytest

from tests.live import ROOT, Browser, DaphneServer

websockets = pytest.importorskip("websockets")

MACHINE = {"StartAt": "Hold", "States": {
    "Hold": {"Type": "Wait", "Seconds": 1, "Next": "Shape"},
    "Shape": {"Type": "Pass", "Result": {"ok": True}, "Next": "Again"},
    "Again": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
START = f"""
import json
from designer import runtime
machine = runtime.create_state_machine("live-delivery", {json.dumps(json.dumps(MACHINE))})
print(runtime.start_execution(machine, "{{}}", "watched").pk)
"""


def redis_available() -> bool:
    try:
        import redis

        return redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1).ping()
    except Exception:
        return False


def start_worker(server: DaphneServer) -> subprocess.Popen:
    with open(server.workdir / "worker.log", "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay",
                                 "--no-reload", "--interval", "0.05", "--worker-id", "live-worker"],
                                cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT)


async def watch_to_the_end(url: str, cookie: str, origin: str, timeout: float = 30) -> list[dict]:
    """Every update message until the execution's last event (ExecutionSucceeded) has arrived."""
    messages = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie}, origin=origin) as socket:
        async with asyncio.timeout(timeout):
            async for raw in socket:
                message = json.loads(raw)
                messages.append(message)
                if any(event["type"] == "ExecutionSucceeded" for event in message.get("events", [])):
                    return messages
    raise AssertionError(f"the connection closed before the end: {messages}")


def history(server: DaphneServer, pk: int) -> list[tuple[int, str]]:
    with sqlite3.connect(server.workdir / "db.sqlite3") as db:
        return db.execute("SELECT seq, type FROM designer_historyevent WHERE execution_id = ? ORDER BY seq",
                          (pk,)).fetchall()


def session_cookie(server: DaphneServer) -> str:
    server.create_user("viewer", "live-password-7")
    browser = Browser(server.url)
    browser.log_in("viewer", "live-password-7")
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies if c.name == "sessionid")


def run_and_watch(started_on: DaphneServer, watched_on: DaphneServer) -> None:
    cookie = session_cookie(started_on)
    worker = start_worker(started_on)
    try:
        pk = int(started_on.manage("shell", "--no-imports", "-c", START).split()[-1])
        url = f"ws://127.0.0.1:{watched_on.port}/ws/executions/{pk}/?after=0"
        # On a thread of its own: the session's Playwright (sync API) may hold this thread's event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            messages = thread.submit(asyncio.run, watch_to_the_end(url, cookie, watched_on.url)).result()
    finally:
        worker.terminate()
        worker.wait(10)
    received = [(event["seq"], event["type"]) for message in messages for event in message["events"]]
    assert received == history(started_on, pk)  # every event, in order, nothing missing or repeated
    assert received[0] == (1, "ExecutionStarted") and received[-1][1] == "ExecutionSucceeded"
    assert messages[0]["status"] == "RUNNING" and messages[0]["states"]["Hold"] == "running"
    # The Waits were advanced by the worker while the client watched: several messages, not one.
    assert len(messages) >= 3
    final = messages[-1]
    assert final["status"] == "SUCCEEDED"
    assert final["states"] == {"Hold": "succeeded", "Shape": "succeeded", "Again": "succeeded",
                               "Done": "succeeded"}


def test_a_client_of_the_embedded_server_receives_every_event_the_worker_writes(tmp_path, migrated_db_file):
    server = DaphneServer(tmp_path, template_db=migrated_db_file).start()
    try:
        run_and_watch(server, server)
    finally:
        server.stop()


@pytest.mark.skipif(not redis_available(), reason="Redis is not running at 127.0.0.1:6379")
def test_with_redis_a_client_of_a_second_daphne_receives_the_workers_events(tmp_path, migrated_db_file):
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/3", "STEPWISE_LIVE_SAFETY_POLL_SECONDS": "600"}
    first = DaphneServer(tmp_path, template_db=migrated_db_file)
    first.env.update(redis)
    first.start()
    second = DaphneServer(tmp_path)  # the same database file, already migrated
    second.env = {**first.env}
    second.template_db = None
    try:
        second.log = tmp_path / "daphne-2.log"
        second.start()
        run_and_watch(first, second)
    finally:
        second.stop()
        first.stop()
