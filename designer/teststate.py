"""TestState: run one state in memory, with the engine, and say what it did.

The state runs inside a small machine made for the test: the state itself, and in place of every
state it can go to (Next, a Choice's targets, a Catcher's Next) a Succeed state, so the run stops
right after the tested state and the state it went to is `nextState`. Nothing is written to the
database. Task states call the registered function (or answer with `mock`); as on AWS, a failure
that a Retrier would retry is not retried: the answer is RETRIABLE.

AWS: https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html
"""

from __future__ import annotations

import json
from typing import Any

from designer.runtime import InvalidDefinition, InvalidExecutionInput, ValidationException, call_function
from engine import ExecutionOptions, TaskFailed, compile_definition, run
from engine import InvalidDefinition as EngineInvalidDefinition
from engine.history import json_text

DEFAULT_STATE_NAME = "TestState"
_VARIABLES_STATE = "Stepwise.TestState.Variables"
# States that end an execution, or that have no Next/End of their own.
_TERMINAL = {"Succeed", "Fail"}


class _Retriable(Exception):
    """The tested Task failed and a Retrier would try it again: the test stops there."""


def _json(text: str | None, what: str, error: type[Exception]) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as problem:
        raise error(f"Invalid {what}: '{problem}'") from None


def _targets(state: dict) -> tuple[set[str], set[str]]:
    """(names the state goes to normally, names its catchers go to)."""
    normal = {state["Next"]} if isinstance(state.get("Next"), str) else set()
    if state.get("Type") == "Choice":
        normal |= {rule.get("Next") for rule in state.get("Choices") or [] if isinstance(rule, dict)}
        if isinstance(state.get("Default"), str):
            normal.add(state["Default"])
    caught = {catcher.get("Next") for catcher in state.get("Catch") or [] if isinstance(catcher, dict)}
    return {name for name in normal if isinstance(name, str)}, {n for n in caught if isinstance(n, str)}


def _test_machine(definition: dict, state_name: str | None) -> tuple[str, dict, dict]:
    """(the state's name, the state, the machine that runs just it)."""
    if state_name is not None or "States" in definition:
        states = definition.get("States")
        if not isinstance(states, dict):
            raise InvalidDefinition("Invalid State Machine Definition: 'States' is missing")
        state_name = state_name or definition.get("StartAt")
        if state_name not in states:
            raise ValidationException(f"State '{state_name}' does not exist in the definition")
        state = states[state_name]
        language = definition.get("QueryLanguage")
    else:
        state_name, state, language = DEFAULT_STATE_NAME, definition, None
    if not isinstance(state, dict):
        raise InvalidDefinition("Invalid State Machine Definition: the state must be a JSON object")
    state = dict(state)
    if state.get("Type") not in _TERMINAL and state.get("Type") != "Choice" and "Next" not in state:
        state["End"] = True
    normal, caught = _targets(state)
    states = {state_name: state}
    for target in (normal | caught) - {state_name}:
        states[target] = {"Type": "Succeed"}
    machine = {"StartAt": state_name, "States": states}
    if language:
        machine["QueryLanguage"] = language
    return state_name, state, machine


def _with_variables(machine: dict, state_name: str, variables: dict) -> dict:
    """Variables given to the test are assigned by a Pass state before the tested state."""
    assign = {"Type": "Pass", "Assign": variables, "Next": state_name}
    return {**machine, "StartAt": _VARIABLES_STATE, "States": {_VARIABLES_STATE: assign, **machine["States"]}}


def test_state(request: dict) -> dict:
    definition = _json(request["definition"], "State Machine Definition", InvalidDefinition)
    if not isinstance(definition, dict):
        raise InvalidDefinition("Invalid State Machine Definition: the definition must be a JSON object")
    state_input = _json(request.get("input"), "State Input", InvalidExecutionInput)
    state_input = {} if state_input is None else state_input
    variables = _json(request.get("variables"), "variables", ValidationException)
    if variables is not None and not isinstance(variables, dict):
        raise ValidationException("Invalid variables: a JSON object is expected")
    state_name, state, machine = _test_machine(definition, request.get("stateName"))
    if variables:
        machine = _with_variables(machine, state_name, variables)
    try:
        compiled = compile_definition(machine)
    except EngineInvalidDefinition as error:
        raise InvalidDefinition(str(error), error.problems) from None

    mock = request.get("mock") or {}
    failures: list[tuple[str | None, str | None]] = []
    task_result: list[Any] = []

    def handler(suspension, execution):
        if suspension.state_name == state_name and suspension.attempt > 0:
            raise _Retriable()
        if "result" in mock:
            result = _json(mock["result"], "mock result", ValidationException)
        elif "errorOutput" in mock:
            error = mock["errorOutput"].get("error")
            cause = mock["errorOutput"].get("cause")
            failures.append((error, cause))
            raise TaskFailed(error, cause)
        else:
            status, value, cause = call_function(suspension.resource or "", suspension.parameters,
                                                 suspension.timeout_seconds)
            if status != "ok":
                failures.append((value, cause))
                raise TaskFailed(value, cause)
            result = value
        if suspension.state_name == state_name:
            task_result.append(result)
        return result

    try:
        outcome = run(compiled, state_input, handler, options=ExecutionOptions(
            state_machine_name="TestState", execution_name="TestState"))
    except _Retriable:
        error, cause = failures[-1] if failures else (None, None)
        return _answer(request, state_input, task_result, status="RETRIABLE", error=error, cause=cause)

    entered = [event for event in outcome.events if event["type"].endswith("StateEntered")]
    exited = [event for event in outcome.events if event["type"].endswith("StateExited")
              and event.get("stateExitedEventDetails", {}).get("name") == state_name]
    reached = next((event["stateEnteredEventDetails"]["name"] for event in entered
                    if event["stateEnteredEventDetails"]["name"] not in (state_name, _VARIABLES_STATE)), None)
    if outcome.status == "SUCCEEDED":
        output = exited[-1]["stateExitedEventDetails"].get("output") if exited else outcome.output
        if reached is None:
            output = outcome.output
        normal, caught = _targets(state)
        error = cause = None
        status = "SUCCEEDED"
        if reached in caught and (reached not in normal or failures or not exited):
            status = "CAUGHT_ERROR"
            error, cause = failures[-1] if failures else (_error_of(outcome.events))
            output = outcome.output  # the Succeed placeholder passes the catcher's output through
        return _answer(request, state_input, task_result, status=status, output=output, next_state=reached,
                       error=error, cause=cause)
    return _answer(request, state_input, task_result, status="FAILED", error=outcome.error,
                   cause=outcome.cause)


def _error_of(events: list[dict]) -> tuple[str | None, str | None]:
    """The error and cause of the last failure event (a Pass or Map failing without a task)."""
    for event in reversed(events):
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict) and "error" in details:
                return details.get("error"), details.get("cause")
    return None, None


def _answer(request: dict, state_input: Any, task_result: list, *, status: str, output: Any = None,
            next_state: str | None = None, error: str | None = None, cause: str | None = None) -> dict:
    answer: dict[str, Any] = {"status": status}
    if status in ("SUCCEEDED", "CAUGHT_ERROR"):
        answer["output"] = json_text(output)
    if next_state is not None:
        answer["nextState"] = next_state
    if error is not None:
        answer["error"] = error
    if cause is not None:
        answer["cause"] = cause
    if (request.get("inspectionLevel") or "INFO") in ("DEBUG", "TRACE"):
        inspection: dict[str, Any] = {"input": json_text(state_input)}
        if task_result:
            inspection["result"] = json_text(task_result[-1])
        if status == "SUCCEEDED":
            inspection["afterResultPath"] = json_text(output)
        answer["inspectionData"] = inspection
    return answer
