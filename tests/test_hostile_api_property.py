"""Property: whatever hostile JSON comes in — deep nesting, lone surrogates, huge and non-finite
numbers, odd keys — every API operation and every page form answers without a 500, every refusal
carries an AWS error code, and no execution is left RUNNING.

The API runs under a real daphne with a real worker (boto3's signer, raw bodies: boto3 itself would
not send most of these); the forms go through Django's test client on the test database."""

import json

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_api_boto3 import PASS, ROLE, Api, raw

OPERATIONS = sorted(boto3.client("stepfunctions", region_name="us-east-1").meta.service_model.operation_names)
AWS_CODE = {"SerializationException", "ValidationException", "InvalidDefinition", "InvalidExecutionInput",
            "InvalidName", "InvalidArn", "InvalidToken", "InvalidOutput", "TaskTimedOut",
            "StateMachineDoesNotExist", "ExecutionDoesNotExist",
            "StateMachineAlreadyExists", "ExecutionAlreadyExists", "UnsupportedOperation",
            "ResourceNotFound", "StateMachineTypeNotSupported", "MissingRequiredParameter",
            "ExecutionNotRedrivable", "ConflictException", "InvalidLoggingConfiguration",
            "InvalidTracingConfiguration", "TooManyTags", "ExecutionLimitExceeded",
            "UnknownOperationException"}

# Hostile pieces of JSON text: written as text, since most are not what json.dumps would write.
HOSTILE_ATOMS = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "1e-400", "-0",
    "1.7976931348623157e308",
    '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\\u0000"', '"\\\\ud800"', '"<script>"', "null", "true",
    '"' + "x" * 300 + '"', "9223372036854775808",
])
ODD_KEYS = st.sampled_from(['"\\ud800"', '""', '"__proto__"', '"a.$"', '"$$"', '"\\u0000"', '"StartAt"',
                            '"name"', '"input"', '"definition"', '"stateMachineArn"'])


@st.composite
def hostile_json(draw, max_leaves=6) -> str:
    """A JSON-ish text: hostile atoms in objects and arrays, sometimes nested far too deep."""
    def build(depth: int) -> str:
        kind = draw(st.integers(0, 3)) if depth < 4 else 0
        if kind == 0:
            return draw(HOSTILE_ATOMS)
        if kind == 1:
            return "[" + ",".join(build(depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
        members = [f"{draw(ODD_KEYS)}:{build(depth + 1)}" for _ in range(draw(st.integers(0, 3)))]
        return "{" + ",".join(members) + "}"

    text = build(0)
    deep = draw(st.sampled_from([0, 0, 0, 300, 2000, 12000]))
    if deep:
        text = "[" * deep + text + "]" * deep
    return text


def definition_holding(value: str) -> str:
    return ('{"StartAt": "P", "Comment": "c", "States": {"P": {"Type": "Pass", "Result": ' + value
            + ', "End": true}}}')


@pytest.fixture(scope="module")
def api(tmp_path_factory, migrated_db_file):
    api = Api(tmp_path_factory.mktemp("property"), migrated_db_file)
    yield api
    api.close()


@pytest.fixture(scope="module")
def machines(api):
    """A Standard and an Express machine the operations can point at."""
    sfn = api.client()
    standard = sfn.create_state_machine(name="target", definition=json.dumps(PASS), roleArn=ROLE)
    express = sfn.create_state_machine(name="target-express", definition=json.dumps(PASS), roleArn=ROLE,
                                       type="EXPRESS")
    return standard["stateMachineArn"], express["stateMachineArn"]


def bodies(machine_arns: tuple[str, str]):
    """A request body: a whole hostile document, or a plausible request with one member hostile."""
    members = st.sampled_from(["name", "definition", "input", "stateMachineArn", "executionArn",
                               "maxResults", "roleArn", "tags", "mock", "variables", "context", "taskToken",
                               "output"])

    @st.composite
    def body(draw) -> bytes:
        value = draw(hostile_json())
        shape = draw(st.integers(0, 3))
        if shape == 0:
            return value.encode()
        base = {"name": "p" + str(draw(st.integers(0, 10**6))), "roleArn": ROLE,
                "stateMachineArn": draw(st.sampled_from(machine_arns))}
        member = draw(members)
        if shape == 1:  # the member's value itself is hostile JSON
            prefix = json.dumps(base)[:-1]
            return (prefix + f', "{member}": {value}}}').encode()
        # The member is a JSON text (a definition or an input) holding hostile JSON.
        inner = definition_holding(value) if shape == 2 else '{"x": ' + value + "}"
        return json.dumps({**base, member if shape == 3 else "definition": inner}).encode()

    return body()


def test_every_operation_refuses_hostile_json_with_an_aws_error_and_never_a_500(api, machines):
    keys = (api.key_id, api.secret)
    seen: dict[str, int] = {}

    @settings(max_examples=120, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(operation=st.sampled_from(OPERATIONS), body=bodies(machines))
    def check(operation, body):
        status, answer = raw(api, operation, body, sign_with=keys)
        assert status < 500, (operation, body[:300], answer)
        if status >= 400:
            assert answer.get("__type") in AWS_CODE, (operation, body[:300], answer)
            seen[answer["__type"]] = seen.get(answer["__type"], 0) + 1

    check()
    assert {"SerializationException", "ValidationException"} <= set(seen), seen
    # What was started runs to its end: nothing is left RUNNING (the worker has a moment to run it).
    api.deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status = 'RUNNING'", 0,
                              timeout=30)


# -- the pages' forms --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_forms_refuse_hostile_json_with_a_message_and_never_a_500(client, django_user_model, settings):
    from designer import runtime
    from designer.models import Execution

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="correct-horse-battery"))
    runtime.create_state_machine("standard", json.dumps(PASS))
    runtime.create_state_machine("express", json.dumps(PASS), "EXPRESS")

    @settings_for_forms
    @given(value=hostile_json(), as_definition=st.booleans(), target=st.sampled_from(["standard", "express"]))
    def check(value, as_definition, target):
        if as_definition:
            response = client.post("/create/state-machine/", {"name": "hostile", "type": "STANDARD",
                                                              "definition": definition_holding(value)})
        else:
            response = client.post(f"/machines/{target}/start/", {"input": '{"x": ' + value + "}"},
                                   follow=True)
        assert response.status_code < 500
        for machine in ("standard", "express", "hostile"):
            if client.get(f"/machines/{machine}/").status_code >= 500:
                raise AssertionError(f"the page of {machine} answers 500 after {value[:200]!r}")

    check()
    assert not Execution.objects.filter(status="RUNNING", type="EXPRESS").exists()


settings_for_forms = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                     HealthCheck.function_scoped_fixture])
