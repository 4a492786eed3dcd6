"""Durable throughput: Standard executions run by real `db_worker` processes, transitions per second.

    manage.py bench_durable                      # SQLite, 1 worker; PostgreSQL with 1, 2, 4 if it runs
    manage.py bench_durable --workflows pass_chain --executions 20
    manage.py bench_durable --workflows map_10k --no-sqlite --postgres-workers 2,4 --repeat 5

Every measurement gets a fresh database (a SQLite file in a temporary folder, or a new PostgreSQL
database that is dropped afterwards), never yours. The clock runs from the first task a worker starts
to the last one it finishes, so process start-up is not counted.
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

WORKFLOWS = Path(os.environ.get("STEPWISE_BENCH_WORKFLOWS", "/work/shared/bench/workflows"))
DEFAULT_WORKFLOWS = ("pass_chain", "parallel_fanout", "map_10k")
PG_ADMIN_URL = os.environ.get("STEPWISE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _load(name: str) -> tuple[dict, object]:
    workflow = json.loads((WORKFLOWS / f"{name}.json").read_text())
    definition = workflow["definition"]
    if name == "map_10k":
        # Inline, 10,000 iterations exceed a Standard execution's 25,000 history events: DISTRIBUTED.
        for state in definition["States"].values():
            if state["Type"] == "Map":
                processor = state.setdefault("ItemProcessor", state.pop("Iterator", {}))
                processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return definition, workflow["input"]


class Command(BaseCommand):
    help = "Measure Standard transitions/s through db_worker processes on SQLite and PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--workflows", default=",".join(DEFAULT_WORKFLOWS))
        parser.add_argument("--executions", type=int, default=0,
                            help="per measurement (default: by workflow)")
        parser.add_argument("--postgres-workers", default="1,2,4")
        parser.add_argument("--no-postgres", action="store_true")
        parser.add_argument("--no-sqlite", action="store_true")
        parser.add_argument("--repeat", type=int, default=1,
                            help="run every measurement this many times, one round after another, and "
                                 "report the median (with the fastest and slowest run)")
        parser.add_argument("--measure", help=argparse_hidden())
        parser.add_argument("--workers", type=int, default=1, help=argparse_hidden())

    def handle(self, *args, workflows, executions, postgres_workers, no_postgres, no_sqlite, repeat,
               measure, workers, **options):
        if measure:
            print(json.dumps(_measure(measure, workers, executions)))
            return
        targets = [] if no_sqlite else [("sqlite", 1)]
        if not no_postgres and _postgres_available():
            targets += [("postgresql", int(n)) for n in postgres_workers.split(",")]
        spread = f" {'runs (s)':>18}" if repeat > 1 else ""
        self.stdout.write(f"{'workflow':<16} {'database':<11} {'workers':>7} {'executions':>10} "
                          f"{'transitions':>11} {'seconds':>8} {'transitions/s':>14}{spread}")
        for name in workflows.split(","):
            # Round after round, so that a slow spell of the machine falls on every target alike.
            runs = {target: [] for target in targets}
            for _ in range(repeat):
                for database, count in targets:
                    runs[database, count].append(_in_fresh_database(database, name, count, executions))
            for (database, count), results in runs.items():
                results.sort(key=lambda result: result["seconds"])
                result = results[len(results) // 2]  # the median (the slower middle one of an even count)
                fastest, slowest = results[0]["seconds"], results[-1]["seconds"]
                spread = f" {fastest:>8.2f}–{slowest:<8.2f}" if repeat > 1 else ""
                self.stdout.write(
                    f"{name:<16} {database:<11} {count:>7} {result['executions']:>10} "
                    f"{result['transitions']:>11} {result['seconds']:>8.2f} {result['per_second']:>14,.0f}"
                    f"{spread}")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


def _in_fresh_database(database: str, workflow: str, workers: int, executions: int) -> dict:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
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
                [*manage, "bench_durable", "--measure", workflow, "--workers", str(workers),
                 "--executions", str(executions)], env=env, check=True, capture_output=True, text=True)
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            if drop is not None:
                drop()


def _measure(workflow: str, workers: int, executions: int) -> dict:
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from designer import runtime
    from designer.models import Execution
    from designer.tasks import WORKER_POLL_SECONDS

    definition, execution_input = _load(workflow)
    executions = executions or {"pass_chain": 20, "parallel_fanout": 20, "map_10k": 2}.get(workflow, 10)
    machine = runtime.create_state_machine(f"bench-{workflow}", json.dumps(definition))
    processes = [
        subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker", "--no-reload",
                          "--no-startup-delay", "--interval", str(WORKER_POLL_SECONDS), "--worker-id",
                          f"bench-{i}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(workers)
    ]
    try:
        # The work is queued once every worker is up: a worker still importing Django would take CPU
        # from the others inside the measured span (more of it, the more workers).
        _wait_for_workers(workers)
        for _ in range(executions):
            runtime.start_execution(machine, json.dumps(execution_input))
        deadline = time.monotonic() + 600
        while Execution.objects.running().exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    done = Execution.objects.filter(machine=machine, status="SUCCEEDED")
    span = DBTaskResult.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    transitions = sum(row.snapshot["transitions"] for row in done)
    return {"executions": done.count(), "transitions": transitions, "seconds": seconds,
            "per_second": transitions / seconds if seconds else 0.0}


def _wait_for_workers(workers: int, timeout: float = 120.0) -> None:
    """On PostgreSQL, until `workers` other sessions are connected to this database (a worker connects
    when its loop starts, and keeps its connection). SQLite shows no sessions: a moment's grace."""
    from django.db import connection

    if connection.vendor != "postgresql":
        time.sleep(3.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            (connected,) = cursor.fetchone()
        if connected >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"only {connected} of {workers} workers connected within {timeout:.0f} s")
