"""TestState: run one state in memory, with the engine, and say what it did.

The engine runs the state (engine/inspection.py: a machine made for the test, the state's stages
recorded, RETRIABLE instead of a retry); this module reads the request, calls the registered function
for a Task that is not mocked, and writes the answer as AWS does, the inspection data as JSON text.
Nothing is written to the database.

AWS: https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html
"""

from __future__ import annotations

import time
from typing import Any

from designer.runtime import InvalidDefinition, InvalidExecutionInput, ValidationException, call_function
from engine import (
    ERROR,
    RESULT,
    RUNTIME,
    ExecutionOptions,
    InvalidTestRequest,
    Mock,
    TaskFailed,
    jsontext,
    run_state_test,
)
from engine import InvalidDefinition as EngineInvalidDefinition

# What inspectionData holds as JSON text (the rest are numbers and objects).
_TEXT_FIELDS = ("input", "afterArguments", "afterInputPath", "afterParameters", "result",
                "afterResultSelector", "afterResultPath", "variables", "afterItemsPath", "afterItemSelector",
                "afterItemBatcher")


def _json(text: str | None, what: str, error: type[Exception]) -> Any:
    if text is None:
        return None
    try:
        return jsontext.loads(text)
    except jsontext.JsonTextError as problem:
        raise error(f"Invalid {what}: '{problem}'") from None


def _text(value: Any) -> str:
    try:
        return jsontext.dumps(value)
    except jsontext.JsonTextError as error:
        return f"<not JSON: {error}>"


def _mock(request: dict) -> Mock | None:
    mock = request.get("mock")
    if not mock:
        return None
    if "result" in mock and "errorOutput" in mock:
        raise ValidationException("A mock has either a result or an errorOutput, not both")
    if "result" in mock:
        return Mock(RESULT, result=_json(mock["result"], "mock result", ValidationException))
    if "errorOutput" in mock:
        return Mock(ERROR, error=mock["errorOutput"].get("error"), cause=mock["errorOutput"].get("cause"))
    raise ValidationException("A mock needs a result or an errorOutput")


def _call_function(suspension, execution) -> Any:
    status, value, cause = call_function(suspension.resource or "", suspension.parameters,
                                         suspension.timeout_seconds)
    if status != "ok":
        raise TaskFailed(value, cause)
    return value


def test_state(request: dict) -> dict:
    definition = _json(request["definition"], "State Machine Definition", InvalidDefinition)
    if not isinstance(definition, dict):
        raise InvalidDefinition("Invalid State Machine Definition: the definition must be a JSON object")
    state_input = _json(request.get("input"), "State Input", InvalidExecutionInput)
    state_input = {} if state_input is None else state_input
    variables = _json(request.get("variables"), "variables", ValidationException)
    if variables is not None and not isinstance(variables, dict):
        raise ValidationException("Invalid variables: a JSON object is expected")
    mock = _mock(request)
    context = _json(request.get("context"), "context", ValidationException)
    if context is not None and not isinstance(context, dict):
        raise ValidationException("Invalid context: a JSON object is expected")
    configuration = request.get("stateConfiguration") or {}
    try:
        outcome = run_state_test(
            definition, state_input, _call_function, state_name=request.get("stateName"),
            variables=variables, mock=mock, context=context,
            retrier_retry_count=configuration.get("retrierRetryCount") or 0,
            map_iteration_failure_count=configuration.get("mapIterationFailureCount"),
            options=ExecutionOptions(state_machine_name="TestState", execution_name="TestState",
                                     start_time=time.time()))
    except InvalidTestRequest as problem:
        raise ValidationException(str(problem)) from None
    except EngineInvalidDefinition as error:
        raise InvalidDefinition(str(error), error.problems) from None
    except RecursionError:  # the reader's depth limit keeps definitions below this; a last defence
        raise InvalidDefinition("Invalid State Machine Definition: nested too deeply") from None

    answer: dict[str, Any] = {"status": outcome.status}
    if outcome.status in ("SUCCEEDED", "CAUGHT_ERROR"):
        try:
            answer["output"] = jsontext.dumps(outcome.output)
        except jsontext.JsonTextError as error:  # NaN or inf from JSONata arithmetic: not JSON
            return {"status": "FAILED", "error": RUNTIME, "cause": f"The state's output is not JSON: {error}"}
    if outcome.next_state is not None:
        answer["nextState"] = outcome.next_state
    if outcome.error is not None:
        answer["error"] = outcome.error
    if outcome.cause is not None:
        answer["cause"] = outcome.cause
    # DEBUG and TRACE show the data flow (TRACE adds an HTTP Task's request and response; Stepwise has
    # no HTTP Tasks yet, so the two are the same here).
    if (request.get("inspectionLevel") or "INFO") in ("DEBUG", "TRACE"):
        answer["inspectionData"] = {key: _text(value) if key in _TEXT_FIELDS else value
                                    for key, value in outcome.inspection.items()}
    return answer
