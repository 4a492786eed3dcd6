"""Python functions that Task states call: Stepwise's local equivalent of AWS Lambda.

A function is a plain Python callable `handler(event, context)`, registered under a name:

    from designer.functions import register

    @register("greet")
    def greet(event, context):
        return {"greeting": f"Hello, {event['name']}!"}

A state machine calls it as it would call a Lambda function, with either resource form:

    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet"
        the event is the state's effective input; the result is the decoded return value
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "greet", "Payload.$": "$"}
        the event is Payload; the result is AWS's Invoke response ({"Payload": …, "StatusCode": 200, …})

`invoke(resource, parameters, timeout_seconds=…)` runs it the way Lambda's Python runtime does: the
event is a decoded copy of the JSON the function is sent, the return value is serialised with
`json.dumps`, a raised exception becomes the task error `<exception class name>` with Lambda's JSON
error document as the cause, and a handler still running after the state's TimeoutSeconds is
abandoned (`States.Timeout`; its late result is discarded). Failures are raised as
`engine.TaskFailed(error, cause)`, which the engine hands to the state's Retry and Catch.

Where functions come from (all loaded on first use, or explicitly with `load()`):
- this project's examples, `designer/example_functions.py`;
- the modules named in the environment variable STEPWISE_FUNCTIONS (comma-separated importable
  module paths, e.g. `myapp.functions,billing.steps`); importing them runs their `@register` calls;
- `register_path(name, "/abs/path/file.py:handler")`, which loads a handler from a file.

This module imports no Django: the conformance adapter and engine-side workers use it in a plain process.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from engine import (
    DATA_LIMIT_EXCEEDED,
    MAX_PAYLOAD_BYTES,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
    TaskFailed,
    integration,
)

Handler = Callable[[Any, Any], Any]

EXAMPLE_MODULES = ("designer.example_functions",)
ENV_MODULES = "STEPWISE_FUNCTIONS"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# Lambda's own cap on one invocation; also what `context.get_remaining_time_in_millis()` counts down
# from when the state sets no TimeoutSeconds.
MAX_FUNCTION_SECONDS = 900

_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"function:(?P<name>[a-zA-Z0-9_-]{1,64})(?::(?P<qualifier>[a-zA-Z0-9$_-]+))?$")
# FunctionName of lambda:invoke: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:Q] or the full ARN.
_FUNCTION_NAME = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]{1,64})(?::(?P<qualifier>[a-zA-Z0-9$_-]+))?$")
# `.waitForTaskToken`: the same request; its response is recorded as TaskSubmitted, and the Task waits
# for its token (designer/runtime/tokens.py).
_LAMBDA_INVOKE = re.compile(r"^arn:aws[a-zA-Z-]*:states:[a-z0-9-]*:\d{0,12}:lambda:invoke$")
_LAMBDA_INVOKE_CALLBACK = re.compile(
    r"^arn:aws[a-zA-Z-]*:states:[a-z0-9-]*:\d{0,12}:lambda:invoke(?:\.waitForTaskToken)?$")
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# -- the registry ------------------------------------------------------------------------------------
_registry: dict[str, Handler] = {}
_lock = threading.RLock()
_defaults_loaded = False
_file_modules: dict[str, tuple[float, Any]] = {}  # absolute path → (mtime, module): load a file once


def register(name: str, handler: Handler | None = None):
    """Register `handler` as function `name`; without a handler, return a decorator that does.

    Registering a name again replaces the previous handler.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"invalid function name {name!r}: use 1 to 64 letters, digits, '-' or '_' "
                         "(Lambda's rule)")
    if handler is None:
        def decorator(function: Handler) -> Handler:
            register(name, function)
            return function
        return decorator
    if not callable(handler):
        raise TypeError(f"the handler of function {name!r} is not callable: {handler!r}")
    with _lock:
        _registry[name] = handler
    return handler


def register_path(name: str, spec: str) -> Handler:
    """Register function `name` from `"/abs/path/file.py:handler"` (`:handler` is the default)."""
    path_text, separator, attribute = spec.rpartition(":")
    if not separator or not attribute or "/" in attribute or attribute.endswith(".py"):
        path_text, attribute = spec, "handler"
    path = Path(path_text).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"function {name!r}: no such file {str(path)!r}")
    module = _load_file(path)
    handler = getattr(module, attribute, None)
    if handler is None:
        raise AttributeError(f"function {name!r}: {str(path)!r} has no {attribute!r}")
    return register(name, handler)


def _load_file(path: Path) -> Any:
    mtime = path.stat().st_mtime
    key = str(path)
    with _lock:
        hit = _file_modules.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        module_name = f"stepwise_functions_{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        # Registered in sys.modules while it runs, as an import would: dataclasses and pickling need it.
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        _file_modules[key] = (mtime, module)
        return module


def unregister(name: str) -> None:
    """Forget function `name` (no error if it is not registered)."""
    with _lock:
        _registry.pop(name, None)


def registered() -> dict[str, Handler]:
    """A copy of the registry, name → handler, with the examples and STEPWISE_FUNCTIONS loaded."""
    load()
    with _lock:
        return dict(_registry)


def load(modules: list[str] | tuple[str, ...] | None = None) -> None:
    """Import the example module and the STEPWISE_FUNCTIONS modules (once), or the given `modules`.

    Raises ImportError naming the module that could not be imported.
    """
    global _defaults_loaded
    defaults = modules is None
    if defaults:
        if _defaults_loaded:
            return
        env = os.environ.get(ENV_MODULES, "")
        modules = EXAMPLE_MODULES + tuple(m.strip() for m in env.split(",") if m.strip())
    with _lock:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise ImportError(f"cannot import the functions module {module!r} ({ENV_MODULES}): "
                                  f"{type(exc).__name__}: {exc}") from exc
        if defaults:
            _defaults_loaded = True


def lookup(name: str) -> Handler | None:
    load()
    return _registry.get(name)


# -- resources -----------------------------------------------------------------------------------
def is_function_resource(resource: str) -> bool:
    """Is `resource` a Lambda-style function call that this registry answers?

    `arn:aws:lambda:<region>:<account>:function:NAME[:qualifier]` and `arn:aws:states:::lambda:invoke`;
    not `lambda:invoke.waitForTaskToken` (a callback: the function gets a token and someone else
    answers), which is the callback integration's job.
    """
    return bool(_FUNCTION_ARN.match(resource) or _LAMBDA_INVOKE.match(resource))


@dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    qualifier: str | None
    arn: str  # unqualified, as Lambda names the function in its messages


def _default_region() -> str:
    return os.environ.get("STEPWISE_REGION", "us-east-1")


def _default_account() -> str:
    return os.environ.get("STEPWISE_ACCOUNT_ID", "123456789012")


def parse_function_name(text: str) -> FunctionRef | None:
    """A lambda:invoke FunctionName or a function ARN → the function it names (None if malformed)."""
    match = _FUNCTION_NAME.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    partition = match["partition"] or "aws"
    region = match["region"] or _default_region()
    account = match["account"] or _default_account()
    arn = f"arn:{partition}:lambda:{region}:{account}:function:{match['name']}"
    return FunctionRef(match["name"], match["qualifier"], arn)


# -- Lambda's context object ---------------------------------------------------------------------
class LambdaContext:
    """The `context` argument of a Lambda Python handler (the attributes the runtime provides)."""

    def __init__(self, function: FunctionRef, request_id: str, deadline: float):
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn + (f":{function.qualifier}" if function.qualifier else "")
        self.memory_limit_in_mb = "128"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# -- capturing a handler's prints (LogType: Tail) -------------------------------------------------
class _ThreadCapture:
    """sys.stdout/sys.stderr stand-in: writes from a capturing thread also go to that thread's log;
    everything else (encoding, fileno, …) is the wrapped stream's."""

    def __init__(self, stream):
        self.stream = stream
        self.logs: dict[int, io.StringIO] = {}

    def write(self, text):
        log = self.logs.get(threading.get_ident())
        if log is not None:
            log.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _capture_streams() -> tuple[_ThreadCapture, _ThreadCapture]:
    with _lock:
        if not isinstance(sys.stdout, _ThreadCapture):
            sys.stdout = _ThreadCapture(sys.stdout)
        if not isinstance(sys.stderr, _ThreadCapture):
            sys.stderr = _ThreadCapture(sys.stderr)
        return sys.stdout, sys.stderr


# -- running a handler -----------------------------------------------------------------------------
@dataclass(slots=True)
class _Outcome:
    response: bytes | None = None  # the serialised return value
    error: dict | None = None  # Lambda's error document: errorMessage, errorType, requestId, stackTrace
    log: str = ""
    duration_ms: float = 0.0


def _error_document(message: str, error_type: str, request_id: str, stack: list[str]) -> dict:
    # Key order as Lambda writes it; the cause is this document's JSON text.
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _handler_frames(exc: BaseException) -> list[str]:
    # Lambda's runtime drops its own bootstrap frames; here the frames of this module.
    frames = traceback.extract_tb(exc.__traceback__)
    own = __file__
    while frames and frames[0].filename == own:
        frames = traceback.StackSummary.from_list(frames[1:])
    return traceback.format_list(frames)


def _call(handler: Handler, event: Any, context: LambdaContext, capture: bool) -> _Outcome:
    outcome = _Outcome()
    streams = _capture_streams() if capture else ()
    log = io.StringIO()
    for stream in streams:
        stream.logs[threading.get_ident()] = log
    started = time.perf_counter()
    try:
        result = handler(event, context)
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # SystemExit too: Lambda reports what the function raised
        message = str(exc)
        outcome.error = _error_document(message, type(exc).__name__, context.aws_request_id,
                                        _handler_frames(exc))
        log.write(f"[ERROR] {type(exc).__name__}: {message}\n")
    else:
        if isinstance(result, bytes | bytearray):
            outcome.response = bytes(result)  # Lambda's runtime sends bytes as they are
        else:
            try:
                outcome.response = json.dumps(result, allow_nan=False).encode()
            except (TypeError, ValueError) as exc:
                # What Lambda's Python runtime reports for a return value it cannot serialise.
                outcome.error = _error_document(f"Unable to marshal response: {exc}", "Runtime.MarshalError",
                                                context.aws_request_id, [])
    finally:
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        for stream in streams:
            stream.logs.pop(threading.get_ident(), None)
    outcome.log = log.getvalue()
    return outcome


def _run(handler: Handler, event: Any, context: LambdaContext, timeout_seconds: float | None,
         capture: bool) -> _Outcome | None:
    """Run the handler; None when it is still running after `timeout_seconds` (it is abandoned)."""
    if timeout_seconds is None and not capture:
        return _call(handler, event, context, capture)
    box: list[_Outcome] = []
    failure: list[BaseException] = []

    def attempt():
        try:
            box.append(_call(handler, event, context, capture))
        except BaseException as exc:
            failure.append(exc)

    # A daemon thread: a handler that never returns cannot keep the process alive. Python cannot
    # stop a thread, so an abandoned handler runs on and its result is dropped, like a Lambda
    # invocation whose caller stopped waiting.
    worker = threading.Thread(target=attempt, name=f"stepwise-function-{context.function_name}", daemon=True)
    worker.start()
    wait = None if timeout_seconds is None else min(max(timeout_seconds, 0), threading.TIMEOUT_MAX)
    worker.join(wait)
    if worker.is_alive():
        return None
    if failure:
        raise failure[0]
    return box[0]


# -- invoke ----------------------------------------------------------------------------------------
def invoke(resource: str, parameters: Any, *, timeout_seconds: float | None = None) -> Any:
    """Run the function a Task state's `resource` names with the state's effective input.

    Returns the task result (see the module docstring for both resource forms); raises
    `engine.TaskFailed(error, cause)` when the function raised, timed out, returned too much or
    something that is not JSON, or does not exist.
    """
    if _FUNCTION_ARN.match(resource):
        return _invoke_function_arn(resource, parameters, timeout_seconds)
    if _LAMBDA_INVOKE_CALLBACK.match(resource):
        return _invoke_lambda_invoke(parameters, timeout_seconds)
    named = integration(resource)
    if named is not None and named.recognized:
        # AWS accepts it (engine/integrations.py); Stepwise has no runner for it yet.
        raise TaskFailed(RUNTIME, f"The resource '{resource}' is an AWS {named.service}:{named.action} "
                                  "integration, which Stepwise cannot run yet: it is not a Python function: "
                                  f"use arn:aws:lambda:<region>:<account>:function:<name> or {LAMBDA_INVOKE}")
    raise TaskFailed(RUNTIME, f"The resource '{resource}' is not a Python function: use "
                              f"arn:aws:lambda:<region>:<account>:function:<name> or {LAMBDA_INVOKE}")


def _find(function: FunctionRef, request_id: str) -> Handler:
    try:
        handler = lookup(function.name)
    except ImportError as exc:
        raise TaskFailed(RUNTIME, str(exc)) from exc
    if handler is None:
        raise TaskFailed("Lambda.ResourceNotFoundException", (
            f"Function not found: {function.arn} (Service: AWSLambda; Status Code: 404; "
            f"Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"))
    return handler


def _decoded_copy(value: Any) -> Any:
    # The function gets what Lambda would: the JSON it is sent, decoded. A copy, so a handler that
    # changes its event cannot change the execution's (shared, immutable) documents.
    return json.loads(json.dumps(value))


def _invoke_function_arn(resource: str, parameters: Any, timeout_seconds: float | None) -> Any:
    function = parse_function_name(resource)
    request_id = str(uuid.uuid4())
    handler = _find(function, request_id)
    outcome = _attempt(handler, _decoded_copy(parameters), function, request_id, timeout_seconds, False)
    if outcome.error is not None:
        # The Lambda error document as the Python runtime writes it (json.dumps, default separators).
        raise TaskFailed(*_task_error(outcome.error, json.dumps(outcome.error)))
    _check_size(outcome.response, resource)
    return _decode_response(outcome.response)


def _invoke_lambda_invoke(parameters: Any, timeout_seconds: float | None) -> Any:
    request_id = str(uuid.uuid4())
    if not isinstance(parameters, dict) or not isinstance(parameters.get("FunctionName"), str):
        raise TaskFailed(RUNTIME, "lambda:invoke needs Parameters with a string FunctionName "
                                  f"(got {json.dumps(parameters)[:200]})")
    function = parse_function_name(parameters["FunctionName"])
    if function is None:
        raise TaskFailed("Lambda.InvalidParameterValueException", (
            f"1 validation error detected: Value '{parameters['FunctionName']}' at 'functionName' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
            "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))? (Service: AWSLambda; Status Code: 400; "
            f"Error Code: ValidationException; Request ID: {request_id}; Proxy: null)"))
    handler = _find(function, request_id)
    event = _payload_event(parameters.get("Payload"), request_id)
    invocation_type = parameters.get("InvocationType", "RequestResponse")
    if invocation_type == "DryRun":
        return _invoke_response(b"", request_id, status=204, log=None)
    if invocation_type == "Event":
        # Asynchronous: Lambda queues the event and answers 202 at once; nobody waits for the result.
        threading.Thread(target=_call, args=(handler, event, LambdaContext(
            function, request_id, time.monotonic() + MAX_FUNCTION_SECONDS), False), daemon=True).start()
        return _invoke_response(b"", request_id, status=202, log=None)
    tail = parameters.get("LogType") == "Tail"
    outcome = _attempt(handler, event, function, request_id, timeout_seconds, tail)
    if outcome.error is not None:
        # Step Functions re-serialises the function's error document compactly for lambda:invoke.
        raise TaskFailed(*_task_error(outcome.error, json.dumps(outcome.error, separators=(",", ":"),
                                                                ensure_ascii=False)))
    _check_size(outcome.response, "lambda")
    log = _log_tail(outcome, request_id) if tail else None
    return _invoke_response(outcome.response, request_id, status=200, log=log)


def _payload_event(payload: Any, request_id: str) -> Any:
    if payload is None:
        return {}  # Lambda invoked without a body: the Python runtime's event is {}
    if isinstance(payload, str):
        # A string Payload is the request body as is, so it must be JSON text itself.
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise TaskFailed("Lambda.InvalidRequestContentException", (
                f"Could not parse request body into json: {exc} (Service: AWSLambda; Status Code: 400; "
                f"Error Code: InvalidRequestContentException; Request ID: {request_id}; Proxy: null)"),
            ) from exc
    return _decoded_copy(payload)


def _attempt(handler: Handler, event: Any, function: FunctionRef, request_id: str,
             timeout_seconds: float | None, capture: bool) -> _Outcome:
    budget = MAX_FUNCTION_SECONDS if timeout_seconds is None else min(timeout_seconds, MAX_FUNCTION_SECONDS)
    context = LambdaContext(function, request_id, time.monotonic() + budget)
    outcome = _run(handler, event, context, timeout_seconds, capture)
    if outcome is None:
        # AWS records the timeout with no cause (TaskTimedOut / LambdaFunctionTimedOut carry only the error).
        raise TaskFailed(TIMEOUT, None)
    return outcome


def _task_error(document: dict, cause: str) -> tuple[str, str]:
    if document["errorType"] == "Runtime.MarshalError":
        # The function ran but its result is not JSON: a task failure the state machine can catch.
        return TASK_FAILED, cause
    return document["errorType"], cause


def _check_size(response: bytes, task: str) -> None:
    if len(response) > MAX_PAYLOAD_BYTES:
        raise TaskFailed(DATA_LIMIT_EXCEEDED, f"The state/task '{task}' returned a result with a size "
                                              "exceeding the maximum number of bytes service limit.")


def _decode_response(response: bytes) -> Any:
    text = response.decode("utf-8", errors="replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # bytes that are not JSON reach the state machine as a string


def _log_tail(outcome: _Outcome, request_id: str) -> str:
    billed = max(1, int(outcome.duration_ms + 0.999))
    text = (f"START RequestId: {request_id} Version: $LATEST\n{outcome.log}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t\n")
    return base64.b64encode(text.encode()[-4096:]).decode()  # Lambda returns the last 4 KB


def _trace_id() -> str:
    return f"root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};parent={uuid.uuid4().hex[:16]};sampled=0"


def _invoke_response(response: bytes, request_id: str, status: int, log: str | None) -> dict:
    """AWS's lambda:invoke task result: the Invoke response with the SDK's HTTP metadata."""
    headers = {"X-Amz-Executed-Version": "$LATEST"}
    if log is not None:
        headers["X-Amz-Log-Result"] = log
    headers.update({
        "x-amzn-Remapped-Content-Length": "0",
        "Connection": "keep-alive",
        "x-amzn-RequestId": request_id,
        "Content-Length": str(len(response)),
        "Date": formatdate(usegmt=True),
        "X-Amzn-Trace-Id": _trace_id(),
        "Content-Type": "application/json",
    })
    if status != 200:
        del headers["X-Amz-Executed-Version"]
    result = {"ExecutedVersion": "$LATEST"} if status == 200 else {}
    if log is not None:
        result["LogResult"] = log
    result.update({
        "Payload": _decode_response(response) if status == 200 else "",
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": dict(sorted(headers.items(), key=lambda item: item[0].lower())),
            "HttpStatusCode": status,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status,
    })
    return result
