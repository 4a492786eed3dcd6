"""The callbacks and activities benchmark (`manage.py bench_callbacks`) runs tiny against a real server and
prints its table. It measures; nothing here asserts a speed."""

import subprocess
import sys

from tests.live import ROOT, server_env

MEASURES = ("SendTaskSuccess call", "callback: call to next state", "activity: scheduled to poller")


def test_bench_callbacks_drives_a_real_server_and_prints_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "bench_callbacks", "--callbacks", "12", "--threads", "3",
         "--polls", "6", "--activity-tasks", "8"],
        cwd=ROOT, env=server_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["measure", "count", "per", "s", "p50", "ms", "p99", "ms", "max", "ms",
                                "errors"]
    rows = {line[:34].strip(): line[34:].split() for line in lines[1:4]}
    assert tuple(rows) == MEASURES
    expected_counts = {"SendTaskSuccess call": 12, "callback: call to next state": 12,
                       "activity: scheduled to poller": 8}
    for measure, (count, per_second, p50, p99, largest, errors) in rows.items():
        assert int(count) == expected_counts[measure] and int(errors) == 0, (measure, result.stdout)
        assert float(per_second) > 0, (measure, result.stdout)
        assert 0 < float(p50) <= float(p99) <= float(largest), (measure, result.stdout)
    assert "12 of 12 executions SUCCEEDED" in result.stdout
    assert ("6 open polls, all started at once; 8 of 8 executions SUCCEEDED; 8 tasks handed out"
            in result.stdout)
