"""`manage.py serve`, the foreground process of `make run`: daphne plus one task worker."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.live import ROOT, Browser, free_port, migrated_database


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
