"""Activities with real parts: daphne and a db_worker, the shipped worker script as a real process, and
open long polls that hold no thread.

The server's long poll is shortened (STEPWISE_ACTIVITY_POLL_SECONDS) so that an empty answer comes
within the test; everything else is as deployed.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ReadTimeoutError

from tests.live import ROOT
from tests.test_api_boto3 import ROLE, Api

POLL_SECONDS = 6.0
ACTIVITY_ARN = "arn:aws:states:us-east-1:123456789012:activity:"


@pytest.fixture(scope="module")
def api(tmp_path_factory, migrated_db_file):
    before = os.environ.get("STEPWISE_ACTIVITY_POLL_SECONDS")
    os.environ["STEPWISE_ACTIVITY_POLL_SECONDS"] = str(POLL_SECONDS)
    try:
        api = Api(tmp_path_factory.mktemp("activities"), migrated_db_file)
    finally:
        if before is None:
            del os.environ["STEPWISE_ACTIVITY_POLL_SECONDS"]
        else:
            os.environ["STEPWISE_ACTIVITY_POLL_SECONDS"] = before
    yield api
    api.close()


@pytest.fixture(scope="module")
def sfn(api):
    return api.client()


def poller(api):
    """A client for long polls: it waits longer than a poll lasts, as AWS advises (65 s or more)."""
    return api.client(read_timeout=70)


def activity_machine(sfn, name: str, activity: str, **task_fields) -> str:
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": ACTIVITY_ARN + activity, "End": True, **task_fields}}}
    created = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    return created["stateMachineArn"]


def all_finished(sfn, execution_arns: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    pending, done = set(execution_arns), {}
    while pending and time.monotonic() < deadline:
        for execution_arn in list(pending):
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                done[execution_arn] = described
                pending.discard(execution_arn)
        time.sleep(0.2)
    assert not pending, f"{len(pending)} executions still RUNNING after {timeout}s"
    return done


def test_the_shipped_worker_runs_40_tasks_each_handed_out_once(api, sfn, tmp_path):
    activity_arn = sfn.create_activity(name="work")["activityArn"]
    machine_arn = activity_machine(sfn, "uses-work", "work", HeartbeatSeconds=20, TimeoutSeconds=120)
    execution_arns = [sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"i": index}))
                      ["executionArn"] for index in range(40)]
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "activity_worker.py"), activity_arn,
             "--endpoint-url", api.url, "--threads", "5", "--heartbeat", "1", "--name", "copy"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": api.key_id, "AWS_SECRET_ACCESS_KEY": api.secret,
                 "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        done = all_finished(sfn, execution_arns, timeout=90)
    finally:
        worker.send_signal(signal.SIGINT)  # Ctrl-C: it stops cleanly, at once when idle
        try:
            code = worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise AssertionError("the worker did not stop on Ctrl-C\n" + log.read_text()) from None
    assert code == 0, log.read_text()
    assert {described["status"] for described in done.values()} == {"SUCCEEDED"}, log.read_text()
    workers = set()
    for index, execution_arn in enumerate(execution_arns):
        assert json.loads(done[execution_arn]["output"])["input"] == {"i": index}
        events = sfn.get_execution_history(executionArn=execution_arn)["events"]
        started = [event for event in events if event["type"] == "ActivityStarted"]
        assert len(started) == 1  # handed out once
        workers.add(started[0]["activityStartedEventDetails"]["workerName"])
        assert [event["type"] for event in events].count("ActivitySucceeded") == 1
    assert workers <= {f"copy-{index}" for index in range(5)} and len(workers) >= 2
    assert api.deployment.scalar("SELECT count(*) FROM designer_tasktoken WHERE kind = 'activity' "
                                 "AND status = 'SUCCEEDED' AND started_at IS NOT NULL") == 40


def test_a_worker_killed_mid_task_times_out_on_its_heartbeat_and_retry_hands_the_task_to_another(
        api, sfn, tmp_path):
    activity_arn = sfn.create_activity(name="fragile")["activityArn"]
    machine_arn = activity_machine(
        sfn, "uses-fragile", "fragile", HeartbeatSeconds=2, TimeoutSeconds=120,
        Retry=[{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    # The work takes longer than the test: the worker is killed while it runs, heartbeating until then.
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"sleep": 300}')["executionArn"]
    log = tmp_path / "doomed.log"
    with open(log, "wb") as out:
        doomed = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "activity_worker.py"), activity_arn,
             "--endpoint-url", api.url, "--threads", "1", "--heartbeat", "0.5", "--name", "doomed"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": api.key_id, "AWS_SECRET_ACCESS_KEY": api.secret,
                 "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        deadline = time.monotonic() + 30
        while not [event for event in sfn.get_execution_history(executionArn=execution_arn)["events"]
                   if event["type"] == "ActivityStarted"]:
            assert time.monotonic() < deadline, "the worker never took the task\n" + log.read_text()
            time.sleep(0.1)
        time.sleep(2.5)  # its heartbeats keep the task alive past HeartbeatSeconds while it lives
        assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    finally:
        doomed.send_signal(signal.SIGKILL)  # dies mid-task: no answer, no more heartbeats
        doomed.wait(10)

    # Another poller, started after the death, gets the retried task and completes it.
    rescuer = poller(api)
    deadline = time.monotonic() + 30
    while True:
        task = rescuer.get_activity_task(activityArn=activity_arn, workerName="rescuer")
        if task.get("taskToken"):
            break
        assert time.monotonic() < deadline, "the retry never reached another poller"
    assert json.loads(task["input"]) == {"sleep": 300}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"rescued": true}')
    described = all_finished(sfn, [execution_arn], timeout=20)[execution_arn]
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"rescued": True}

    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    kinds = [event["type"] for event in events if event["type"].startswith("Activity")]
    assert kinds == ["ActivityScheduled", "ActivityStarted", "ActivityTimedOut",
                     "ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    timed_out = next(event for event in events if event["type"] == "ActivityTimedOut")
    assert timed_out["activityTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"
    workers = [event["activityStartedEventDetails"]["workerName"] for event in events
               if event["type"] == "ActivityStarted"]
    assert workers == ["doomed-0", "rescuer"]  # each attempt handed out once
    tokens = api.deployment.sql(
        "SELECT t.token, t.status FROM designer_tasktoken t "
        "JOIN designer_execution e ON e.id = t.execution_id "
        "WHERE e.arn = ? ORDER BY t.id", (execution_arn,))
    assert [status for _, status in tokens] == ["TIMED_OUT", "SUCCEEDED"]
    # A late answer on the dead worker's token (a restarted worker finishing its work) is refused.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=tokens[0][0], output="{}")


def _timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_100_open_polls_leave_pages_and_api_calls_answering(api, sfn):
    # AWS advises keeping at least 100 polls open per activity ARN: one daphne holds them all.
    activity_arn = sfn.create_activity(name="idle")["activityArn"]
    machine_arn = activity_machine(sfn, "uses-idle", "idle")
    results: list[dict] = []
    lock = threading.Lock()

    def poll():
        client = poller(api)
        started = time.monotonic()
        answer = client.get_activity_task(activityArn=activity_arn, workerName="p")
        with lock:
            results.append({"answer": answer, "seconds": time.monotonic() - started})

    threads = [threading.Thread(target=poll) for _ in range(100)]
    opened = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # every poll has reached the server and waits there
    assert not results, "a poll answered before its wait without a task"

    page = urllib.request.urlopen(api.url + "/accounts/login/", timeout=5)
    page_seconds = _timed(lambda: urllib.request.urlopen(api.url + "/accounts/login/", timeout=5).read())
    api_seconds = _timed(lambda: sfn.list_state_machines())
    assert page.status == 200
    assert page_seconds < 1.0 and api_seconds < 1.0, (page_seconds, api_seconds)

    # A task scheduled now reaches one of the waiting polls, and only one.
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"x": 1}')["executionArn"]
    for thread in threads:
        thread.join(POLL_SECONDS + 10)
    elapsed = time.monotonic() - opened
    assert len(results) == 100 and elapsed < POLL_SECONDS + 8
    handed = [result for result in results if result["answer"].get("taskToken")]
    assert len(handed) == 1
    assert json.loads(handed[0]["answer"]["input"]) == {"x": 1}
    assert handed[0]["seconds"] < POLL_SECONDS - 1  # it did not wait for the end of its poll
    empty = [result for result in results if not result["answer"].get("taskToken")]
    # The others found nothing: an empty answer after their wait, as AWS's null taskToken.
    assert all(result["seconds"] >= POLL_SECONDS - 0.5 for result in empty)
    sfn.send_task_success(taskToken=handed[0]["answer"]["taskToken"], output='"ok"')
    assert all_finished(sfn, [execution_arn], timeout=20)[execution_arn]["status"] == "SUCCEEDED"


def test_a_poll_ends_empty_after_its_wait_and_a_client_that_leaves_takes_no_task(api, sfn):
    activity_arn = sfn.create_activity(name="quiet")["activityArn"]
    seconds = _timed(lambda: poller(api).get_activity_task(activityArn=activity_arn))
    assert POLL_SECONDS - 0.5 <= seconds < POLL_SECONDS + 3
    # A client that gives up (its read timeout) leaves no poll behind that would take a task.
    impatient = api.client(read_timeout=1)
    with pytest.raises(ReadTimeoutError):
        impatient.get_activity_task(activityArn=activity_arn)
    machine_arn = activity_machine(sfn, "uses-quiet", "quiet")
    sfn.start_execution(stateMachineArn=machine_arn, input="{}")
    time.sleep(1.0)
    answer = poller(api).get_activity_task(activityArn=activity_arn, workerName="late")
    assert answer.get("taskToken"), "the task went to the poll whose client had left"
    sfn.send_task_success(taskToken=answer["taskToken"], output="{}")


def test_activity_errors_through_boto3(api, sfn):
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=ACTIVITY_ARN + "nope")
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        poller(api).get_activity_task(activityArn=ACTIVITY_ARN + "nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.get_activity_task(activityArn="arn:aws:states:us-east-1:123456789012:stateMachine:x")
    first = sfn.create_activity(name="twice")
    assert sfn.create_activity(name="twice")["activityArn"] == first["activityArn"]
    names = [item["name"] for page in sfn.get_paginator("list_activities").paginate(PaginationConfig={
        "PageSize": 1}) for item in page["activities"]]
    assert "twice" in names and names == sorted(names)
