"""Hostile JSON (issue 22, items 1-3): non-JSON numbers, lone surrogates and deep nesting are refused
with AWS's error codes wherever JSON comes in, never an HTTP 500, and a step whose data cannot be
saved ends its execution with States.Runtime instead of leaving it RUNNING.

The runtime and the pages run in this process on the test database (tasks run by `drain()`, as
manage.py db_worker --batch would); the API is called through a real daphne with a real worker."""

import json

import pytest
from django.urls import reverse

from designer import runtime
from designer.models import Execution, ExecutionStatus, HistoryEvent, StateMachine
from engine import iter_problems, jsontext
from tests.durable import Deployment, postgres_available
from tests.test_api_boto3 import PASS, ROLE, Api, raw
from tests.test_runtime import drain

DEEP = jsontext.MAX_DEPTH + 1


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def definition_with_result(result_text: str) -> str:
    return '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": ' + result_text + ', "End": true}}}'


def nested_parallels(count: int) -> dict:
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    for index in range(count):
        machine = {"StartAt": f"X{index}", "States": {
            f"X{index}": {"Type": "Parallel", "Branches": [machine], "End": True}}}
    return machine


HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400]


# -- the reader ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE_NUMBERS + ['"\\ud800"', '{"\\udfff": 1}', nested_list(DEEP),
                                                    nested_list(10_000), "[1,]"])
def test_the_reader_refuses_what_jackson_refuses(text):
    with pytest.raises(jsontext.JsonTextError):
        jsontext.loads(text)


@pytest.mark.parametrize("text, value", [
    ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
    ('"\\\\ud800"', "\\ud800"),  # an escaped backslash, not an escape
    ("1e308", 1e308), ("1e-400", 0.0), (nested_list(jsontext.MAX_DEPTH), None),
    ('["[[[[", "\\"{{{{"]', ["[[[[", '"{{{{']),
])
def test_the_reader_reads_what_jackson_reads(text, value):
    read = jsontext.loads(text)
    if value is not None:
        assert read == value


def test_the_depth_limit_keeps_validation_and_compilation_from_recursing_too_deep():
    """MAX_DEPTH's reason: everything below it validates and compiles (Parameters templates recurse
    most, two frames a level) with a request's stack still to spare."""
    template: dict = {"a.$": "$.x"}
    for _ in range(jsontext.MAX_DEPTH - 6):
        template = {"k": template}
    state = {"Type": "Pass", "Parameters": template, "End": True}
    text = json.dumps({"StartAt": "P", "States": {"P": state}})
    assert [p.code for p in iter_problems(text) if p.severity == "ERROR"] == []
    runtime.check_definition(text)


# -- item 2 and 3: definitions and inputs ------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("bad", HOSTILE_NUMBERS + ['{"x": "\\ud800"}', nested_list(1000)])
def test_definitions_with_non_json_values_are_invalid_definitions(bad):
    with pytest.raises(runtime.InvalidDefinition) as raised:
        runtime.create_state_machine("m", definition_with_result(bad))
    assert "INVALID_JSON_DESCRIPTION" in raised.value.message
    assert not StateMachine.objects.exists()


@pytest.mark.django_db
def test_two_hundred_nested_parallels_are_an_invalid_definition_not_a_recursion_error():
    with pytest.raises(runtime.InvalidDefinition):
        runtime.create_state_machine("m", json.dumps(nested_parallels(200)))
    runtime.create_state_machine("m", json.dumps(nested_parallels(20)))  # a sane nesting still works


@pytest.mark.django_db
def test_a_comment_with_a_lone_surrogate_is_an_invalid_definition():
    with pytest.raises(runtime.InvalidDefinition):
        runtime.create_state_machine("m", '{"Comment": "\\ud800", ' + definition_with_result("1")[1:])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", HOSTILE_NUMBERS + ['"\\ud800"', nested_list(2000)])
def test_inputs_with_non_json_values_are_invalid_execution_input(bad):
    machine = runtime.create_state_machine("m", json.dumps(PASS))
    with pytest.raises(runtime.InvalidExecutionInput):
        runtime.start_execution(machine, '{"x": ' + bad + "}", name="hostile")
    express = runtime.create_state_machine("e", json.dumps(PASS), "EXPRESS")
    with pytest.raises(runtime.InvalidExecutionInput):
        runtime.start_sync_express(express, '{"x": ' + bad + "}")
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_only_the_same_name_is_execution_already_exists():
    machine = runtime.create_state_machine("m", json.dumps(PASS))
    runtime.start_execution(machine, '{"n": 1}', name="once")
    with pytest.raises(runtime.ExecutionAlreadyExists):
        runtime.start_execution(machine, '{"n": 2}', name="once")
    with pytest.raises(runtime.InvalidExecutionInput):  # used to be reported as ExecutionAlreadyExists
        runtime.start_execution(machine, '{"n": NaN}', name="twice")


# -- item 1: a step that cannot be saved ends the execution ----------------------------------------
@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_a_step_the_database_refuses_fails_the_execution_instead_of_leaving_it_running(tmp_path):
    """PostgreSQL's jsonb cannot hold "\\u0000", which is JSON: the step that puts it in the snapshot
    is refused by the database, every time. The execution used to stay RUNNING with one event; a
    start whose input holds it used to be reported as ExecutionAlreadyExists."""
    deployment = Deployment.postgres(tmp_path)
    try:
        definition = definition_with_result('{"x": "\\u0000"}')
        started = deployment.django(
            "from designer import runtime\n"
            f"m = runtime.create_state_machine('nul', {definition!r})\n"
            "result = runtime.start_execution(m, name='refused').pk\n"
            "try:\n"
            "    runtime.start_execution(m, '{\"x\": \"\\\\u0000\"}', name='input')\n"
            "except runtime.StepwiseError as error:\n"
            "    result = [result, error.code]\n")
        assert started[1] == "InvalidExecutionInput"
        deployment.start_worker()
        deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status = 'RUNNING'", 0)
        status, error, cause = deployment.sql(
            "SELECT status, error, cause FROM designer_execution WHERE id = ?", (started[0],))[0]
        assert (status, error) == ("FAILED", "States.Runtime"), deployment.logs()
        assert "cannot be saved" in cause and "DataError" in cause
        events = [row[0] for row in deployment.sql(
            "SELECT type FROM designer_historyevent WHERE execution_id = ? ORDER BY seq", (started[0],))]
        assert events == ["ExecutionStarted", "ExecutionFailed"]
    finally:
        deployment.close()


@pytest.mark.django_db(transaction=True)
def test_states_nesting_the_data_deeper_each_time_fail_the_execution_when_it_cannot_be_saved():
    machine = runtime.create_state_machine("deeper", json.dumps({"StartAt": "Wrap", "States": {
        "Wrap": {"Type": "Pass", "Parameters": {"a.$": "$"}, "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
                  "Default": "Wrap"},
        "Done": {"Type": "Succeed"}}}))
    execution = runtime.start_execution(machine, json.dumps(json.loads(nested_list(200))))
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED, (execution.status, execution.cause)
    assert execution.error == "States.Runtime" and "cannot be saved" in execution.cause
    events = list(HistoryEvent.objects.filter(execution=execution).values_list("type", flat=True))
    assert events[-1] == "ExecutionFailed"


# -- item 3: pages -----------------------------------------------------------------------------------
@pytest.fixture
def alice(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user("alice", password="correct-horse-battery")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", HOSTILE_NUMBERS[:4] + ['"\\ud800"', nested_list(1000)])
def test_the_forms_refuse_hostile_json_with_a_message_not_a_500(client, alice, bad):
    client.force_login(alice)
    response = client.post(reverse("machine-create"), {"name": "m", "type": "STANDARD",
                                                       "definition": definition_with_result(bad)})
    assert response.status_code == 200 and "INVALID_JSON_DESCRIPTION" in response.content.decode()
    machine = runtime.create_state_machine("ok", json.dumps(PASS))
    response = client.post(reverse("machine-start", args=["ok"]), {"input": '{"x": ' + bad + "}"})
    assert response.status_code == 400  # the machine's page again, the error at the input field
    html = response.content.decode()
    assert "The input is not valid JSON" in html or "Invalid State Machine Execution Input" in html
    assert not Execution.objects.filter(machine=machine).exists()


@pytest.mark.django_db(transaction=True)
def test_rows_saved_before_the_strict_reader_still_render(client, alice):
    """A definition with a lone surrogate escape, saved when it was still accepted, used to make the
    machine's page answer 500 for ever."""
    client.force_login(alice)
    text = '{"Comment": "\\ud800", ' + definition_with_result(nested_list(DEEP))[1:]
    machine = StateMachine.objects.create(name="old", definition=text, revision=1)
    machine.revisions.create(number=1, definition=text)
    response = client.get(reverse("machine", args=["old"]))
    assert response.status_code == 200 and "\\ud800" in response.content.decode()


# -- item 2 and 3 through the API --------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory, migrated_db_file):
    api = Api(tmp_path_factory.mktemp("hostile"), migrated_db_file)
    yield api
    api.close()


def call(api, operation: str, body: bytes | dict) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw(api, operation, data, sign_with=(api.key_id, api.secret))


def test_api_bodies_nested_ten_thousand_levels_or_with_nan_are_serialization_exceptions(api):
    for body in (b'{"maxResults": ' + nested_list(10_000).encode() + b"}", b'{"maxResults": NaN}',
                 b'{"maxResults": 1e400}'):
        status, answer = call(api, "ListStateMachines", body)
        assert (status, answer["__type"]) == (400, "SerializationException"), answer


def test_a_name_with_a_lone_surrogate_is_a_validation_exception(api):
    body = ('{"name": "\\ud800", "roleArn": "' + ROLE + '", "definition": ' + json.dumps(json.dumps(PASS))
            + "}").encode()
    status, answer = call(api, "CreateStateMachine", body)
    assert (status, answer["__type"]) == (400, "ValidationException"), answer


@pytest.mark.parametrize("bad", ["1e400", "NaN", '"\\ud800"', nested_list(1000)])
def test_definitions_refused_by_create_validate_and_test_state(api, bad):
    definition = definition_with_result(bad)
    status, answer = call(api, "CreateStateMachine", {"name": "hostile", "definition": definition,
                                                      "roleArn": ROLE})
    assert (status, answer["__type"]) == (400, "InvalidDefinition"), answer
    status, answer = call(api, "ValidateStateMachineDefinition", {"definition": definition})
    assert status == 200 and answer["result"] == "FAIL"
    assert answer["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    state = '{"Type": "Pass", "Result": ' + bad + ', "End": true}'
    status, answer = call(api, "TestState", {"definition": state, "roleArn": ROLE})
    assert (status, answer["__type"]) == (400, "InvalidDefinition"), answer


def test_two_hundred_nested_parallels_through_the_api_are_invalid_definitions(api):
    definition = json.dumps(nested_parallels(200))
    status, answer = call(api, "CreateStateMachine", {"name": "parallels", "definition": definition,
                                                      "roleArn": ROLE})
    assert (status, answer["__type"]) == (400, "InvalidDefinition"), answer
    state = json.dumps(nested_parallels(200)["States"]["X199"])
    status, answer = call(api, "TestState", {"definition": state, "roleArn": ROLE})
    assert (status, answer["__type"]) == (400, "InvalidDefinition"), answer


def test_start_execution_inputs_that_are_not_json_are_invalid_execution_input(api):
    status, answer = call(api, "CreateStateMachine", {"name": "inputs", "definition": json.dumps(PASS),
                                                      "roleArn": ROLE})
    assert status == 200, answer
    express = {"name": "inputs-express", "definition": json.dumps(PASS), "roleArn": ROLE, "type": "EXPRESS"}
    express_arn = call(api, "CreateStateMachine", express)[1]["stateMachineArn"]
    for bad in ("NaN", "1e400", '"\\ud800"', nested_list(2000)):
        for operation, arn in (("StartExecution", answer["stateMachineArn"]),
                               ("StartSyncExecution", express_arn)):
            status, refused = call(api, operation, {"stateMachineArn": arn, "input": '{"x": ' + bad + "}"})
            assert (status, refused["__type"]) == (400, "InvalidExecutionInput"), (operation, bad, refused)
