"""Running one state on its own and seeing what each stage made of the data: the engine side of AWS's
TestState API.

`run_state_test()` runs the state in a machine made for the test: the state itself and, in place of every
state it can go to (Next, a Choice's targets, a Catcher's Next), a Succeed state, so the run stops
right after it and the state it went to is the answer's `next_state`. The tested state is a copy whose
pipeline stages also write what they produced into the answer's `inspection`, under the names of AWS's
InspectionData (afterInputPath, afterParameters, result, afterResultSelector, afterResultPath,
afterArguments, afterItemsPath, afterItemSelector, afterItemBatcher, ...). The stages are the state's
own compiled ones: nothing here re-implements the pipeline.

As on AWS, the state is not retried: a failure that one of its Retriers would retry ends the test as
RETRIABLE, with the retrier's index and back-off (`retrier_retry_count` says how many retries were
made already). A mocked result stands in for the work of a Task (the function is not called), and of
a Map or Parallel (their iterations and branches do not run).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from engine.compile import DEFAULT, JSONATA, Machine, State, compile_definition
from engine.errors import EXCEEDED_TOLERATED_FAILURE_THRESHOLD, StatesError, error_matches
from engine.frames import RETRYING, RUNNING, Frame
from engine.interpreter import Execution, ExecutionOptions
from engine.runner import TaskFailed, TaskHandler, answer_task
from engine.variables import bind

RESULT, ERROR = "result", "error"
_PLACEHOLDER = "Stepwise.TestState.Next.{}"
# States whose work produces a result that ResultSelector and ResultPath then shape.
_HAS_RESULT = frozenset({"Pass", "Task", "Map", "Parallel"})
_HAS_RESULT_SELECTOR = frozenset({"Task", "Map", "Parallel"})
_HAS_PARAMETERS = frozenset({"Pass", "Task", "Parallel"})  # a Map's Parameters is its ItemSelector
_MOCKED_PROCESSOR = {"StartAt": "Mocked", "States": {"Mocked": {"Type": "Pass", "End": True}}}


class InvalidTestRequest(ValueError):
    """The request cannot be tested as asked (an unknown state, a mock a state cannot take)."""


@dataclass(slots=True)
class Mock:
    """What stands in for the state's work: `kind` RESULT with `result`, or ERROR with error/cause."""

    kind: str
    result: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass(slots=True)
class StateTestResult:
    status: str  # SUCCEEDED | FAILED | CAUGHT_ERROR | RETRIABLE
    output: Any = None
    next_state: str | None = None
    error: str | None = None
    cause: str | None = None
    inspection: dict = field(default_factory=dict)  # values, not yet JSON text


# -- the machine the test runs ----------------------------------------------------------------------
def _transitions(state: dict) -> list[tuple[dict, str]]:
    """(the object holding a "Next"/"Default", the key) for every transition the state makes."""
    places = []
    if isinstance(state.get("Next"), str):
        places.append((state, "Next"))
    if state.get("Type") == "Choice":
        places += [(rule, "Next") for rule in state.get("Choices") or []
                   if isinstance(rule, dict) and isinstance(rule.get("Next"), str)]
        if isinstance(state.get("Default"), str):
            places.append((state, "Default"))
    places += [(catcher, "Next") for catcher in state.get("Catch") or []
               if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str)]
    return places


def _copied(state: dict) -> dict:
    """A copy deep enough to rewrite the transitions in it."""
    state = dict(state)
    for key in ("Choices", "Catch"):
        if isinstance(state.get(key), list):
            state[key] = [dict(item) if isinstance(item, dict) else item for item in state[key]]
    return state


def state_test_machine(definition: dict, state_name: str | None, mock: Mock | None = None
                 ) -> tuple[str, dict, dict, dict[str, str]]:
    """(the state's name, the state as written, the machine that runs just it, placeholder → target).

    `definition` is a whole state machine (the state is `state_name`, by default its StartAt) or, with
    no `States`, the state alone."""
    if state_name is not None or "States" in definition:
        states = definition.get("States")
        if not isinstance(states, dict):
            raise InvalidTestRequest("The definition has no States")
        state_name = state_name or definition.get("StartAt")
        if state_name not in states:
            raise InvalidTestRequest(f"State '{state_name}' does not exist in the definition")
        written, language = states[state_name], definition.get("QueryLanguage")
    else:
        state_name, written, language = "TestState", definition, None
    if not isinstance(written, dict):
        raise InvalidTestRequest("The state must be a JSON object")
    state = _copied(written)
    if state.get("Type") not in ("Succeed", "Fail", "Choice") and "Next" not in state:
        state["End"] = True
    targets: dict[str, str] = {}
    placeholders: dict[str, str] = {}
    for holder, key in _transitions(state):
        target = holder[key]
        if target not in placeholders:
            placeholders[target] = _PLACEHOLDER.format(len(placeholders))
            targets[placeholders[target]] = target
        holder[key] = placeholders[target]
    if mock is not None:
        _replace_work(state)
    machine = {"StartAt": state_name, "States": {state_name: state}}
    machine["States"].update({name: {"Type": "Succeed"} for name in targets})
    if language:
        machine["QueryLanguage"] = language
    return state_name, written, machine, targets


def _replace_work(state: dict) -> None:
    """A mocked Map or Parallel runs a Pass state in place of its iterations and branches."""
    if state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
        state["Branches"] = [dict(_MOCKED_PROCESSOR) for _ in state["Branches"]] or [dict(_MOCKED_PROCESSOR)]
    elif state.get("Type") == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = dict(_MOCKED_PROCESSOR)
        if isinstance(state.get(key), dict) and "ProcessorConfig" in state[key]:
            processor["ProcessorConfig"] = state[key]["ProcessorConfig"]
        state[key] = processor


# -- recording the stages -----------------------------------------------------------------------------
class _RecordingPath:
    """InputPath, OutputPath or ItemsPath: the state's own path (absent: the value itself), recording
    what it was given under `before` and what it selected under `after`."""

    __slots__ = ("inner", "record", "before", "after")
    indefinite = True  # what it selects is not vouched for by a size bound of its input (io, states)

    def __init__(self, inner: Any, record: dict, before: str | None, after: str | None):
        self.inner, self.record, self.before, self.after = inner, record, before, after

    def get(self, value: Any, env: Any) -> Any:
        if self.before:
            self.record[self.before] = value
        inner = self.inner
        selected = value if inner is DEFAULT else {} if inner is None else inner.get(value, env)
        if self.after:
            self.record[self.after] = selected
        return selected

    def __getattr__(self, name: str) -> Any:  # text, keys, normalized: for the path's error messages
        return getattr(self.inner, name)


def _recording_template(inner: Any, record: dict, before: str | None, after: str | None,
                        replace_input: Mock | None = None):
    """A template stage (Parameters, ResultSelector): `before` names its input, `after` its output.
    With `replace_input`, the mock stands in for the input (the mocked work's result)."""

    def evaluate(value: Any, env: Any) -> Any:
        if replace_input is not None:
            value = _mocked(replace_input)
        if before:
            record[before] = value
        result = value if inner is None else inner(value, env)
        if after:
            record[after] = result
        return result

    return evaluate


def _mocked(mock: Mock) -> Any:
    if mock.kind == ERROR:
        raise StatesError(mock.error, mock.cause)
    return mock.result


def _recording_item_selector(inner: Any, record: dict):
    """Each iteration's input, in item order; and what the Map resolved before it started them."""
    def evaluate(value: Any, env: Any) -> Any:
        fan = env.frame.fanout
        if "afterItemSelector" not in record:
            record["afterItemSelector"] = [None] * fan.total
            _record_map_settings(record, env.frame.state, fan)
        selected = env.item if inner is None else inner(value, env)
        record["afterItemSelector"][env.index] = selected
        return selected

    return evaluate


def _record_map_settings(record: dict, state: State, fan: Any) -> None:
    if state.item_batcher:
        record["afterItemBatcher"] = fan.items
    record["maxConcurrency"] = 0 if fan.limit == math.inf else int(fan.limit)
    if fan.tolerated_count is not None:
        record["toleratedFailureCount"] = fan.tolerated_count
    if fan.tolerated_percentage is not None:
        record["toleratedFailurePercentage"] = float(fan.tolerated_percentage)


def _recording_jsonata(inner: Any, record: dict, key: str | None, mock: Mock | None,
                       passthrough: str | None):
    """A JSONata stage (Arguments, Output, Assign): evaluated against `$states`; records `$states.result`
    under "result" and its own value under `key`. Absent, it passes `$states.<passthrough>` on."""

    def evaluate(binding: dict, env: Any) -> Any:
        if mock is not None and "result" in binding:
            binding = {**binding, "result": _mocked(mock)}
        if "result" in binding:
            record["result"] = binding["result"]
        value = binding[passthrough] if inner is None else inner(binding, env)
        if key:
            record[key] = value
        return value

    return evaluate


def inspected(state: State, record: dict, mock: Mock | None = None) -> State:
    """A copy of `state` whose stages also record what they produced; a Map's or Parallel's `mock`
    stands in for what its iterations or branches produced."""
    work_mock = mock if state.type in ("Map", "Parallel") else None
    changes: dict[str, Any] = {}
    if state.language == JSONATA:
        if state.type in ("Task", "Parallel"):
            changes["arguments"] = _recording_jsonata(state.arguments, record, "afterArguments", None,
                                                      "input")
        if state.type in _HAS_RESULT:
            changes["output"] = _recording_jsonata(state.output, record, None, work_mock, "result")
            if state.assign is not None:
                changes["assign"] = _recording_jsonata(state.assign, record, None, work_mock, None)
    else:
        if state.type != "Fail":
            changes["input_path"] = _RecordingPath(state.input_path, record, None, "afterInputPath")
        if state.type in _HAS_PARAMETERS:
            changes["parameters"] = _recording_template(state.parameters, record, None, "afterParameters")
        if state.type in _HAS_RESULT:
            after = "afterResultSelector" if state.type in _HAS_RESULT_SELECTOR else None
            changes["result_selector"] = _recording_template(state.result_selector, record, "result", after,
                                                             replace_input=work_mock)
            changes["output_path"] = _RecordingPath(state.output_path, record, "afterResultPath", None)
        if state.type == "Map":
            items = DEFAULT if state.items is None else state.items  # no ItemsPath: the effective input
            changes["items"] = _RecordingPath(items, record, None, "afterItemsPath")
    if state.type == "Map":
        changes["item_selector"] = _recording_item_selector(state.item_selector, record)
    return replace(state, **changes)


# -- running it ---------------------------------------------------------------------------------------
class _TestExecution(Execution):
    """An execution that remembers the tested state's last error and may be given a context object."""

    def __init__(self, machine: Machine, execution_input: Any, options: ExecutionOptions,
                 context: dict | None):
        super().__init__(machine, execution_input, options)
        self.last_error: tuple[str | None, str | None] | None = None
        self.context_override = context or {}
        for key, attribute in (("Execution", "_execution_context"), ("StateMachine", "_machine_context")):
            if isinstance(self.context_override.get(key), dict):
                setattr(self, attribute, {**getattr(self, attribute), **self.context_override[key]})

    def context_object(self, frame: Frame) -> dict:
        context = super().context_object(frame)
        for key, part in self.context_override.items():
            if key in ("Execution", "StateMachine"):
                continue
            context[key] = {**context[key], **part} if isinstance(part, dict) and isinstance(
                context.get(key), dict) else part
        return context

    def state_failed(self, frame: Frame, state: State, error: StatesError, failed_event: str | None = None):
        if frame.parent is None:
            self.last_error = (error.name, self.located_cause(frame, state, error))
        return super().state_failed(frame, state, error, failed_event)


def _retried_from(state: State, retries_done: int) -> State:
    """The state as it stands after `retries_done` retries: each Retrier has that many attempts fewer,
    and its next back-off is the one after them."""
    if not retries_done:
        return state
    retriers = tuple(replace(retrier, max_attempts=max(0, retrier.max_attempts - retries_done),
                             interval_seconds=retrier.interval_seconds * retrier.backoff_rate ** retries_done)
                     for retrier in state.retriers)
    return replace(state, retriers=retriers)


def run_state_test(definition: dict, state_input: Any, task_handler: TaskHandler, *,
                   state_name: str | None = None, variables: dict | None = None, mock: Mock | None = None,
                   context: dict | None = None, retrier_retry_count: int = 0,
                   map_iteration_failure_count: int | None = None,
                   options: ExecutionOptions | None = None) -> StateTestResult:
    """Run one state of `definition` with `state_input` (see the module's docstring)."""
    name, written, machine_definition, targets = state_test_machine(definition, state_name, mock)
    kind = written.get("Type")
    if mock is not None and kind not in ("Task", "Map", "Parallel"):
        raise InvalidTestRequest(f"A mock can stand in for a Task, Map or Parallel state, not a {kind} state")
    if mock is None and kind == "Task" and str(written.get("Resource", "")).endswith(".waitForTaskToken"):
        raise InvalidTestRequest("A Task that waits for a task token can only be tested with a mock")
    machine = compile_definition(machine_definition)
    record: dict = {"input": state_input}
    state = _retried_from(inspected(machine.states[name], record, mock), retrier_retry_count)
    if map_iteration_failure_count is not None and kind == "Map":
        state = _with_failed_iterations(state, map_iteration_failure_count, record)
    machine.states[name] = state

    options = options or ExecutionOptions()
    now = [options.start_time or time.time()]
    options = replace(options, start_time=now[0], history=False, clock=lambda: now[0])
    execution = _TestExecution(machine, state_input, options, context)
    execution.start()
    root = execution._runnable[0]
    if variables:
        bind(root, variables)
    execution.run()
    while execution.status == RUNNING:
        suspension = next(iter(execution.suspensions().values()), None)
        if suspension is None:
            raise RuntimeError("the test is stuck: nothing runnable and nothing pending")
        if suspension.kind == "wait" and suspension.frame == root.id and root.phase == RETRYING:
            return _retriable(execution, suspension.until - now[0], record, root)
        if suspension.kind == "wait":
            now[0] = max(now[0], suspension.until)
            execution.resume_wait(suspension.frame)
        else:
            mocked = mock is not None and suspension.frame == root.id
            answer_task(execution, _mocked_task(mock) if mocked else task_handler, suspension)
        execution.run()
    return _ended(execution, state, targets, record, root)


def _mocked_task(mock: Mock):
    """A task handler that answers with the mock."""
    def answer(suspension: Any, execution: Execution) -> Any:
        if mock.kind == ERROR:
            raise TaskFailed(mock.error, mock.cause)
        return mock.result

    return answer


def _with_failed_iterations(state: State, failures: int, record: dict) -> State:
    """stateConfiguration.mapIterationFailureCount: that many iterations failed, so the Map fails when
    that is more than it tolerates (with no tolerance set, when any failed)."""
    def exceeded() -> bool:
        count, percentage = record.get("toleratedFailureCount"), record.get("toleratedFailurePercentage")
        if count is None and percentage is None:
            return failures > 0
        total = len(record.get("afterItemSelector") or ())
        return (count is not None and failures > count) or (
            percentage is not None and failures * 100 > percentage * total)

    def guarded(stage):
        def evaluate(value: Any, env: Any) -> Any:
            if exceeded():
                raise StatesError(EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
                                  "The specified tolerated failure threshold was exceeded")
            return stage(value, env)

        return evaluate

    if state.language == JSONATA:
        return replace(state, output=guarded(state.output))
    return replace(state, result_selector=guarded(state.result_selector))


def _retriable(execution: _TestExecution, backoff: float, record: dict, root: Frame) -> StateTestResult:
    error, cause = execution.last_error or (None, None)
    index = next(i for i, count in enumerate(root.retry_counts or []) if count)
    record["errorDetails"] = {"retryIndex": index, "retryBackoffIntervalSeconds": int(backoff)}
    return StateTestResult("RETRIABLE", error=error, cause=cause, inspection=_with_variables(record, root))


def _ended(execution: _TestExecution, state: State, targets: dict[str, str], record: dict,
           root: Frame) -> StateTestResult:
    if execution.status != "SUCCEEDED":
        return StateTestResult("FAILED", error=execution.error, cause=execution.cause,
                               inspection=_with_variables(record, root))
    reached = root.state_name if root.state_name != state.name else None
    next_state = targets.get(reached) if reached is not None else None
    if execution.last_error is not None:  # the state failed, and a Catcher took the error
        error, cause = execution.last_error
        index = next(i for i, catcher in enumerate(state.catchers)
                     if error_matches(catcher.error_equals, error))
        record["errorDetails"] = {"catchIndex": index}
        return StateTestResult("CAUGHT_ERROR", output=execution.output, next_state=next_state, error=error,
                               cause=cause, inspection=_with_variables(record, root))
    return StateTestResult("SUCCEEDED", output=execution.output, next_state=next_state,
                           inspection=_with_variables(record, root))


def _with_variables(record: dict, root: Frame) -> dict:
    if root.local_variables:
        record["variables"] = dict(root.local_variables)
    return record
