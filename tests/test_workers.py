"""Durability with real parts: `db_worker` processes on a SQLite file (and on PostgreSQL when one runs
at 127.0.0.1:5432), killed with SIGKILL, restarted, racing each other."""

import json
import os

import pytest

from tests.durable import Deployment, postgres_available

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
STATUS = "SELECT status FROM designer_execution WHERE name = ?"
NO_CRASHES = "SELECT task_path FROM django_tasks_database_dbtaskresult WHERE status = 'FAILED'"


@pytest.fixture
def deployment(tmp_path, migrated_db_file):
    deployment = Deployment.sqlite(tmp_path, template=migrated_db_file, STEPWISE_TASK_LEASE_SECONDS="1")
    yield deployment
    deployment.close()


def create_machine(deployment, name, definition, machine_type="STANDARD"):
    deployment.django(
        "from designer import runtime\n"
        f"runtime.create_state_machine({name!r}, {json.dumps(definition)!r}, {machine_type!r})\n")


def start(deployment, machine, name, input_value=None):
    deployment.django(
        "from designer import runtime\nfrom designer.models import StateMachine\n"
        f"runtime.start_execution(StateMachine.objects.get(name={machine!r}),"
        f" {json.dumps(input_value or {})!r}, name={name!r})\n")


def test_an_execution_runs_to_its_end_on_a_real_worker(deployment):
    create_machine(deployment, "squares", {"StartAt": "Square", "States": {
        "Square": {"Type": "Task", "Resource": LAMBDA + "square", "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}}})
    start(deployment, "squares", "seven", {"n": 7})
    deployment.start_worker()
    deployment.wait_until(STATUS, "SUCCEEDED", params=("seven",))
    assert deployment.scalar("SELECT output FROM designer_execution WHERE name='seven'") == "49"
    assert deployment.sql(NO_CRASHES) == []


def test_killed_worker_mid_task_the_attempt_is_lost_once_and_retry_decides(deployment):
    create_machine(deployment, "fragile", {"StartAt": "Slow", "States": {
        "Slow": {"Type": "Task", "Resource": LAMBDA + "slow_first_time", "End": True,
                 "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}]}}})
    start(deployment, "fragile", "crash", {"sleep": 60})
    doomed = deployment.start_worker()
    deployment.wait_for_calls(1)  # the function is running in the worker ...
    doomed.kill()  # ... which dies without a word
    deployment.start_worker()
    deployment.wait_until(STATUS, "SUCCEEDED", params=("crash",), timeout=20)
    attempts = deployment.sql("SELECT status, error FROM designer_taskattempt ORDER BY id")
    assert attempts[0][0] == "LOST" and attempts[0][1] == "States.TaskFailed"
    assert [a[0] for a in attempts] == ["LOST", "SUCCEEDED"]
    assert deployment.call_count() == 2  # the lost attempt was not run again: only Retry's attempt ran
    events = [e[0] for e in deployment.sql(
        "SELECT e.type FROM designer_historyevent e JOIN designer_execution x ON x.id = e.execution_id "
        "WHERE x.name='crash' ORDER BY e.seq")]
    assert events.count("LambdaFunctionStarted") == 2 and "LambdaFunctionFailed" in events


def test_killed_worker_mid_task_catch_decides(deployment):
    create_machine(deployment, "caught", {"StartAt": "Slow", "States": {
        "Slow": {"Type": "Task", "Resource": LAMBDA + "slow_first_time", "End": True,
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered"}]},
        "Recovered": {"Type": "Pass", "End": True}}})
    start(deployment, "caught", "crash", {"sleep": 60})
    doomed = deployment.start_worker()
    deployment.wait_for_calls(1)
    doomed.kill()
    deployment.start_worker()
    deployment.wait_until(STATUS, "SUCCEEDED", params=("crash",), timeout=20)
    output = json.loads(deployment.scalar("SELECT output FROM designer_execution WHERE name='crash'"))
    assert output["error"]["Error"] == "States.TaskFailed"
    assert deployment.call_count() == 1


def test_stop_during_a_task_on_a_real_worker(deployment):
    create_machine(deployment, "stoppable", {"StartAt": "Nap", "States": {
        "Nap": {"Type": "Task", "Resource": LAMBDA + "sleepy", "End": True}}})
    start(deployment, "stoppable", "nap", {"sleep": 3})
    deployment.start_worker()
    deployment.wait_for_calls(1)
    deployment.django(
        "from designer import runtime\nfrom designer.models import Execution\n"
        "runtime.stop_execution(Execution.objects.get(name='nap'), 'Stopped', 'by the test')\n")
    assert deployment.scalar(STATUS, ("nap",)) == "ABORTED"
    deployment.wait_until("SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status='RUNNING'", 0)
    assert deployment.sql("SELECT status FROM designer_taskattempt") == [("ABANDONED",)]
    assert deployment.scalar("SELECT output FROM designer_execution WHERE name='nap'") is None


DAY = 86400


def test_restart_with_executions_parked_on_waits_no_timer_fires_early_or_twice(deployment):
    """200 executions wait an hour, 300 days or 360 days. Every worker stops; time moves 330 days on
    (the rows' due times move back, the workers' execution clock forward); new workers start."""
    create_machine(deployment, "patient", {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}}})
    waits = {f"e{i}": [3600, 300 * DAY, 360 * DAY, 300 * DAY][i % 4] for i in range(200)}
    deployment.django(
        "from designer import runtime\nfrom designer.models import StateMachine\n"
        "m = StateMachine.objects.get(name='patient')\n"
        f"for name, seconds in {waits!r}.items():\n"
        "    runtime.start_execution(m, '{\"seconds\": %d}' % seconds, name=name)\n")
    first = deployment.start_worker()
    wakes = ("SELECT count(*) FROM django_tasks_database_dbtaskresult "
             "WHERE status='READY' AND task_path='designer.tasks.wake'")
    deployment.wait_until(wakes, 200, timeout=60)  # all parked: one row each, none due
    first.stop()
    assert deployment.scalar("SELECT count(*) FROM designer_execution WHERE status='RUNNING'") == 200
    shift = 330 * DAY
    ready = ("SELECT count(*) FROM django_tasks_database_dbtaskresult "
             "WHERE status='READY' AND task_path != 'designer.tasks.sweep'")
    assert deployment.scalar(ready) == 400  # each execution: its Wait, and its one-year time limit
    rows = deployment.sql("SELECT id, run_after FROM django_tasks_database_dbtaskresult WHERE status='READY'")
    from datetime import datetime, timedelta
    for row_id, run_after in rows:
        moved = (datetime.fromisoformat(str(run_after)) - timedelta(seconds=shift)).isoformat(sep=" ")
        deployment.sql("UPDATE django_tasks_database_dbtaskresult SET run_after = ? WHERE id = ?",
                       (moved.replace("+00:00", ""), row_id))
    deployment.start_worker(STEPWISE_CLOCK_OFFSET=str(shift))
    deployment.start_worker(STEPWISE_CLOCK_OFFSET=str(shift))
    due = sum(1 for seconds in waits.values() if seconds <= shift)
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status='SUCCEEDED'", due, timeout=60)
    assert deployment.scalar("SELECT count(*) FROM designer_execution WHERE status='RUNNING'") == 200 - due
    late = deployment.sql(
        "SELECT x.name, count(e.id) FROM designer_execution x LEFT JOIN designer_historyevent e "
        "ON e.execution_id = x.id AND e.type = 'WaitStateExited' GROUP BY x.name")
    for name, exits in late:
        assert exits == (1 if waits[name] <= shift else 0), name
    # Each Wait ended no earlier than it should have, by the execution clock.
    gaps = deployment.sql(
        "SELECT x.name, a.timestamp, b.timestamp FROM designer_execution x "
        "JOIN designer_historyevent a ON a.execution_id = x.id AND a.type = 'WaitStateEntered' "
        "JOIN designer_historyevent b ON b.execution_id = x.id AND b.type = 'WaitStateExited'")
    for name, entered, exited in gaps:
        waited = datetime.fromisoformat(str(exited)) - datetime.fromisoformat(str(entered))
        assert waited.total_seconds() >= waits[name], name


FANOUT = {"StartAt": "Both", "States": {
    "Both": {"Type": "Parallel", "Next": "Total", "Branches": [
        {"StartAt": "Squares", "States": {"Squares": {
            "Type": "Map", "ItemsPath": "$.numbers", "End": True,
            "ItemProcessor": {"StartAt": "Square", "States": {"Square": {
                "Type": "Task", "Resource": LAMBDA + "square", "Parameters": {"n.$": "$"}, "End": True}}}}}},
        {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
                                        "Echo": {"Type": "Pass", "InputPath": "$.numbers", "End": True}}},
    ]},
    "Total": {"Type": "Pass", "Parameters": {"squares.$": "$[0]", "numbers.$": "$[1]"}, "End": True},
}}


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_four_workers_on_postgres_race_without_duplicate_work(tmp_path):
    deployment = Deployment.postgres(tmp_path, STEPWISE_TASK_LEASE_SECONDS="5")
    try:
        create_machine(deployment, "fanout", FANOUT)
        # The full run is 500: STEPWISE_RACE_EXECUTIONS=500 (about two minutes on two cores).
        count = int(os.environ.get("STEPWISE_RACE_EXECUTIONS", "40"))
        deployment.django(
            "import json\nfrom designer import runtime\nfrom designer.models import StateMachine\n"
            "m = StateMachine.objects.get(name='fanout')\n"
            f"for i in range({count}):\n"
            "    numbers = [i, i + 1, i + 2]\n"
            "    runtime.start_execution(m, json.dumps({'numbers': numbers}), name=f'r{i}')\n")
        for _ in range(4):
            deployment.start_worker()
        deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status='SUCCEEDED'", count,
                              timeout=90 + count)
        for name, output in deployment.sql("SELECT name, output FROM designer_execution"):
            i = int(name[1:])
            numbers = [i, i + 1, i + 2]
            assert json.loads(output) == {"squares": [n * n for n in numbers], "numbers": numbers}
        # Every event id once per execution, no gaps; every attempt ran exactly once.
        for name, events, low, high in deployment.sql(
                "SELECT x.name, count(*), min(e.seq), max(e.seq) FROM designer_historyevent e "
                "JOIN designer_execution x ON x.id = e.execution_id GROUP BY x.name"):
            assert (events, low, high) == (high, 1, events), name
        attempts = deployment.sql("SELECT status, count(*) FROM designer_taskattempt GROUP BY status")
        assert attempts == [
            ("SUCCEEDED", 3 * count)]
        workers = deployment.scalar("SELECT count(DISTINCT worker) FROM designer_taskattempt")
        assert workers > 1  # the load was shared
        assert deployment.sql(NO_CRASHES) == []
    finally:
        deployment.close()


def test_async_express_restarts_from_the_beginning_when_its_worker_dies(deployment):
    create_machine(deployment, "quick", {"StartAt": "Slow", "States": {
        "Slow": {"Type": "Task", "Resource": LAMBDA + "slow_first_time", "End": True}}}, "EXPRESS")
    start(deployment, "quick", "once", {"sleep": 60})
    doomed = deployment.start_worker()
    deployment.wait_for_calls(1)
    doomed.kill()
    deployment.start_worker()
    deployment.wait_until(STATUS, "SUCCEEDED", params=("once",), timeout=20)
    assert deployment.scalar("SELECT runs FROM designer_execution WHERE name='once'") == 2  # at least once
    assert deployment.call_count() == 2
    assert deployment.scalar("SELECT count(*) FROM designer_historyevent") == 0


def test_worker_killed_in_the_middle_of_a_step_its_work_is_redone_once(deployment):
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(150)}
    states["P150"] = {"Type": "Pass", "End": True}
    create_machine(deployment, "heavy", {"StartAt": "P0", "States": states})
    start(deployment, "heavy", "big", {"blob": "x" * 200_000})  # each step writes ~60 MB of history
    doomed = deployment.start_worker()
    deployment.wait_until("SELECT count(*) FROM django_tasks_database_dbtaskresult "
                          "WHERE task_path = 'designer.tasks.advance' AND status = 'RUNNING'", 1)
    doomed.kill()
    assert deployment.scalar(STATUS, ("big",)) == "RUNNING"
    deployment.start_worker()
    deployment.wait_until(STATUS, "SUCCEEDED", params=("big",), timeout=30)
    events, low, high = deployment.sql(
        "SELECT count(*), min(seq), max(seq) FROM designer_historyevent")[0]
    assert (events, low, high) == (304, 1, 304)  # started, 151 entered/exited pairs, succeeded
    claims = [json.loads(row[0]) for row in deployment.sql(
        "SELECT worker_ids FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = 'designer.tasks.advance'")]
    assert [len(workers) for workers in claims] == [2]  # the dead worker's claim, then the sweep's requeue
