"""Callbacks with real parts: boto3 and the AWS CLI against daphne and a db_worker, the two-answers race
between two processes on PostgreSQL, and a wait that outlives every process."""

import json
import subprocess
import sys
import time

import pytest

from tests.durable import Deployment, postgres_available
from tests.live import ROOT
from tests.test_api_boto3 import ROLE, Api, aws_cli, error_code, raw

CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def waiting(**task_fields) -> dict:
    states = {"Ask": {"Type": "Task", "Resource": CALLBACK, "Next": "Done",
                      "Parameters": {"FunctionName": "notify_reviewer",
                                     "Payload": {"token.$": "$$.Task.Token", "order.$": "$"}},
                      **task_fields},
              "Done": {"Type": "Pass", "End": True}}
    if "Catch" in task_fields:
        states["Caught"] = {"Type": "Pass", "End": True}
    return {"StartAt": "Ask", "States": states}


@pytest.fixture(scope="module")
def api(tmp_path_factory, migrated_db_file):
    api = Api(tmp_path_factory.mktemp("callbacks"), migrated_db_file)
    yield api
    api.close()


@pytest.fixture(scope="module")
def sfn(api):
    return api.client()


_names = iter(range(10**6))


def start(sfn, **task_fields) -> str:
    name = f"cb-{next(_names)}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(waiting(**task_fields)), roleArn=ROLE)
    return sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"id": 7}')["executionArn"]


def token_of(deployment: Deployment, execution_arn: str, timeout: float = 20) -> str:
    """The open token of the execution, once its request was made (TaskSubmitted)."""
    query = ("SELECT t.token FROM designer_tasktoken t JOIN designer_execution e ON e.id = t.execution_id "
             "JOIN designer_historyevent h ON h.execution_id = e.id AND h.type = 'TaskSubmitted' "
             "WHERE e.arn = ? AND t.status = 'OPEN'")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = deployment.sql(query, (execution_arn,))
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError(f"no open token for {execution_arn}\n{deployment.logs()}")


def finished(sfn, execution_arn: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still RUNNING after {timeout}s")


def events(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def test_boto3_answers_a_callback_and_the_execution_continues(api, sfn):
    execution_arn = start(sfn)
    token = token_of(api.deployment, execution_arn)
    history = events(sfn, execution_arn)
    submitted = next(e for e in history if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert submitted["resourceType"] == "lambda" and json.loads(submitted["output"])["StatusCode"] == 200
    scheduled = next(e for e in history if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert json.loads(scheduled["parameters"])["Payload"]["token"] == token

    sfn.send_task_heartbeat(taskToken=token)  # no HeartbeatSeconds: accepted, changes nothing
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    described = finished(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"approved": True}
    types = [e["type"] for e in events(sfn, execution_arn)]
    assert types[types.index("TaskSubmitted"):][:3] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited"]


def test_every_error_code_through_boto3(api, sfn):
    execution_arn = start(sfn)
    token = token_of(api.deployment, execution_arn)
    assert error_code(sfn.send_task_success, taskToken="A" * 64, output="{}") == "InvalidToken"
    assert error_code(sfn.send_task_success, taskToken="not a token", output="{}") == "InvalidToken"
    assert error_code(sfn.send_task_failure, taskToken="A" * 64) == "InvalidToken"
    assert error_code(sfn.send_task_heartbeat, taskToken="A" * 64) == "InvalidToken"
    assert error_code(sfn.send_task_success, taskToken=token, output="{not json") == "InvalidOutput"
    assert error_code(sfn.send_task_success, taskToken=token, output="NaN") == "InvalidOutput"
    assert error_code(sfn.send_task_success, taskToken=token, output="") == "InvalidOutput"
    keys = (api.key_id, api.secret)  # boto3 refuses these itself: sent raw, as another client could
    for bad in ("", "x" * 2049):  # botocore's model: 1 to 2048 characters
        body = json.dumps({"taskToken": bad, "output": "{}"}).encode()
        assert raw(api, "SendTaskSuccess", body, sign_with=keys)[1]["__type"] == "ValidationException"
    sfn.send_task_success(taskToken=token, output='"done"')
    assert error_code(sfn.send_task_success, taskToken=token, output='"again"') == "TaskTimedOut"
    assert error_code(sfn.send_task_failure, taskToken=token, error="E") == "TaskTimedOut"
    assert error_code(sfn.send_task_heartbeat, taskToken=token) == "TaskTimedOut"
    assert finished(sfn, execution_arn)["output"] == '"done"'

    stopped = start(sfn)
    stopped_token = token_of(api.deployment, stopped)
    sfn.stop_execution(executionArn=stopped)
    assert error_code(sfn.send_task_success, taskToken=stopped_token, output="{}") == "TaskTimedOut"


def test_the_aws_cli_sends_success_and_failure_caught_by_catch(api, sfn):
    approved = start(sfn)
    aws_cli(api, "send-task-success", "--task-token", token_of(api.deployment, approved),
            "--task-output", '{"by": "cli"}')
    assert json.loads(finished(sfn, approved)["output"]) == {"by": "cli"}

    rejected = start(sfn, Catch=[{"ErrorEquals": ["Rejected"], "Next": "Caught"}])
    aws_cli(api, "send-task-failure", "--task-token", token_of(api.deployment, rejected),
            "--error", "Rejected", "--cause", "not this time")
    described = finished(sfn, rejected)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"Error": "Rejected", "Cause": "not this time"}


def test_timeout_and_heartbeat_deadlines_end_the_wait_on_the_worker(api, sfn):
    timed_out = start(sfn, TimeoutSeconds=1)
    token = token_of(api.deployment, timed_out)
    described = finished(sfn, timed_out)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    assert error_code(sfn.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"

    quiet = start(sfn, HeartbeatSeconds=1,
                  Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Caught"}])
    token_of(api.deployment, quiet)
    described = finished(sfn, quiet)
    assert json.loads(described["output"])["Error"] == "States.HeartbeatTimeout"
    timed = next(e for e in events(sfn, quiet) if e["type"] == "TaskTimedOut")["taskTimedOutEventDetails"]
    assert timed["error"] == "States.HeartbeatTimeout"


def test_a_token_wait_survives_a_restart_of_every_process(api, sfn):
    execution_arn = start(sfn)
    token = token_of(api.deployment, execution_arn)
    for worker in api.deployment.workers:
        worker.kill()
    api.server.stop()
    api.server.start()
    api.deployment.start_worker()
    client = api.client()
    assert client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    client.send_task_success(taskToken=token, output='"after the restart"')
    assert finished(client, execution_arn)["output"] == '"after the restart"'


# -- two answers at the same time, on PostgreSQL, from two processes --------------------------------
_ANSWER = """
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "designer.settings")
import django
django.setup()
from designer import runtime
tokens, label, at = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, at - time.time()))
outcomes = []
for token in tokens:
    try:
        if label == "fail":
            runtime.send_task_failure(token, "Rejected", label)
        else:
            runtime.send_task_success(token, json.dumps(label))
        outcomes.append("applied")
    except runtime.StepwiseError as error:
        outcomes.append(error.code)
print(json.dumps(outcomes))
"""

RACES = 20


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_of_two_answers_at_the_same_time_exactly_one_applies_on_postgresql(tmp_path):
    deployment = Deployment.postgres(tmp_path)
    try:
        definition = json.dumps(waiting(Catch=[{"ErrorEquals": ["Rejected"], "Next": "Caught"}]))
        deployment.django(
            f"from designer import runtime\nm = runtime.create_state_machine('race', {definition!r})\n"
            f"for i in range({RACES}): runtime.start_execution(m, '{{}}', name=f'r{{i}}')\n")
        deployment.start_worker()
        deployment.wait_until("SELECT count(*) FROM designer_historyevent WHERE type = 'TaskSubmitted'",
                              RACES, timeout=60)
        tokens = [row[0] for row in deployment.sql("SELECT token FROM designer_tasktoken ORDER BY id")]
        at = time.time() + 3  # both processes are up (Django loaded) before then
        processes = [subprocess.Popen([sys.executable, "-c", _ANSWER, json.dumps(tokens), label, str(at)],
                                      cwd=ROOT, env=deployment.env, stdout=subprocess.PIPE, text=True)
                     for label in ("succeed", "fail")]
        outcomes = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
        for succeeded, failed in zip(*outcomes, strict=True):
            assert sorted([succeeded, failed]) == ["TaskTimedOut", "applied"], outcomes
        deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status = 'SUCCEEDED'", RACES,
                              timeout=60)
        for name, applied in zip((f"r{i}" for i in range(RACES)), outcomes[0], strict=True):
            answers = deployment.scalar(
                "SELECT count(*) FROM designer_historyevent h JOIN designer_execution e "
                "ON e.id = h.execution_id WHERE e.name = ? AND h.type IN ('TaskSucceeded', 'TaskFailed')",
                (name,))
            output = deployment.scalar("SELECT output FROM designer_execution WHERE name = ?", (name,))
            assert answers == 1
            assert ("succeed" in output) == (applied == "applied"), (name, output)
        assert {"applied", "TaskTimedOut"} <= set(outcomes[0]) | set(outcomes[1])
    finally:
        deployment.close()
