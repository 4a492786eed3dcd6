"""`manage.py serve`, the foreground process of `make run`: daphne plus its task workers, supervised."""

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from designer import supervisor as supervisor_module
from designer.supervisor import Supervisor
from tests.live import ROOT, Browser, free_port, manage, migrated_database


def children_of(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_serve_runs_daphne_and_a_worker_and_ctrl_c_stops_both(tmp_path, migrated_db_file):
    env = migrated_database(tmp_path, migrated_db_file)
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for line in serve.stdout:
            if "Stepwise is running at" in line:
                assert f"http://127.0.0.1:{port}/" in line
                break
        else:
            raise AssertionError("serve exited before announcing the address")
        children = children_of(serve.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in children]
        assert any(b"daphne" in c for c in commands) and any(b"db_worker" in c for c in commands)
        assert Browser(f"http://127.0.0.1:{port}").get("/accounts/login/").status == 200

        serve.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        output = serve.communicate(timeout=30)[0]
        assert serve.returncode == 0, output
        assert "Stopped." in output
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in children)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def test_serve_says_so_when_the_port_is_taken(tmp_path, migrated_db_file):
    env = migrated_database(tmp_path, migrated_db_file)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr


# -- supervision: a child that dies is started again, the others go on ------------------------------
def descendants(pid):
    found = []
    for child in children_of(pid):
        found += [child, *descendants(child)]
    return found


def command_line(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


class Serve:
    """`manage.py serve` on a free port with its own SQLite file, its output in a log file."""

    def __init__(self, tmp_path, template, *arguments):
        self.env = migrated_database(tmp_path, template)
        self.env["STEPWISE_FUNCTIONS"] = "tests.durable_functions"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 *arguments], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.wait_for(lambda: "Stepwise is running at" in self.output(), "the announcement")

    def output(self):
        return self.log.read_text()

    def wait_for(self, condition, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no {what} after {timeout} s:\n{self.output()}")
            time.sleep(0.05)

    def child(self, marker: bytes):
        pids = self.children(marker)
        return pids[0] if len(pids) == 1 else None

    def children(self, marker: bytes):
        return [pid for pid in children_of(self.process.pid) if alive(pid) and marker in command_line(pid)]

    def answers(self):
        try:
            return Browser(self.url).get("/accounts/login/").status == 200
        except OSError:
            return False

    def close(self):
        if self.process.poll() is None:
            for pid in descendants(self.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve(tmp_path, migrated_db_file):
    serve = Serve(tmp_path, migrated_db_file)
    yield serve
    serve.close()


def sfn_client(serve):
    manage(serve.env, "shell", "--no-imports", "-c",
           "from django.contrib.auth import get_user_model\n"
           "get_user_model().objects.create_user('alice', password='alice-pass-123')\n")
    printed = dict(line.split("=", 1) for line in manage(serve.env, "create_access_key", "alice").split())
    return boto3.client(
        "stepfunctions", endpoint_url=serve.url, region_name="us-east-1",
        aws_access_key_id=printed["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=printed["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}))


def test_a_killed_worker_is_started_again_and_the_web_server_keeps_answering(serve):
    sfn = sfn_client(serve)
    daphne, worker = serve.child(b"daphne"), serve.child(b"db_worker")
    assert daphne and worker

    os.kill(worker, signal.SIGKILL)
    assert serve.answers()  # while the worker is down
    serve.wait_for(lambda: serve.child(b"db_worker") not in (None, worker), "new worker", timeout=15)
    assert serve.child(b"daphne") == daphne  # the web server was left alone
    assert f"worker-1 (pid {worker}) was killed by SIGKILL" in serve.output()
    assert "worker-1 started again" in serve.output()

    # An execution started afterwards, through the API, runs on the new worker to its end.
    machine = sfn.create_state_machine(
        name="squares", roleArn="arn:aws:iam::123456789012:role/stepwise", definition=json.dumps(
            {"StartAt": "Square", "States": {"Square": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:square",
                "End": True}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 7}')["executionArn"]
    deadline = time.monotonic() + 20
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.1)
    assert (described["status"], described["output"]) == ("SUCCEEDED", "49")


def test_a_killed_daphne_is_started_again_and_sigterm_stops_everything(serve):
    daphne, worker = serve.child(b"daphne"), serve.child(b"db_worker")
    os.kill(daphne, signal.SIGKILL)
    serve.wait_for(lambda: serve.child(b"daphne") not in (None, daphne) and serve.answers(),
                   "answering daphne", timeout=20)
    assert serve.child(b"db_worker") == worker
    assert f"daphne (pid {daphne}) was killed by SIGKILL" in serve.output()

    everything = descendants(serve.process.pid)
    assert len(everything) >= 2
    serve.process.terminate()  # what systemd or `kill` sends
    assert serve.process.wait(30) == 0, serve.output()
    assert "Stopped." in serve.output()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in everything) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in everything if alive(pid)], "orphans left behind"


def test_a_child_that_keeps_dying_is_restarted_with_a_doubling_back_off(caplog):
    supervisor = Supervisor({"crasher": [sys.executable, "-c", "import sys; sys.exit(3)"]})
    starts = []
    try:
        supervisor.start_all()
        starts.append(time.monotonic())
        while time.monotonic() - starts[0] < 4.2:
            restarts = supervisor.child("crasher").restarts
            supervisor.check()
            if supervisor.child("crasher").restarts > restarts:
                starts.append(time.monotonic())
            time.sleep(0.02)
    finally:
        supervisor.stop_all()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 3, gaps  # 0.5 s, 1 s, 2 s: the next (4 s) is not due yet
    for gap, backoff in zip(gaps, [0.5, 1.0, 2.0], strict=True):
        assert backoff <= gap < backoff + 0.5, gaps
    assert "crasher (pid" in caplog.text and "exited with code 3" in caplog.text


def test_a_child_that_stayed_up_long_enough_starts_again_from_the_first_back_off(monkeypatch):
    monkeypatch.setattr(supervisor_module, "STABLE_AFTER", 0.3)
    supervisor = Supervisor({"sleeper": [sys.executable, "-c", "import time; time.sleep(0.4)"]})
    try:
        supervisor.start_all()
        deadline = time.monotonic() + 5
        while supervisor.child("sleeper").restarts < 3 and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.02)
    finally:
        supervisor.stop_all()
    assert supervisor.child("sleeper").restarts == 3
    assert supervisor.child("sleeper").backoff == supervisor_module.INITIAL_BACKOFF * 2  # never grew


def test_several_web_processes_share_the_port_and_one_killed_is_replaced_on_the_same_socket(
        tmp_path, migrated_db_file):
    serve = Serve(tmp_path, migrated_db_file, "--web-processes", "2")
    try:
        webs = serve.children(b"daphne")
        assert len(webs) == 2 and all(b"--fd" in command_line(pid) for pid in webs)
        # Each process answers on the one socket: with one stopped, the other takes every connection.
        os.kill(webs[0], signal.SIGSTOP)
        try:
            assert all(serve.answers() for _ in range(5))
        finally:
            os.kill(webs[0], signal.SIGCONT)

        os.kill(webs[1], signal.SIGKILL)
        assert all(serve.answers() for _ in range(5))  # the other one answers meanwhile
        serve.wait_for(lambda: len(serve.children(b"daphne")) == 2, "replacement web process", timeout=20)
        replacement = next(pid for pid in serve.children(b"daphne") if pid not in webs)
        os.kill(webs[0], signal.SIGSTOP)  # now only the replacement can answer: it accepts on the socket
        try:
            assert all(serve.answers() for _ in range(3))
        finally:
            os.kill(webs[0], signal.SIGCONT)
        assert f"web-2 (pid {webs[1]}) was killed by SIGKILL" in serve.output()
        assert replacement != webs[1]
    finally:
        serve.close()
