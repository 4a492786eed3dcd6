"""Live view latency: from an event's commit in a db_worker to its arrival in a WebSocket client.

    manage.py bench_live                 # embedded (SQLite, daphne polls), then Redis if it runs
    manage.py bench_live --executions 10 --no-redis

Each target gets a fresh SQLite file in a temporary folder, a daphne and a db_worker, as `make run`
(with REDIS_URL for the Redis target). `--executions` executions of a machine of Waits of one second
run at once, each watched by its own client on the daphne. An event's latency is its arrival time
minus its timestamp, which the step takes just before it commits: a slight overestimate of the time
from the commit.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from designer.management.commands.bench_api import _free_port, _hidden, _wait_for_port

ROUNDS = 4
MACHINE = {"StartAt": "Hold0", "States": {
    **{f"Hold{n}": {"Type": "Wait", "Seconds": 1, "Next": f"Shape{n}"} for n in range(ROUNDS)},
    **{f"Shape{n}": {"Type": "Pass", "Next": f"Hold{n + 1}" if n + 1 < ROUNDS else "Done"}
       for n in range(ROUNDS)},
    "Done": {"Type": "Succeed"}}}
REDIS_URL = "redis://127.0.0.1:6379/4"


class Command(BaseCommand):
    help = "Measure the latency from an event's commit to its arrival in a connected WebSocket client."

    def add_arguments(self, parser):
        parser.add_argument("--executions", type=int, default=20)
        parser.add_argument("--no-redis", action="store_true")
        parser.add_argument("--json", dest="as_json", action="store_true")
        parser.add_argument("--measure", help=_hidden())

    def handle(self, *args, executions, no_redis, as_json, measure, **options):
        if measure:
            self.stdout.write(json.dumps(_measure(executions)))
            return
        targets = ["embedded"] + ([] if no_redis or not _redis_available() else ["redis"])
        results = [_in_fresh_database(target, executions) for target in targets]
        if as_json:
            self.stdout.write(json.dumps(results, indent=2))
            return
        for result in results:
            self.stdout.write(
                f"{result['target']:>9}: {result['events']} events to {result['clients']} clients, latency "
                f"median {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"max {result['max_ms']:.1f} ms"
                f"{'' if result['complete'] else '  (EVENTS MISSING)'}")


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:
        return False


def _in_fresh_database(target: str, executions: int) -> dict:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    if target == "redis":
        env["REDIS_URL"] = REDIS_URL
    with tempfile.TemporaryDirectory() as workdir:
        env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        out = subprocess.run([*manage, "bench_live", "--measure", target, "--executions", str(executions)],
                             env=env, check=True, capture_output=True, text=True)
        return {"target": target, **json.loads(out.stdout.strip().splitlines()[-1])}


def _measure(executions: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from designer import runtime
    from designer.models import HistoryEvent

    client = Client()
    client.force_login(get_user_model().objects.create_user("bench-live"))
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    machine = runtime.create_state_machine("bench-live", json.dumps(MACHINE))
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    manage = str(settings.BASE_DIR / "manage.py")
    processes = [subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                   "designer.asgi:application"], cwd=settings.BASE_DIR, **quiet),
                 subprocess.Popen([sys.executable, manage, "db_worker", "--no-reload", "--no-startup-delay",
                                   "--interval", "0.05", "--worker-id", "bench-live"],
                                  cwd=settings.BASE_DIR, **quiet)]
    try:
        _wait_for_port(port, processes[0])
        pks = [runtime.start_execution(machine, "{}", f"watched-{index}").pk for index in range(executions)]
        latencies, received = asyncio.run(_watch_all(port, cookie, pks))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    history = HistoryEvent.objects.order_by("seq").values_list("seq", flat=True)
    expected = {pk: list(history.filter(execution_id=pk)) for pk in pks}
    latencies.sort()
    return {"clients": executions, "events": len(latencies), "complete": received == expected,
            "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "max_ms": latencies[-1] * 1000}


async def _watch_all(port: int, cookie: str, pks: list[int]) -> tuple[list[float], dict]:
    import websockets

    latencies: list[float] = []
    received: dict[int, list[int]] = {}

    async def watch(pk: int) -> None:
        seqs = received.setdefault(pk, [])
        url = f"ws://127.0.0.1:{port}/ws/executions/{pk}/?after=0"
        async with websockets.connect(url, additional_headers={"Cookie": cookie},
                                      origin=f"http://127.0.0.1:{port}") as socket:
            first = True
            async for raw in socket:
                arrived = time.time()
                message = json.loads(raw)
                for event in message.get("events", []):
                    seqs.append(event["seq"])
                    if not first:  # the first message is the catch-up of what came before the client
                        latencies.append(arrived - event["timestamp"])
                first = False
                if message.get("status") != "RUNNING" and message.get("events") and \
                        message["events"][-1]["type"].startswith("Execution"):
                    return

    async with asyncio.timeout(60 + ROUNDS * 5):
        await asyncio.gather(*(watch(pk) for pk in pks))
    return latencies, received
