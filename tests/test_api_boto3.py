"""The AWS-compatible API with real clients: boto3 and the `aws` CLI against daphne on a free port,
with a real `db_worker` advancing Standard executions, all on one SQLite file."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.durable import Deployment
from tests.live import Browser, DaphneServer

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
ROLE = "arn:aws:iam::123456789012:role/stepwise"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": True}}}
SQUARE = {"StartAt": "Square", "States": {
    "Square": {"Type": "Task", "Resource": LAMBDA + "square", "Next": "Done"},
    "Done": {"Type": "Pass", "End": True}}}
WAIT_AN_HOUR = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


class Api:
    """A Stepwise server, a worker, a user with an access key, and clients for them."""

    def __init__(self, workdir: Path, template: Path):
        self.server = DaphneServer(workdir, template_db=template)
        # One environment for the server, the worker and manage.py: the same database and SECRET_KEY
        # (access key secrets are encrypted with a key derived from it).
        self.deployment = Deployment(workdir, self.server.env)
        self.server.start()
        self.worker = self.deployment.start_worker()
        self.url = self.server.url
        self.server.create_user("alice", "alice-pass-123")
        self.key_id, self.secret = self.create_key("alice")

    def create_key(self, username: str) -> tuple[str, str]:
        output = self.server.manage("create_access_key", username)
        printed = dict(line.split("=", 1) for line in output.split())
        return printed["AWS_ACCESS_KEY_ID"], printed["AWS_SECRET_ACCESS_KEY"]

    def client(self, key_id=None, secret=None, **config):
        return boto3.client(
            "stepfunctions", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=key_id or self.key_id, aws_secret_access_key=secret or self.secret,
            # StartSyncExecution and TestState go to a `sync-` host prefix on AWS: turn that off.
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, **config))

    def close(self):
        self.deployment.close()
        self.server.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory, migrated_db_file):
    api = Api(tmp_path_factory.mktemp("api"), migrated_db_file)
    yield api
    api.close()


@pytest.fixture(scope="module")
def sfn(api):
    return api.client()


def create(sfn, name, definition=PASS, **extra):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                    **extra)["stateMachineArn"]


def wait_for(sfn, execution_arn, status, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] == status:
            return described
        assert time.monotonic() < deadline, f"{described['status']} after {timeout}s, not {status}"
        time.sleep(0.1)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


# -- lifecycle -------------------------------------------------------------------------------------
def test_create_update_start_describe_and_history_of_a_standard_execution(sfn):
    machine_arn = create(sfn, "squares", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert machine_arn == "arn:aws:states:us-east-1:123456789012:stateMachine:squares"
    described = sfn.describe_state_machine(stateMachineArn=machine_arn)
    assert (described["name"], described["type"], described["status"]) == ("squares", "STANDARD", "ACTIVE")
    assert isinstance(described["creationDate"], datetime)

    updated = sfn.update_state_machine(stateMachineArn=machine_arn, definition=json.dumps(SQUARE))
    assert updated["revisionId"] == "2"
    assert json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]) == SQUARE

    started = sfn.start_execution(stateMachineArn=machine_arn, name="seven", input='{"n": 7}')
    assert started["executionArn"].endswith(":execution:squares:seven")
    done = wait_for(sfn, started["executionArn"], "SUCCEEDED")
    assert done["output"] == "49"
    assert done["input"] == '{"n": 7}'
    assert done["stopDate"] >= done["startDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"

    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [event["type"] for event in events] == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited",
        "ExecutionSucceeded"]
    assert [event["id"] for event in events] == list(range(1, 10))
    assert events[-1]["executionSucceededEventDetails"]["output"] == "49"
    newest_first = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True)
    assert [event["id"] for event in newest_first["events"]] == list(range(9, 0, -1))
    without_data = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)
    assert "output" not in without_data["events"][-1]["executionSucceededEventDetails"]

    # The revision an execution ran, even after the machine changes again.
    sfn.update_state_machine(stateMachineArn=machine_arn, definition=json.dumps(PASS))
    ran = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(ran["definition"]) == SQUARE

    listed = sfn.list_executions(stateMachineArn=machine_arn, statusFilter="SUCCEEDED")["executions"]
    assert [item["name"] for item in listed] == ["seven"]
    assert sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING")["executions"] == []


def test_history_pages_through_the_paginator(sfn):
    machine_arn = create(sfn, "paged-history", SQUARE)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"n": 3}')["executionArn"]
    wait_for(sfn, execution_arn, "SUCCEEDED")
    pages = list(sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 5
    assert [event["id"] for page in pages for event in page["events"]] == list(range(1, 10))


def test_stop_execution_aborts_it_with_the_error_and_cause(sfn):
    machine_arn = create(sfn, "waits-an-hour", WAIT_AN_HOUR)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name="stopped")["executionArn"]
    wait_for(sfn, execution_arn, "RUNNING")
    stopped = sfn.stop_execution(executionArn=execution_arn, error="Operator", cause="not needed")
    assert isinstance(stopped["stopDate"], datetime)
    described = sfn.describe_execution(executionArn=execution_arn)
    assert (described["status"], described["error"]) == ("ABORTED", "Operator")
    assert described["cause"] == "not needed"
    assert described["redriveStatus"] == "REDRIVABLE"
    last = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=1)["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Operator", "cause": "not needed"}


def test_redrive_a_failed_execution(sfn):
    machine_arn = create(sfn, "fails", SQUARE)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"no": "n"}')["executionArn"]
    failed = wait_for(sfn, execution_arn, "FAILED")
    assert failed["error"] == "KeyError"
    redriven = sfn.redrive_execution(executionArn=execution_arn)
    assert isinstance(redriven["redriveDate"], datetime)
    again = wait_for(sfn, execution_arn, "FAILED")
    assert again["redriveCount"] == 1
    types = [event["type"] for event in sfn.get_execution_history(executionArn=execution_arn)["events"]]
    assert "ExecutionRedriven" in types
    redriven_list = sfn.list_executions(stateMachineArn=machine_arn, redriveFilter="REDRIVEN")["executions"]
    assert [item["executionArn"] for item in redriven_list] == [execution_arn]
    succeeded = create(sfn, "succeeds-no-redrive")
    done_arn = sfn.start_execution(stateMachineArn=succeeded)["executionArn"]
    wait_for(sfn, done_arn, "SUCCEEDED")
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=done_arn)


def test_start_execution_is_idempotent_for_a_running_execution_and_rejects_another_input(sfn):
    machine_arn = create(sfn, "idempotent", WAIT_AN_HOUR)
    first = sfn.start_execution(stateMachineArn=machine_arn, name="once", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=machine_arn, name="once", input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine_arn, name="once", input='{"a": 2}')
    sfn.stop_execution(executionArn=first["executionArn"])


def test_delete_state_machine_stops_its_executions_and_is_idempotent(sfn):
    machine_arn = create(sfn, "to-delete", WAIT_AN_HOUR)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    sfn.delete_state_machine(stateMachineArn=machine_arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=machine_arn)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=execution_arn)
    sfn.delete_state_machine(stateMachineArn=machine_arn)  # AWS: deleting it again succeeds


def test_list_state_machines_pages_with_the_paginator(sfn):
    for index in range(5):
        create(sfn, f"listed-{index}")
    names = [machine["name"] for page in sfn.get_paginator("list_state_machines").paginate(
        PaginationConfig={"PageSize": 2}) for machine in page["stateMachines"]]
    assert [name for name in names if name.startswith("listed-")] == [f"listed-{i}" for i in range(5)]
    assert len(names) == len(set(names))
    first = sfn.list_state_machines(maxResults=2)
    assert len(first["stateMachines"]) == 2 and first["nextToken"]


# -- Express ---------------------------------------------------------------------------------------
def test_start_sync_execution_runs_an_express_machine_in_the_request(sfn):
    machine_arn = create(sfn, "express-sync", {"StartAt": "Square", "States": {
        "Square": {"Type": "Task", "Resource": LAMBDA + "square", "End": True}}}, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=machine_arn, input='{"n": 12}', name="twelve")
    assert (result["status"], result["output"], result["name"]) == ("SUCCEEDED", "144", "twelve")
    assert result["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:express-sync:")
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failed = sfn.start_sync_execution(stateMachineArn=machine_arn, input='{}')
    assert (failed["status"], failed["error"]) == ("FAILED", "KeyError")
    standard = create(sfn, "standard-not-sync")
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=standard)


def test_async_express_execution_runs_on_the_worker(sfn):
    machine_arn = create(sfn, "express-async", PASS, type="EXPRESS")
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    assert wait_for(sfn, execution_arn, "SUCCEEDED")["output"] == '{"x":1}'


# -- validation and TestState ----------------------------------------------------------------------
def test_validate_state_machine_definition_reports_diagnostics_with_locations(sfn):
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    result = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    assert result["result"] == "FAIL"
    expected = {"code": "MISSING_TRANSITION_TARGET", "location": "/States/A/Next", "severity": "ERROR"}
    assert expected.items() <= result["diagnostics"][0].items()
    assert result["truncated"] is False


def test_test_state_runs_one_state(sfn):
    pass_state = {"Type": "Pass", "Parameters": {"v.$": "$.a"}, "Next": "B"}
    passed = sfn.test_state(definition=json.dumps(pass_state), roleArn=ROLE, input='{"a": 5}',
                            inspectionLevel="DEBUG")
    assert (passed["status"], passed["output"], passed["nextState"]) == ("SUCCEEDED", '{"v":5}', "B")
    assert passed["inspectionData"]["input"] == '{"a":5}'
    chose = sfn.test_state(definition=json.dumps({"Type": "Choice", "Default": "Small", "Choices": [
        {"Variable": "$.a", "NumericGreaterThan": 3, "Next": "Big"}]}), roleArn=ROLE, input='{"a": 5}')
    assert chose["nextState"] == "Big"
    square = {"Type": "Task", "Resource": LAMBDA + "square", "End": True}
    squared = sfn.test_state(definition=json.dumps(square), roleArn=ROLE, input='{"n": 4}')
    assert (squared["status"], squared["output"]) == ("SUCCEEDED", "16")
    task = {"Type": "Task", "Resource": LAMBDA + "square", "End": True,
            "Retry": [{"ErrorEquals": ["Boom"]}], "Catch": [{"ErrorEquals": ["Other"], "Next": "Handler"}]}
    retriable = sfn.test_state(definition=json.dumps(task), roleArn=ROLE,
                               mock={"errorOutput": {"error": "Boom", "cause": "first"}})
    assert (retriable["status"], retriable["error"], retriable["cause"]) == ("RETRIABLE", "Boom", "first")
    caught = sfn.test_state(definition=json.dumps(task), roleArn=ROLE,
                            mock={"errorOutput": {"error": "Other", "cause": "c"}})
    assert (caught["status"], caught["nextState"], caught["error"]) == ("CAUGHT_ERROR", "Handler", "Other")
    machine = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $x + 1 %}", "End": True}}}
    with_variables = sfn.test_state(definition=json.dumps(machine), stateName="A", roleArn=ROLE,
                                    variables='{"x": 41}')
    assert with_variables["output"] == "42"
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.test_state(definition="{not json", roleArn=ROLE)


def test_test_state_at_debug_level_shows_each_stage_of_the_data_flow(sfn):
    task = {"Type": "Task", "Resource": LAMBDA + "square", "InputPath": "$.in", "Parameters": {"n.$": "$.n"},
            "ResultSelector": {"squared.$": "$"}, "ResultPath": "$.out", "OutputPath": "$.out", "End": True}
    info = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input='{"in": {"n": 3}}')
    assert (info["status"], info["output"]) == ("SUCCEEDED", '{"squared":9}')
    assert "inspectionData" not in info  # INFO: the answer only
    debug = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input='{"in": {"n": 3}}',
                           inspectionLevel="DEBUG")["inspectionData"]
    assert {key: json.loads(value) for key, value in debug.items()} == {
        "input": {"in": {"n": 3}}, "afterInputPath": {"n": 3}, "afterParameters": {"n": 3}, "result": 9,
        "afterResultSelector": {"squared": 9},
        "afterResultPath": {"in": {"n": 3}, "out": {"squared": 9}}}  # merged into the raw state input

    retrying = dict(task, Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 3, "MaxAttempts": 2}],
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handler"}])
    boom = {"errorOutput": {"error": "Boom", "cause": "c"}}
    retriable = sfn.test_state(definition=json.dumps(retrying), roleArn=ROLE, inspectionLevel="TRACE",
                               input='{"in": {"n": 3}}', mock=boom)
    assert retriable["status"] == "RETRIABLE"
    assert retriable["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 3}
    spent = sfn.test_state(definition=json.dumps(retrying), roleArn=ROLE, inspectionLevel="DEBUG",
                           input='{"in": {"n": 3}}', mock=boom, stateConfiguration={"retrierRetryCount": 2})
    assert (spent["status"], spent["nextState"]) == ("CAUGHT_ERROR", "Handler")
    assert spent["inspectionData"]["errorDetails"] == {"catchIndex": 0}

    mapped = {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "ToleratedFailurePercentage": 25,
              "ItemProcessor": {"StartAt": "Call", "States": {
                  "Call": {"Type": "Task", "Resource": LAMBDA + "square", "End": True}}}, "End": True}
    map_debug = sfn.test_state(definition=json.dumps(mapped), roleArn=ROLE, input='{"items": [1, 2]}',
                               inspectionLevel="DEBUG", mock={"result": '["a", "b"]'})
    assert map_debug["output"] == '["a","b"]'
    data = map_debug["inspectionData"]
    assert (json.loads(data["afterItemsPath"]), json.loads(data["afterItemSelector"])) == ([1, 2], [1, 2])
    assert (data["maxConcurrency"], data["toleratedFailurePercentage"]) == (4, 25.0)
    with_context = sfn.test_state(
        definition=json.dumps({"Type": "Pass", "Parameters": {"who.$": "$$.Execution.Name"}, "End": True}),
        roleArn=ROLE, context='{"Execution": {"Name": "nightly"}}')
    assert with_context["output"] == '{"who":"nightly"}'
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.test_state(definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                       stateName="B", roleArn=ROLE)
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn=ROLE,
                       mock={"result": "1"})


# -- tags ------------------------------------------------------------------------------------------
def test_tags_on_a_state_machine(sfn):
    machine_arn = create(sfn, "tagged", tags=[{"key": "team", "value": "data"}])
    sfn.tag_resource(resourceArn=machine_arn, tags=[{"key": "env", "value": "prod"},
                                                    {"key": "team", "value": "ops"}])
    assert sfn.list_tags_for_resource(resourceArn=machine_arn)["tags"] == [
        {"key": "env", "value": "prod"}, {"key": "team", "value": "ops"}]
    sfn.untag_resource(resourceArn=machine_arn, tagKeys=["env"])
    assert sfn.list_tags_for_resource(resourceArn=machine_arn)["tags"] == [{"key": "team", "value": "ops"}]
    missing = machine_arn + "-missing"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=missing)
    with pytest.raises(sfn.exceptions.TooManyTags):
        sfn.tag_resource(resourceArn=machine_arn, tags=[{"key": f"k{i}", "value": ""} for i in range(50)])


# -- errors ----------------------------------------------------------------------------------------
def test_errors_raise_the_exception_classes_boto3_knows(sfn):
    machine_arn = create(sfn, "errors")
    unknown_machine = machine_arn.replace(":errors", ":no-such-machine")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=unknown_machine)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=unknown_machine)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="arn:aws:lambda:us-east-1:123456789012:function:f")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:123456789012:execution:errors:nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:123456789012:stateMachine:errors")
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, "errors")
    with pytest.raises(sfn.exceptions.InvalidDefinition) as invalid:
        create(sfn, "invalid", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    assert "MISSING_TRANSITION_TARGET" in str(invalid.value)
    with pytest.raises(sfn.exceptions.InvalidName):
        create(sfn, "bad name?")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=machine_arn, input="{not json")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_state_machines(nextToken="garbage!")
    with pytest.raises(sfn.exceptions.MissingRequiredParameter):
        sfn.update_state_machine(stateMachineArn=machine_arn)
    # Task tokens and activities (tests/test_callbacks*.py, tests/test_activities*.py): AWS's errors.
    assert error_code(sfn.send_task_success, taskToken="token", output="{}") == "InvalidToken"
    assert error_code(sfn.describe_activity, activityArn=machine_arn) == "InvalidArn"
    # Map Runs are supported (tests/test_api_map_runs.py): a machine ARN is not an execution's.
    assert error_code(sfn.list_map_runs, executionArn=machine_arn) == "InvalidArn"


# -- the protocol and authentication, below boto3 ----------------------------------------------------
def raw(api, operation: str, body: bytes, *, sign_with: tuple[str, str] | None = None,
        target_prefix="AWSStepFunctions.", cookie: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target_prefix + operation}
    if cookie:
        headers["Cookie"] = cookie
    request = AWSRequest(method="POST", url=api.url + "/", data=body, headers=headers)
    if sign_with:
        SigV4Auth(Credentials(*sign_with), "states", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(api.url + "/", data=body, method="POST", headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_protocol_errors_are_precise_and_never_a_500(api):
    keys = (api.key_id, api.secret)
    assert raw(api, "ListStateMachines", b"{", sign_with=keys)[1]["__type"] == "SerializationException"
    assert raw(api, "ListStateMachines", b"[]", sign_with=keys)[1]["__type"] == "SerializationException"
    status, answer = raw(api, "NoSuchOperation", b"{}", sign_with=keys)
    assert (status, answer["__type"]) == (400, "UnknownOperationException")
    status, answer = raw(api, "DescribeStateMachine", b"{}", sign_with=keys)
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert answer["message"] == ("1 validation error detected: Value null at 'stateMachineArn' failed to "
                                 "satisfy constraint: Member must not be null")
    status, answer = raw(api, "ListStateMachines", b'{"maxResults": "ten"}', sign_with=keys)
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, answer = raw(api, "ListStateMachines", b'{"maxResults": 5000}', sign_with=keys)
    assert answer["__type"] == "ValidationException" and "less than or equal to 1000" in answer["message"]
    name = json.dumps({"name": "x" * 81, "definition": json.dumps(PASS), "roleArn": ROLE}).encode()
    status, answer = raw(api, "CreateStateMachine", name, sign_with=keys)
    assert answer["__type"] == "ValidationException"
    assert "length less than or equal to 80" in answer["message"]
    status, answer = raw(api, "ListStateMachines", b"{}", sign_with=keys)
    assert status == 200 and "stateMachines" in answer


def test_unsigned_badly_signed_expired_and_unknown_key_requests_are_refused(api, monkeypatch):
    status, answer = raw(api, "ListStateMachines", b"{}")
    assert (status, answer["__type"]) == (400, "MissingAuthenticationTokenException")
    assert raw(api, "ListStateMachines", b"{}", sign_with=(api.key_id, "wrong-secret"))[1]["__type"] == \
        "InvalidSignatureException"
    unknown = ("AKIANOSUCHKEY0000000", api.secret)
    status, answer = raw(api, "ListStateMachines", b"{}", sign_with=unknown)
    assert (status, answer["__type"]) == (400, "UnrecognizedClientException")
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: datetime.now(UTC) - timedelta(minutes=6))
    status, answer = raw(api, "ListStateMachines", b"{}", sign_with=(api.key_id, api.secret))
    assert answer["__type"] == "InvalidSignatureException" and "Signature expired" in answer["message"]
    monkeypatch.undo()
    with pytest.raises(ClientError) as caught:
        api.client(secret="not-the-secret").list_state_machines()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_a_changed_body_breaks_the_signature(api):
    request = AWSRequest(method="POST", url=api.url + "/", data=b'{"maxResults": 1}', headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
    SigV4Auth(Credentials(api.key_id, api.secret), "states", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-content-sha256"}
    tampered = urllib.request.Request(api.url + "/", data=b'{"maxResults": 2}', method="POST",
                                      headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(tampered, timeout=10)
    assert json.loads(caught.value.read())["__type"] == "InvalidSignatureException"


def test_a_session_cookie_is_not_an_api_credential(api):
    browser = Browser(api.url)
    browser.log_in("alice", "alice-pass-123")
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    assert "sessionid=" in cookie
    status, answer = raw(api, "ListStateMachines", b"{}", cookie=cookie)
    assert (status, answer["__type"]) == (400, "MissingAuthenticationTokenException")
    # And a signed call neither needs nor gets a cookie.
    headers = api.client().list_state_machines()["ResponseMetadata"]["HTTPHeaders"]
    assert "set-cookie" not in headers
    # And the dashboard is still the dashboard for that browser.
    assert "Dashboard" in browser.get("/").text


def test_revoked_key_is_refused(api):
    key_id, secret = api.create_key("alice")
    client = api.client(key_id, secret)
    client.list_state_machines()
    api.server.manage("shell", "-c", "from django.utils import timezone\n"
                      "from designer.models import AccessKey\n"
                      f"AccessKey.objects.filter(access_key_id={key_id!r}).update(revoked_at=timezone.now())")
    with pytest.raises(ClientError) as caught:
        client.list_state_machines()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_api_keys_page_creates_a_key_shown_once_and_revokes_it(api):
    browser = Browser(api.url)
    browser.log_in("alice", "alice-pass-123")
    assert "API keys" in browser.get("/").text
    page = browser.get("/account/api-keys/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    created = browser.request("/account/api-keys/", {"csrfmiddlewaretoken": token,
                                                     "description": "from the page"})
    key_id = re.search(r"data-key-id>([A-Z0-9]+)<", created.text).group(1)
    secret = re.search(r"data-key-secret>([^<]+)<", created.text).group(1)
    assert api.client(key_id, secret).list_state_machines()["stateMachines"] is not None
    listing = browser.get("/account/api-keys/").text
    assert key_id in listing and secret not in listing  # the secret is shown once only
    revoke = re.search(r'action="(/account/api-keys/\d+/revoke/)"', listing).group(1)
    browser.request(revoke, {"csrfmiddlewaretoken": token})
    with pytest.raises(ClientError) as caught:
        api.client(key_id, secret).list_state_machines()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


# -- the AWS CLI -----------------------------------------------------------------------------------
def aws_cli(api, *args: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": api.key_id, "AWS_SECRET_ACCESS_KEY": api.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    result = subprocess.run([str(Path(sys.executable).parent / "aws"), "--endpoint-url", api.url,
                             "--output", "json", "stepfunctions", *args],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_aws_cli_creates_lists_and_runs(api, sfn):
    created = aws_cli(api, "create-state-machine", "--name", "from-the-cli", "--definition", json.dumps(PASS),
                      "--role-arn", ROLE, "--type", "EXPRESS")
    assert created["stateMachineArn"].endswith(":stateMachine:from-the-cli")
    names = [machine["name"] for machine in aws_cli(api, "list-state-machines")["stateMachines"]]
    assert "from-the-cli" in names
    result = aws_cli(api, "start-sync-execution", "--state-machine-arn", created["stateMachineArn"],
                     "--input", '{"a": 1}')
    assert (result["status"], result["output"]) == ("SUCCEEDED", '{"x":1}')


# -- versions and aliases --------------------------------------------------------------------------
def test_versions_pin_a_definition_and_aliases_route_executions_to_them(sfn):
    machine_arn = create(sfn, "versioned", {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": "one", "End": True}}}, publish=True, versionDescription="first")
    v1 = sfn.list_state_machine_versions(stateMachineArn=machine_arn)["stateMachineVersions"][0]
    assert v1["stateMachineVersionArn"] == machine_arn + ":1"
    two = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "two", "End": True}}}
    updated = sfn.update_state_machine(stateMachineArn=machine_arn, definition=json.dumps(two), publish=True)
    assert updated["stateMachineVersionArn"] == machine_arn + ":2"
    # Publishing the same revision again gives the same version; a stale revisionId is a conflict.
    again = sfn.publish_state_machine_version(stateMachineArn=machine_arn)
    assert again["stateMachineVersionArn"] == machine_arn + ":2"
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.publish_state_machine_version(stateMachineArn=machine_arn, revisionId="1")
    described = sfn.describe_state_machine(stateMachineArn=machine_arn + ":1")
    assert (described["stateMachineArn"], described["description"]) == (machine_arn + ":1", "first")
    assert json.loads(described["definition"])["States"]["P"]["Result"] == "one"

    # A version runs its own definition, whatever the machine's latest is.
    first = sfn.start_execution(stateMachineArn=machine_arn + ":1")["executionArn"]
    assert wait_for(sfn, first, "SUCCEEDED")["output"] == '"one"'
    assert sfn.describe_execution(executionArn=first)["stateMachineVersionArn"] == machine_arn + ":1"

    alias_arn = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": machine_arn + ":1", "weight": 100}])["stateMachineAliasArn"]
    assert alias_arn == machine_arn + ":live"
    through_alias = sfn.start_execution(stateMachineArn=alias_arn)["executionArn"]
    described = wait_for(sfn, through_alias, "SUCCEEDED")
    assert (described["output"], described["stateMachineAliasArn"]) == ('"one"', alias_arn)
    sfn.update_state_machine_alias(stateMachineAliasArn=alias_arn, routingConfiguration=[
        {"stateMachineVersionArn": machine_arn + ":1", "weight": 0},
        {"stateMachineVersionArn": machine_arn + ":2", "weight": 100}])
    routed = sfn.start_execution(stateMachineArn=alias_arn)["executionArn"]
    assert wait_for(sfn, routed, "SUCCEEDED")["output"] == '"two"'
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)["routingConfiguration"][1] == {
        "stateMachineVersionArn": machine_arn + ":2", "weight": 100}
    by_alias = sfn.list_executions(stateMachineArn=alias_arn)["executions"]
    assert {item["executionArn"] for item in by_alias} == {through_alias, routed}
    listed = sfn.list_state_machine_aliases(stateMachineArn=machine_arn)["stateMachineAliases"]
    assert [item["stateMachineAliasArn"] for item in listed] == [alias_arn]

    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.update_state_machine_alias(stateMachineAliasArn=alias_arn, routingConfiguration=[
            {"stateMachineVersionArn": machine_arn + ":1", "weight": 60}])
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.delete_state_machine_version(stateMachineVersionArn=machine_arn + ":2")
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias_arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    sfn.delete_state_machine_version(stateMachineVersionArn=machine_arn + ":2")
    versions = sfn.list_state_machine_versions(stateMachineArn=machine_arn)["stateMachineVersions"]
    assert [item["stateMachineVersionArn"] for item in versions] == [machine_arn + ":1"]
    # Version numbers are never reused.
    sfn.update_state_machine(stateMachineArn=machine_arn, definition=json.dumps(PASS))
    assert sfn.publish_state_machine_version(stateMachineArn=machine_arn)["stateMachineVersionArn"] == \
        machine_arn + ":3"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=machine_arn + ":2")


def test_a_long_start_sync_execution_does_not_hold_up_other_calls(api, sfn):
    import threading

    machine_arn = create(sfn, "express-slow", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3, "End": True}}}, type="EXPRESS")
    results = {}
    slow = threading.Thread(target=lambda: results.update(
        slow=api.client().start_sync_execution(stateMachineArn=machine_arn)["status"]))
    slow.start()
    time.sleep(0.5)
    began = time.monotonic()
    sfn.list_state_machines()
    assert Browser(api.url).get("/accounts/login/").status == 200
    assert time.monotonic() - began < 1.5, "other calls waited for the synchronous execution"
    slow.join(10)
    assert results["slow"] == "SUCCEEDED"


def test_a_request_over_one_megabyte_is_refused(api):
    body = json.dumps({"name": "big", "roleArn": ROLE, "definition": "x" * (1024 * 1024)}).encode()
    status, answer = raw(api, "CreateStateMachine", body, sign_with=(api.key_id, api.secret))
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert "exceeds the limit of 1048576 bytes" in answer["message"]


def test_every_operation_botocore_knows_answers_without_a_500(api):
    """An empty request to each operation: a validation error, an answer, or UnsupportedOperation."""
    keys = (api.key_id, api.secret)
    operations = boto3.client("stepfunctions", region_name="us-east-1").meta.service_model.operation_names
    assert len(operations) >= 37
    answers = {operation: raw(api, operation, b"{}", sign_with=keys) for operation in operations}
    assert {op: status for op, (status, _) in answers.items() if status >= 500} == {}
    unsupported = {op for op, (_, answer) in answers.items()
                   if answer.get("__type") == "UnsupportedOperation"}
    assert not {"GetActivityTask", "ListActivities", "CreateActivity"} & unsupported
    assert answers["DescribeMapRun"][1]["__type"] == "ValidationException"  # mapRunArn is required
    assert answers["GetActivityTask"][1]["__type"] == "ValidationException"  # activityArn is required
    assert answers["ListActivities"] == (200, {"activities": []})
    assert answers["SendTaskSuccess"][1]["__type"] == "ValidationException"  # taskToken is required
