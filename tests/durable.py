"""Real parts for durability tests: a Stepwise database (a SQLite file, or a fresh PostgreSQL database)
and `db_worker` processes that can be killed.

    deployment = Deployment.sqlite(tmp_path, template=migrated_db_file)
    deployment.django("from designer import runtime; ...")      # run code in a Django process
    worker = deployment.start_worker()                           # manage.py db_worker
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status='SUCCEEDED'", 10)
    worker.kill()                                                # SIGKILL: no clean-up at all

The test process reads the database with plain SQL, so it never shares Django's connection state with
the processes it watches.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.live import ROOT, manage, migrated_database, server_env

# A Django process that runs the code blocks it reads (one JSON string a line) and answers with the
# JSON of `result`: one start-up per test instead of one per command.
_DRIVER = """
import json, os, sys, traceback
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "designer.settings")
import django
django.setup()
from django.db import connection
for line in sys.stdin:
    namespace = {}
    try:
        exec(json.loads(line), namespace)
        answer = {"result": namespace.get("result")}
    except Exception:
        answer = {"error": traceback.format_exc()}
    finally:
        connection.close()
    sys.stdout.write(json.dumps(answer, default=str) + "\\n")
    sys.stdout.flush()
"""

PG_ADMIN_URL = os.environ.get("STEPWISE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """kill -9: the worker gets no chance to finish or clean up anything."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Deployment:
    def __init__(self, workdir: Path, env: dict):
        self.workdir = workdir
        self.env = env
        self.workers: list[Worker] = []
        self.calls = workdir / "calls.log"
        self.env["STEPWISE_TEST_CALLS"] = str(self.calls)
        self.env.setdefault("STEPWISE_FUNCTIONS", "tests.durable_functions")
        self._drop = None
        self._driver = None

    @classmethod
    def sqlite(cls, workdir: Path, template: Path | None = None, **env: str) -> Deployment:
        migrated_database(workdir, template)
        return cls(workdir, server_env(workdir, **env))

    @classmethod
    def postgres(cls, workdir: Path, **env: str) -> Deployment:
        import psycopg

        name = "stepwise_test_" + secrets.token_hex(4)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        deployment = cls(workdir, server_env(workdir, DATABASE_URL=url, **env))
        deployment.url = url

        def drop():
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        deployment._drop = drop
        manage(deployment.env, "migrate", "--noinput", "-v", "0")
        return deployment

    # -- processes ---------------------------------------------------------------------------------
    def django(self, code: str):
        """Run Python code in a Django process against this database (one process per deployment,
        started on first use); returns the value the code leaves in `result` (as JSON)."""
        if self._driver is None:
            self._driver = subprocess.Popen(
                [sys.executable, "-c", _DRIVER], cwd=ROOT, env=self.env, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._driver.stdin.write(json.dumps(code) + "\n")
        self._driver.stdin.flush()
        line = self._driver.stdout.readline()
        if not line:
            raise RuntimeError("the Django driver process died")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(answer["error"])
        return answer["result"]

    def start_worker(self, **env: str) -> Worker:
        log = self.workdir / f"worker-{len(self.workers)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay", "--no-reload",
                 "--interval", "0.05", "--worker-id", f"w{len(self.workers)}-{secrets.token_hex(2)}"],
                cwd=ROOT, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        if self._driver is not None:
            self._driver.stdin.close()
            self._driver.wait(10)
        for worker in self.workers:
            worker.stop()
        if self._drop is not None:
            self._drop()

    def logs(self, tail: int | None = 3000) -> str:
        start = -tail if tail else 0
        return "\n".join(f"--- {w.log.name}\n{w.log.read_text()[start:]}" for w in self.workers)

    # -- looking at the database --------------------------------------------------------------------
    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite"):
            with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as db:
                return db.execute(query, params).fetchall()
        import psycopg

        with psycopg.connect(url) as db:
            return db.execute(query.replace("?", "%s"), params).fetchall()

    def scalar(self, query: str, params: tuple = ()):
        return self.sql(query, params)[0][0]

    def wait_until(self, query: str, expected, timeout: float = 20, params: tuple = ()):
        deadline = time.monotonic() + timeout
        while True:
            value = self.scalar(query, params)
            if value == expected:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{query!r} is {value!r}, not {expected!r}, after {timeout}s\n{self.logs()}")
            time.sleep(0.05)

    def call_count(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0

    def wait_for_calls(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.call_count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.call_count()} calls, not {count}, after {timeout}s\n{self.logs()}")
            time.sleep(0.02)
