"""API throughput: boto3 clients on threads against a real server (daphne + db_workers), as `make run`.

    manage.py bench_api                          # SQLite with 1 worker; PostgreSQL with 2 if it runs
    manage.py bench_api --seconds 5 --no-postgres --json
    manage.py bench_api --ceiling                # boto3 alone against an endpoint that does nothing

Every target gets a fresh database (a SQLite file in a temporary folder, or a new PostgreSQL database
that is dropped afterwards), never yours, and its own server on a free port. Each operation is driven
for `--seconds` from `--threads` threads, one boto3 client each: StartExecution of a short Standard
machine (while the workers run what was started), DescribeExecution of those executions, and
ListStateMachines. The clients share the machine's cores with the server, as they do on a laptop:
`--ceiling` shows what boto3 alone can send here.
"""

import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from designer.management.commands.bench_durable import PG_ADMIN_URL, _postgres_available
from designer.tasks import WORKER_POLL_SECONDS

OPERATIONS = ("StartExecution", "DescribeExecution", "ListStateMachines")
SHORT_MACHINE = {
    "Comment": "bench_api: two Pass states",
    "StartAt": "First",
    "States": {"First": {"Type": "Pass", "Result": {"ok": True}, "Next": "Second"},
               "Second": {"Type": "Pass", "End": True}},
}
REGION = "us-east-1"


class Command(BaseCommand):
    help = "Measure API calls/s and latency from boto3 threads against daphne + db_worker(s)."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=10.0, help="per operation")
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--postgres-workers", type=int, default=2)
        parser.add_argument("--no-postgres", action="store_true")
        parser.add_argument("--no-sqlite", action="store_true")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the results as JSON")
        parser.add_argument("--ceiling", action="store_true",
                            help="only boto3 against an endpoint that answers at once (the client's cost)")
        parser.add_argument("--web-processes", type=int, default=1,
                            help="daphne processes sharing one listening socket (`make run` starts 1)")
        parser.add_argument("--measure", help=_hidden())
        parser.add_argument("--workers", type=int, default=1, help=_hidden())

    def handle(self, *args, seconds, threads, postgres_workers, no_postgres, no_sqlite, as_json, ceiling,
               web_processes, measure, workers, **options):
        if measure:
            print(json.dumps(_measure(workers, seconds, threads, web_processes)))
            return
        if ceiling:
            rows = [{"database": "none", "workers": 0, **row} for row in _ceiling(seconds, threads)]
        else:
            targets = [] if no_sqlite else [("sqlite", 1)]
            if not no_postgres and _postgres_available():
                targets.append(("postgresql", postgres_workers))
            rows = []
            for database, count in targets:
                for row in _in_fresh_database(database, count, seconds, threads, web_processes):
                    rows.append({"database": database, "workers": count, "web_processes": web_processes,
                                 **row})
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(f"{'operation':<20} {'database':<11} {'web':>3} {'workers':>7} {'calls':>7} "
                          f"{'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'server CPU/call':>15} "
                          f"{'worker CPU/call':>15}")
        for row in rows:
            self.stdout.write(
                f"{row['operation']:<20} {row['database']:<11} {row.get('web_processes', 0):>3} "
                f"{row['workers']:>7} {row['calls']:>7} "
                f"{row['per_second']:>8.0f} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} "
                f"{row.get('server_cpu_ms', 0):>12.2f} ms {row.get('worker_cpu_ms', 0):>12.2f} ms")
        for row in rows:
            if row.get("note"):
                self.stdout.write(f"{row['operation']} on {row['database']}: {row['note']}")


def _hidden():
    import argparse

    return argparse.SUPPRESS


def _in_fresh_database(database: str, workers: int, seconds: float, threads: int,
                       web_processes: int) -> list[dict]:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    drop = None
    with tempfile.TemporaryDirectory() as workdir:
        if database == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        else:
            import psycopg

            name = "stepwise_bench_" + secrets.token_hex(4)
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            env["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

            def drop():
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        try:
            subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
            out = subprocess.run(
                [*manage, "bench_api", "--measure", database, "--workers", str(workers),
                 "--seconds", str(seconds), "--threads", str(threads), "--web-processes", str(web_processes)],
                env=env, check=True, capture_output=True, text=True)
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            if drop is not None:
                drop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout:.0f} s")


def _measure(workers: int, seconds: float, threads: int, web_processes: int = 1) -> list[dict]:
    """In the fresh database: a server like `make run`'s, an access key, then the load."""
    from django.contrib.auth import get_user_model

    from designer import runtime
    from designer.models import AccessKey, Execution

    user = get_user_model().objects.create_user("bench", password=secrets.token_urlsafe(16))
    key, secret = AccessKey.issue(user, "bench_api")
    machine = runtime.create_state_machine("bench-api-short", json.dumps(SHORT_MACHINE))
    for index in range(20):  # ListStateMachines answers a page of machines, not an empty list
        runtime.create_state_machine(f"bench-api-listed-{index:02}", json.dumps(SHORT_MACHINE))
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    manage = str(settings.BASE_DIR / "manage.py")
    if web_processes == 1:
        processes = [subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                       "designer.asgi:application"], cwd=settings.BASE_DIR, **quiet)]
    else:
        # Several daphne processes accept on one socket (the kernel hands each connection to one).
        import socket

        listener = socket.create_server(("127.0.0.1", port), backlog=1024)
        processes = [subprocess.Popen([sys.executable, "-m", "daphne", "--fd", str(listener.fileno()),
                                       "designer.asgi:application"], cwd=settings.BASE_DIR,
                                      pass_fds=[listener.fileno()], **quiet) for _ in range(web_processes)]
        listener.close()
    processes += [subprocess.Popen([sys.executable, manage, "db_worker", "--no-reload", "--no-startup-delay",
                                    "--interval", str(WORKER_POLL_SECONDS), "--worker-id", f"bench-{index}"],
                                   cwd=settings.BASE_DIR, **quiet) for index in range(workers)]
    try:
        _wait_for_port(port, processes[0])
        endpoint = f"http://127.0.0.1:{port}"
        clients = [_client(endpoint, key.access_key_id, secret) for _ in range(threads)]
        clients[0].list_state_machines()  # the server's first answer (imports, botocore's model) is not timed
        started: list[str] = []
        servers = [process.pid for process in processes[:web_processes]]
        workers_ = [process.pid for process in processes[web_processes:]]
        rows = []
        with _cpu(rows, servers, workers_):
            rows.append(_drive("StartExecution", clients, seconds, lambda client: started.append(
                client.start_execution(stateMachineArn=machine.arn, input='{"n": 1}')["executionArn"])))
        rows[-1]["note"] = _backlog(Execution, len(started))
        arns = started or [""]
        with _cpu(rows, servers, workers_):
            rows.append(_drive("DescribeExecution", clients, seconds, lambda client: (
                client.describe_execution(executionArn=arns[int(time.monotonic() * 1e6) % len(arns)]))))
        with _cpu(rows, servers, workers_):
            rows.append(_drive("ListStateMachines", clients, seconds,
                               lambda client: client.list_state_machines(maxResults=20)))
        return rows
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far, from /proc (0 where there is none)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@contextlib.contextmanager
def _cpu(rows: list[dict], servers: list[int], workers: list[int]):
    """Adds to the phase's row the CPU milliseconds per call the web server and the workers spent: a
    figure that other load on a shared machine changes much less than calls/s."""
    before = _cpu_seconds(servers), _cpu_seconds(workers)
    yield
    calls = max(rows[-1]["calls"], 1)
    rows[-1]["server_cpu_ms"] = (_cpu_seconds(servers) - before[0]) * 1000 / calls
    rows[-1]["worker_cpu_ms"] = (_cpu_seconds(workers) - before[1]) * 1000 / calls


def _backlog(execution_model, started: int) -> str:
    """How far the workers were behind the starts when the StartExecution phase ended."""
    from designer.models import ExecutionStatus

    running = execution_model.objects.filter(status=ExecutionStatus.RUNNING).count()
    return f"{started} started, {started - running} of them finished by the end of the phase"


def _client(endpoint: str, key_id: str, secret: str):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "stepfunctions", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, max_pool_connections=2, read_timeout=60))


def _drive(operation: str, clients: list, seconds: float, call) -> dict:
    """Every client calls as fast as it is answered, on its own thread, for `seconds`."""
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0] * len(clients)
    begin = time.monotonic()
    deadline = begin + seconds

    def run(index: int, client) -> None:
        while time.monotonic() < deadline:
            sent = time.perf_counter()
            try:
                call(client)
            except Exception:
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter() - sent)

    threads = [threading.Thread(target=run, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _summary(operation, [value for values in latencies for value in values], sum(errors),
                    time.monotonic() - begin)


def _summary(operation: str, latencies: list[float], errors: int, elapsed: float) -> dict:
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    return {"operation": operation, "calls": len(latencies), "errors": errors,
            "per_second": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0, "p99_ms": quantile(0.99)}


# -- the client's own cost ------------------------------------------------------------------------
_TRIVIAL_SERVER = """
import asyncio, sys
BODY = b'{"stateMachines":[]}'
ANSWER = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/x-amz-json-1.0\\r\\nContent-Length: "
          + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)
async def serve(reader, writer):
    while True:
        head = await reader.readuntil(b"\\r\\n\\r\\n")
        length = [l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")]
        if length:
            await reader.readexactly(int(length[0].split(b":")[1]))
        writer.write(ANSWER)
        await writer.drain()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


def _ceiling(seconds: float, threads: int) -> list[dict]:
    """boto3 on `threads` threads against a server that answers at once: what the clients alone cost."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", _TRIVIAL_SERVER, str(port)], stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, server)
        clients = [_client(f"http://127.0.0.1:{port}", "AKIABENCHCEILING0000", "x" * 40)
                   for _ in range(threads)]
        return [_drive("ListStateMachines", clients, seconds, lambda client: client.list_state_machines())]
    finally:
        server.terminate()
        server.wait(10)

