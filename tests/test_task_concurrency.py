"""A db_worker calls Task functions on a bounded pool of threads (STEPWISE_TASK_THREADS): a slow function
holds up no other execution, and the at-most-once rule holds for every call in flight. Real worker
processes on a SQLite file, as in test_workers.py."""

import time
from datetime import datetime

import pytest

from tests.durable import Deployment
from tests.test_workers import LAMBDA, STATUS, create_machine, start

THREE_PASSES = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Pass", "End": True}}}
NAP = {"StartAt": "Nap", "States": {"Nap": {"Type": "Task", "Resource": LAMBDA + "sleepy", "End": True}}}


@pytest.fixture
def deployment(tmp_path, migrated_db_file):
    deployment = Deployment.sqlite(tmp_path, template=migrated_db_file, STEPWISE_TASK_LEASE_SECONDS="1")
    yield deployment
    deployment.close()


def seconds(start, stop) -> float:
    return (datetime.fromisoformat(str(stop)) - datetime.fromisoformat(str(start))).total_seconds()


def test_a_short_execution_finishes_in_under_a_second_while_a_10_s_function_runs(deployment):
    create_machine(deployment, "slow", NAP)
    create_machine(deployment, "quick", THREE_PASSES)
    deployment.start_worker()  # one worker, `make run`'s default of threads
    start(deployment, "slow", "slow", {"sleep": 10})
    deployment.wait_for_calls(1)  # the 10 s function is running in the worker ...
    began = time.monotonic()
    start(deployment, "quick", "quick")  # ... and this one does not wait for it
    deployment.wait_until(STATUS, "SUCCEEDED", params=("quick",), timeout=5)
    waited = time.monotonic() - began
    assert waited < 1.0, waited
    dates = deployment.sql("SELECT start_date, stop_date FROM designer_execution WHERE name='quick'")
    took = seconds(*dates[0])
    assert took < 1.0, took
    assert deployment.scalar(STATUS, ("slow",)) == "RUNNING"
    # The slow call reports its result from its thread, as it did from the worker's own.
    deployment.wait_until(STATUS, "SUCCEEDED", params=("slow",), timeout=20)
    assert deployment.sql("SELECT status FROM designer_taskattempt") == [("SUCCEEDED",)]


def test_when_every_thread_is_busy_the_next_attempt_waits_for_one_and_is_not_lost(deployment):
    create_machine(deployment, "nap", NAP)
    deployment.start_worker(STEPWISE_TASK_THREADS="1")
    for name in ("first", "second"):
        start(deployment, "nap", name, {"sleep": 1.5})
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status='SUCCEEDED'", 2, timeout=20)
    attempts = deployment.sql("SELECT status, started_at, finished_at FROM designer_taskattempt ORDER BY id")
    assert [a[0] for a in attempts] == ["SUCCEEDED", "SUCCEEDED"]
    # One thread: the second was claimed (its lease started) only once the first call had ended.
    assert datetime.fromisoformat(str(attempts[1][1])) >= datetime.fromisoformat(str(attempts[0][2]))
    assert deployment.call_count() == 2


def test_killed_worker_with_several_calls_in_flight_each_is_lost_once_and_never_run_again(deployment):
    create_machine(deployment, "nap", NAP)
    doomed = deployment.start_worker()
    for name in ("a", "b", "c"):
        start(deployment, "nap", name, {"sleep": 60})
    deployment.wait_for_calls(3)  # three calls running at once in one worker ...
    doomed.kill()  # ... which dies without a word
    deployment.start_worker()
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status='FAILED'", 3, timeout=20)
    attempts = deployment.sql("SELECT status, error FROM designer_taskattempt")
    assert attempts == [("LOST", "States.TaskFailed")] * 3
    assert deployment.sql("SELECT DISTINCT error FROM designer_execution") == [("States.TaskFailed",)]
    time.sleep(1.5)  # longer than a lease: nothing runs any of them again
    assert deployment.call_count() == 3


def test_sigterm_lets_the_running_calls_finish_and_report(deployment):
    create_machine(deployment, "nap", NAP)
    worker = deployment.start_worker()
    start(deployment, "nap", "nap", {"sleep": 2})
    deployment.wait_for_calls(1)
    worker.process.terminate()
    worker.process.wait(15)
    assert deployment.scalar(STATUS, ("nap",)) == "SUCCEEDED"
    assert deployment.sql("SELECT status FROM designer_taskattempt") == [("SUCCEEDED",)]
