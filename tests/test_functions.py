"""designer/functions.py: Python functions called by Task states as AWS Lambda would call them.

Real handlers throughout (defined here, or written to files and loaded with register_path); the
engine runs are real executions through engine.run.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import textwrap
import threading
import time
import uuid

import pytest

from designer import functions
from engine import TaskFailed
from engine import run as run_engine

ARN = "arn:aws:lambda:us-east-1:111111111111:function:"
INVOKE = "arn:aws:states:::lambda:invoke"


@pytest.fixture
def fn():
    """Register handlers under unique names for one test and forget them afterwards."""
    names = []

    def add(handler, name=None):
        name = name or f"t-{uuid.uuid4().hex[:12]}"
        functions.register(name, handler)
        names.append(name)
        return name

    yield add
    for name in names:
        functions.unregister(name)


def failure(call) -> TaskFailed:
    with pytest.raises(TaskFailed) as caught:
        call()
    return caught.value


def identity(event, context):
    return event


def raise_value_error(event, context):
    raise ValueError("bad value")


class QuietError(Exception):
    def __init__(self):
        self.detail = "no message"


def raise_quiet(event, context):
    raise QuietError()


# -- the registry ------------------------------------------------------------------------------------
def test_register_as_decorator_returns_the_function_and_registers_it():
    @functions.register("decorated-fn")
    def handler(event, context):
        return "hi"

    try:
        assert handler(None, None) == "hi"
        assert functions.registered()["decorated-fn"] is handler
    finally:
        functions.unregister("decorated-fn")
    assert "decorated-fn" not in functions.registered()


@pytest.mark.parametrize("name", ["", "has space", "a" * 65, "dots.not.allowed", 7])
def test_register_rejects_names_lambda_would_reject(name):
    with pytest.raises(ValueError):
        functions.register(name, identity)


def test_register_rejects_a_handler_that_is_not_callable():
    with pytest.raises(TypeError):
        functions.register("not-callable", 42)


def test_unregister_of_an_unknown_name_is_a_no_op():
    functions.unregister("never-registered")


def test_the_example_functions_are_registered_by_default():
    examples = functions.registered()
    assert {"greet", "add", "fail_sometimes"} <= examples.keys()
    assert functions.invoke(ARN + "greet", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    assert functions.invoke(ARN + "add", {"numbers": [1, 2, 3.5]}) == {"sum": 6.5}


def test_register_path_loads_a_handler_from_a_file(tmp_path):
    source = tmp_path / "shout.py"
    source.write_text("def handler(event, context):\n    return event.upper()\n\n"
                      "def other(event, context):\n    return 'other'\n")
    try:
        functions.register_path("shout", f"{source}:handler")
        functions.register_path("other-fn", f"{source}:other")
        functions.register_path("default-attr", str(source))
        assert functions.invoke(ARN + "shout", "hey") == "HEY"
        assert functions.invoke(ARN + "other-fn", None) == "other"
        assert functions.invoke(ARN + "default-attr", "x") == "X"
    finally:
        for name in ("shout", "other-fn", "default-attr"):
            functions.unregister(name)


def test_register_path_reloads_a_file_that_changed(tmp_path):
    source = tmp_path / "version.py"
    source.write_text("def handler(event, context):\n    return 1\n")
    try:
        functions.register_path("versioned", f"{source}:handler")
        assert functions.invoke(ARN + "versioned", {}) == 1
        source.write_text("def handler(event, context):\n    return 2\n")
        stat = source.stat()
        os.utime(source, (stat.st_atime, stat.st_mtime + 5))
        functions.register_path("versioned", f"{source}:handler")
        assert functions.invoke(ARN + "versioned", {}) == 2
    finally:
        functions.unregister("versioned")


def test_register_path_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        functions.register_path("missing-file", f"{tmp_path}/nope.py:handler")
    source = tmp_path / "empty.py"
    source.write_text("x = 1\n")
    with pytest.raises(AttributeError, match="'handler'"):
        functions.register_path("missing-attr", f"{source}:handler")


def test_modules_named_in_stepwise_functions_are_imported(tmp_path, monkeypatch):
    package = tmp_path / "userfns"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text(textwrap.dedent("""
        from designer.functions import register

        @register("from-env-module")
        def handler(event, context):
            return {"loaded": True}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STEPWISE_FUNCTIONS", " userfns.steps , ")
    monkeypatch.setattr(functions, "_defaults_loaded", False)
    try:
        assert "from-env-module" in functions.registered()
        assert functions.invoke(ARN + "from-env-module", {}) == {"loaded": True}
    finally:
        functions.unregister("from-env-module")
        sys.modules.pop("userfns.steps", None)
        sys.modules.pop("userfns", None)


def test_a_functions_module_that_cannot_be_imported_is_named(monkeypatch):
    with pytest.raises(ImportError, match="no_such_module_here"):
        functions.load(["no_such_module_here"])


# -- resources --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("resource", "expected"), [
    ("arn:aws:lambda:us-east-1:111111111111:function:greet", True),
    ("arn:aws:lambda:eu-west-3:123456789012:function:greet:$LATEST", True),
    ("arn:aws:lambda:us-east-1:111111111111:function:greet:prod", True),
    ("arn:aws-cn:lambda:cn-north-1:111111111111:function:greet", True),
    ("arn:aws:states:::lambda:invoke", True),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", False),
    ("arn:aws:states:::sqs:sendMessage", False),
    ("arn:aws:states:us-east-1:111111111111:activity:work", False),
    ("arn:aws:lambda:us-east-1:111111111111:layer:greet", False),
    ("greet", False),
])
def test_is_function_resource(resource, expected):
    assert functions.is_function_resource(resource) is expected


@pytest.mark.parametrize(("text", "name", "qualifier", "arn"), [
    ("greet", "greet", None, "arn:aws:lambda:us-east-1:123456789012:function:greet"),
    ("greet:7", "greet", "7", "arn:aws:lambda:us-east-1:123456789012:function:greet"),
    ("111111111111:function:greet", "greet", None, "arn:aws:lambda:us-east-1:111111111111:function:greet"),
    ("arn:aws:lambda:eu-west-1:111111111111:function:greet:$LATEST", "greet", "$LATEST",
     "arn:aws:lambda:eu-west-1:111111111111:function:greet"),
])
def test_function_names_in_every_form_lambda_accepts(text, name, qualifier, arn, monkeypatch):
    monkeypatch.delenv("STEPWISE_REGION", raising=False)
    monkeypatch.delenv("STEPWISE_ACCOUNT_ID", raising=False)
    ref = functions.parse_function_name(text)
    assert (ref.name, ref.qualifier, ref.arn) == (name, qualifier, arn)


def test_a_resource_that_is_not_a_function_fails_clearly():
    error = failure(lambda: functions.invoke("arn:aws:states:::sqs:sendMessage.waitForTaskToken", {}))
    assert error.error == "States.Runtime"
    assert "is not a Python function" in error.cause


# -- the event and the result -----------------------------------------------------------------------
def test_function_arn_event_is_a_decoded_copy_of_the_input(fn):
    def mutate(event, context):
        event["seen"] = True
        return event

    state_input = {"a": [1, 2.5, None, True, "é"]}
    result = functions.invoke(ARN + fn(mutate), state_input)
    assert result == {"a": [1, 2.5, None, True, "é"], "seen": True}
    assert state_input == {"a": [1, 2.5, None, True, "é"]}  # the execution's document is untouched


@pytest.mark.parametrize("value", [0, 0.0, True, "HelloWorld", None, [1, "a"], {"k": {"n": 1}}])
def test_function_arn_result_is_the_response_decoded(fn, value):
    assert functions.invoke(ARN + fn(identity), value) == value


def test_the_context_is_lambdas(fn):
    seen = {}

    def inspect(event, context):
        seen.update(name=context.function_name, arn=context.invoked_function_arn,
                    request=context.aws_request_id, remaining=context.get_remaining_time_in_millis())
        return None

    name = fn(inspect)
    functions.invoke(ARN + name + ":prod", {}, timeout_seconds=30)
    assert seen["name"] == name
    assert seen["arn"] == ARN + name + ":prod"
    assert uuid.UUID(seen["request"])
    assert 25_000 < seen["remaining"] <= 30_000


def test_lambda_invoke_result_is_the_invoke_response_with_http_metadata(fn):
    name = fn(identity)
    result = functions.invoke(INVOKE, {"FunctionName": name, "Payload": {"a": 1}})
    assert result["ExecutedVersion"] == "$LATEST"
    assert result["Payload"] == {"a": 1}
    assert result["StatusCode"] == 200
    metadata = result["SdkHttpMetadata"]
    assert metadata["HttpStatusCode"] == 200
    headers = metadata["HttpHeaders"]
    assert headers["Content-Length"] == "8"  # len('{"a": 1}'): json.dumps' default separators
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Amz-Executed-Version"] == "$LATEST"
    assert headers["x-amzn-Remapped-Content-Length"] == "0"
    assert headers["Connection"] == "keep-alive"
    assert headers["x-amzn-RequestId"] == result["SdkResponseMetadata"]["RequestId"]
    uuid.UUID(headers["x-amzn-RequestId"])
    assert headers["Date"].endswith(" GMT")
    assert metadata["AllHttpHeaders"] == {key: [value] for key, value in headers.items()}
    assert "LogResult" not in result


@pytest.mark.parametrize(("payload", "event"), [
    (None, {}),
    ('"Hi"', "Hi"),
    ("[1, 2]", [1, 2]),
    ({"x": "y"}, {"x": "y"}),
    (0, 0),
])
def test_lambda_invoke_event_is_the_payload(fn, payload, event):
    result = functions.invoke(INVOKE, {"FunctionName": fn(identity), "Payload": payload})
    assert result["Payload"] == event


def test_lambda_invoke_without_payload_sends_an_empty_object(fn):
    assert functions.invoke(INVOKE, {"FunctionName": fn(identity)})["Payload"] == {}


def test_lambda_invoke_string_payload_must_be_json_text(fn):
    error = failure(lambda: functions.invoke(INVOKE, {"FunctionName": fn(identity), "Payload": "not json"}))
    assert error.error == "Lambda.InvalidRequestContentException"
    assert error.cause.startswith("Could not parse request body into json")


def test_lambda_invoke_accepts_the_function_arn_as_function_name(fn):
    name = fn(identity)
    result = functions.invoke(INVOKE, {"FunctionName": ARN + name, "Payload": [1]})
    assert result["Payload"] == [1]


def test_lambda_invoke_log_type_tail_returns_the_log(fn):
    def chatty(event, context):
        print("hello from the function")
        return "done"

    result = functions.invoke(INVOKE, {"FunctionName": fn(chatty), "LogType": "Tail"}, timeout_seconds=5)
    log = base64.b64decode(result["LogResult"]).decode()
    request_id = result["SdkResponseMetadata"]["RequestId"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert "hello from the function\n" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log
    assert result["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] == result["LogResult"]


def test_bytes_are_the_response_as_they_are(fn):
    name = fn(lambda event, context: b'"HelloWorld!"')
    assert functions.invoke(ARN + name, {}) == "HelloWorld!"
    result = functions.invoke(INVOKE, {"FunctionName": name})
    assert result["Payload"] == "HelloWorld!"
    assert result["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "13"


# -- errors ---------------------------------------------------------------------------------------
def test_a_raised_exception_is_the_error_with_lambdas_json_cause(fn):
    name = fn(raise_value_error)
    error = failure(lambda: functions.invoke(ARN + name, {}))
    assert error.error == "ValueError"
    cause = json.loads(error.cause)
    assert list(cause) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert cause["errorMessage"] == "bad value"
    assert cause["errorType"] == "ValueError"
    uuid.UUID(cause["requestId"])
    # Only the handler's frames, as traceback.format_list writes them.
    assert len(cause["stackTrace"]) == 1
    assert cause["stackTrace"][0].startswith(f'  File "{__file__}", line ')
    assert cause["stackTrace"][0].endswith('in raise_value_error\n    raise ValueError("bad value")\n')
    # function: ARNs get the Python runtime's text: json.dumps' default separators.
    assert error.cause == json.dumps(cause)


def test_lambda_invoke_error_cause_is_compact_json(fn):
    error = failure(lambda: functions.invoke(INVOKE, {"FunctionName": fn(raise_value_error)}))
    assert error.error == "ValueError"
    assert error.cause == json.dumps(json.loads(error.cause), separators=(",", ":"))
    assert error.cause.startswith('{"errorMessage":"bad value","errorType":"ValueError","requestId":"')


def test_an_exception_without_message_has_an_empty_error_message(fn):
    error = failure(lambda: functions.invoke(ARN + fn(raise_quiet), {}))
    assert error.error == "QuietError"
    assert json.loads(error.cause)["errorMessage"] == ""


def test_every_invocation_has_its_own_request_id(fn):
    name = fn(raise_value_error)
    first = json.loads(failure(lambda: functions.invoke(ARN + name, {})).cause)["requestId"]
    second = json.loads(failure(lambda: functions.invoke(ARN + name, {})).cause)["requestId"]
    assert first != second


def test_an_unknown_function_is_lambdas_resource_not_found():
    error = failure(lambda: functions.invoke(ARN + "no-such-function", {}))
    assert error.error == "Lambda.ResourceNotFoundException"
    assert error.cause.startswith(f"Function not found: {ARN}no-such-function (Service: AWSLambda; "
                                  "Status Code: 404; Error Code: ResourceNotFoundException;")
    error = failure(lambda: functions.invoke(INVOKE, {"FunctionName": "no-such-function"}))
    assert error.error == "Lambda.ResourceNotFoundException"


@pytest.mark.parametrize("value", [{1, 2}, object(), float("nan"), {"when": time}])
def test_a_return_value_that_is_not_json_is_a_task_failure_not_a_crash(fn, value):
    name = fn(lambda event, context: value)
    for call in (lambda: functions.invoke(ARN + name, {}),
                 lambda: functions.invoke(INVOKE, {"FunctionName": name})):
        error = failure(call)
        assert error.error == "States.TaskFailed"
        cause = json.loads(error.cause)
        assert cause["errorType"] == "Runtime.MarshalError"
        assert cause["errorMessage"].startswith("Unable to marshal response: ")


def test_a_response_over_256_kib_exceeds_the_data_limit(fn):
    big = fn(lambda event, context: "a" * (256 * 1024))  # plus two quotes: just over the limit
    error = failure(lambda: functions.invoke(ARN + big, {}))
    assert error.error == "States.DataLimitExceeded"
    assert error.cause == (f"The state/task '{ARN}{big}' returned a result with a size exceeding the "
                           "maximum number of bytes service limit.")
    error = failure(lambda: functions.invoke(INVOKE, {"FunctionName": big}))
    assert error.error == "States.DataLimitExceeded"
    assert error.cause.startswith("The state/task 'lambda' returned a result")


def test_a_response_of_exactly_256_kib_is_within_the_limit(fn):
    name = fn(lambda event, context: "a" * (256 * 1024 - 2))
    assert len(functions.invoke(ARN + name, {})) == 256 * 1024 - 2


# -- timeouts -------------------------------------------------------------------------------------
def test_a_handler_running_past_the_timeout_is_abandoned(fn):
    release = threading.Event()
    finished = threading.Event()

    def slow(event, context):
        release.wait(10)
        finished.set()
        return "late"

    name = fn(slow)
    started = time.monotonic()
    error = failure(lambda: functions.invoke(ARN + name, {}, timeout_seconds=0.2))
    waited = time.monotonic() - started
    assert (error.error, error.cause) == ("States.Timeout", None)
    assert 0.2 <= waited < 2
    assert not finished.is_set()  # still running, and nobody waits for it any more
    release.set()
    assert finished.wait(5)


def test_a_real_sleeping_handler_times_out_through_lambda_invoke(fn):
    name = fn(lambda event, context: time.sleep(3) or "late")
    started = time.monotonic()
    error = failure(lambda: functions.invoke(INVOKE, {"FunctionName": name}, timeout_seconds=0.3))
    assert error.error == "States.Timeout"
    assert time.monotonic() - started < 2


def test_a_handler_that_finishes_in_time_is_not_timed_out(fn):
    name = fn(lambda event, context: time.sleep(0.05) or "on time")
    assert functions.invoke(ARN + name, {}, timeout_seconds=5) == "on time"


# -- through the engine: history, Retry, Catch --------------------------------------------------
def _task_handler(suspension, execution):
    return functions.invoke(suspension.resource, suspension.parameters,
                            timeout_seconds=suspension.timeout_seconds)


def _types(result):
    return [event["type"] for event in result.events]


def test_function_arn_tasks_record_lambda_function_events(fn):
    name = fn(lambda event, context: {"doubled": event["n"] * 2})
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ARN + name, "End": True}}}
    result = run_engine(definition, {"n": 21}, _task_handler)
    assert (result.status, result.output) == ("SUCCEEDED", {"doubled": 42})
    assert _types(result) == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                              "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                              "ExecutionSucceeded"]


def test_lambda_invoke_tasks_record_task_events(fn):
    name = fn(identity)
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": name, "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": True}}}
    result = run_engine(definition, {"k": "v"}, _task_handler)
    assert (result.status, result.output) == ("SUCCEEDED", {"k": "v"})
    assert _types(result)[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]


def test_a_raising_function_is_retried_then_caught(fn):
    calls = []

    def flaky(event, context):
        calls.append(context.aws_request_id)
        raise QuietError()

    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN + fn(flaky),
              "Retry": [{"ErrorEquals": ["QuietError"], "MaxAttempts": 2, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    result = run_engine(definition, {}, _task_handler)
    assert result.status == "SUCCEEDED"
    assert len(calls) == 3 and len(set(calls)) == 3
    assert result.output["Error"] == "QuietError"
    assert json.loads(result.output["Cause"])["requestId"] == calls[-1]
    assert _types(result).count("LambdaFunctionFailed") == 3


def test_a_timed_out_function_fails_the_execution_with_states_timeout(fn):
    release = threading.Event()
    name = fn(lambda event, context: release.wait(10))
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": INVOKE, "TimeoutSeconds": 1,
        "Parameters": {"FunctionName": name}, "End": True}}}
    try:
        result = run_engine(definition, {}, _task_handler)
    finally:
        release.set()
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert _types(result)[2:5] == ["TaskScheduled", "TaskStarted", "TaskTimedOut"]


def test_a_caught_timeout_has_an_empty_cause(fn):
    release = threading.Event()
    name = fn(lambda event, context: release.wait(10))
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN + name, "TimeoutSeconds": 1,
              "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    try:
        result = run_engine(definition, {}, _task_handler)
    finally:
        release.set()
    assert result.output == {"Error": "States.Timeout", "Cause": ""}
    assert "LambdaFunctionTimedOut" in _types(result)
