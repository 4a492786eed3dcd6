"""What makes the API fast under load, and the benchmark that measures it (`manage.py bench_api`).

Signed calls take their own way through the ASGI server (designer/api_asgi.py) and SQLite writers take
turns on locks (designer/sqlite/base.py). Nothing here measures time: the benchmark does.
"""

import fcntl
import json
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request

import pytest
from django.db import OperationalError, connections, transaction

from designer.api_asgi import is_api_call
from tests.live import ROOT, server_env


def _post(url: str, headers: dict) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url + "/", data=b"{}", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _scope(target: str | None, method="POST", path="/") -> dict:
    headers = [(b"host", b"127.0.0.1")] + ([(b"x-amz-target", target.encode())] if target else [])
    return {"type": "http", "method": method, "path": path, "headers": headers}


def test_signed_api_calls_take_the_pool_and_long_running_ones_keep_a_thread_each():
    assert is_api_call(_scope("AWSStepFunctions.StartExecution"))
    assert is_api_call(_scope("AWSStepFunctions.ListStateMachines"))
    # User code may run for minutes in these: a thread of their own, as every page has.
    assert not is_api_call(_scope("AWSStepFunctions.StartSyncExecution"))
    assert not is_api_call(_scope("AWSStepFunctions.TestState"))
    assert not is_api_call(_scope(None))
    assert not is_api_call(_scope("AWSStepFunctions.ListStateMachines", method="GET"))
    assert not is_api_call(_scope("AWSStepFunctions.ListStateMachines", path="/admin/"))


def test_an_unsigned_api_call_is_refused_with_aws_error_and_the_nosniff_header(daphne_server):
    status, headers, body = _post(daphne_server.url, {
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_api_call_to_a_host_not_allowed_is_a_bad_request_not_an_error(daphne_server):
    status, _, _ = _post(daphne_server.url, {"Host": "evil.example", "X-Amz-Target":
                                             "AWSStepFunctions.ListStateMachines"})
    assert status == 400


def test_bench_api_drives_a_real_server_and_prints_its_table(tmp_path):
    env = server_env(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "bench_api", "--seconds", "1", "--threads", "2",
         "--no-postgres"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:6] == ["operation", "database", "web", "workers", "calls", "calls/s"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert set(rows) == {"StartExecution", "DescribeExecution", "ListStateMachines"}
    for operation, row in rows.items():
        database, web, workers, calls, errors = row[1], row[2], row[3], int(row[4]), int(row[8])
        assert (database, web, workers) == ("sqlite", "1", "1")
        assert calls > 0 and errors == 0, f"{operation}: {row}"
    assert "StartExecution on sqlite:" in result.stdout


# -- SQLite writers take turns ---------------------------------------------------------------------
_HOLDER = textwrap.dedent("""
    import sys
    import django
    django.setup()
    from django.db import connection, transaction
    with transaction.atomic():
        connection.cursor().execute("CREATE TABLE IF NOT EXISTS held (x)")
        print("in a transaction", flush=True)
        sys.stdin.readline()
    print("committed", flush=True)
""")


def _turn_is_free(lock_file) -> bool:
    with open(lock_file, "a+") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


def test_a_process_in_a_sqlite_write_transaction_holds_the_writers_turn_until_it_commits(tmp_path):
    env = {**server_env(tmp_path), "DJANGO_SETTINGS_MODULE": "designer.settings"}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "in a transaction"
        lock_file = tmp_path / "db.sqlite3-writers"
        assert not _turn_is_free(lock_file)  # another process's BEGIN waits here, woken at COMMIT
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed"
        assert _turn_is_free(lock_file)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.django_db(transaction=True)
def test_the_writers_turn_is_given_back_whether_a_transaction_commits_or_rolls_back():
    from designer.models import Tag
    from designer.sqlite.base import _write_turn

    if connections["default"].vendor != "sqlite":
        pytest.skip("the turn is SQLite's")
    with transaction.atomic():
        assert _write_turn.locked()
    assert not _write_turn.locked()
    with pytest.raises(LookupError), transaction.atomic():
        Tag.objects.count()
        assert _write_turn.locked()
        raise LookupError("rolled back")
    assert not _write_turn.locked()


@pytest.mark.django_db(transaction=True)
def test_a_writer_that_cannot_get_its_turn_fails_as_sqlite_would_instead_of_hanging(monkeypatch):
    if connections["default"].vendor != "sqlite":
        pytest.skip("the turn is SQLite's")
    monkeypatch.setitem(connections["default"].settings_dict["OPTIONS"], "timeout", 0.2)
    errors = []

    def other_writer():
        try:
            with transaction.atomic():
                pass
        except OperationalError as error:
            errors.append(str(error))
        finally:
            connections.close_all()

    with transaction.atomic():  # holds the turn while the other thread asks for it
        waiting = threading.Thread(target=other_writer)
        waiting.start()
        waiting.join(60)
    assert not waiting.is_alive()
    assert errors == ["database is locked"]
