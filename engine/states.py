"""One handler per simple state type: Pass, Task, Choice, Wait, Succeed, Fail.

A handler is called with the execution, the frame and the compiled state. It returns CONTINUE when
the frame moved on to its next state and PARKED otherwise. A handler may be called again for the
same state after the frame was parked (`frame.phase` says where it stopped: TASK_DONE, RETRYING,
WAITING). The interpreter's STATE_HANDLERS table names the handler of each state type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import io
from engine.compile import DEFAULT, JSONATA, Catcher, State
from engine.errors import NO_CHOICE_MATCHED, QUERY_EVALUATION_ERROR, RUNTIME, TIMEOUT, StatesError
from engine.fields import resolve_number
from engine.frames import PARKED, TASK_DONE, WAITING, Frame, Suspension
from engine.jsonata import jsonata_binding
from engine.limits import MAX_PAYLOAD_BYTES
from engine.tasks import task_events
from engine.wait import wait_until

if TYPE_CHECKING:
    from engine.interpreter import Execution


# -- shared steps -----------------------------------------------------------------------------------

def finish(ex: Execution, frame: Frame, state: State, result: Any, result_bound: int | None = None) -> str:
    """The state's work produced `result` (of size at most `result_bound`, when the caller knows it):
    derive its output and variables, then leave it."""
    if state.language == JSONATA:
        binding = jsonata_binding(frame, result=result)
        output = state.output(binding, frame) if state.output is not None else result
        assigned = state.assign(binding, frame) if state.assign is not None else None
        return ex.leave(frame, state, output, assigned)
    # JSONPath: Assign sees the result after ResultSelector, before ResultPath merges it.
    # The absent stages are skipped here rather than called: this runs on every state.
    if state.result_selector is None:
        selected = result
    else:
        selected = io.result_selector(state, result, frame)
        result_bound = None
    assigned = state.assign(selected, frame) if state.assign is not None else None
    path = state.result_path
    if path is DEFAULT:
        merged, bound = selected, result_bound
    elif path is None:
        merged = frame.value
        bound = frame.bound if frame.bound_of is merged else None
    else:
        bound = None
        if result_bound is not None and frame.bound_of is frame.value and frame.bound is not None:
            bound = frame.bound + result_bound + path.write_overhead
        if bound is not None and bound <= MAX_PAYLOAD_BYTES:
            # Small enough whatever the result replaces: the sizer need not follow the write.
            merged = io.result_path(path, frame.value, selected)
        else:
            merged = io.result_path(path, frame.value, selected, ex.sizer)
            bound = None
    if state.output_path is not DEFAULT:
        output_path = state.output_path
        merged = io.output_path(state, merged, frame)
        if output_path is None or output_path.indefinite:  # a part of the document keeps its bound
            bound = None
    return ex.leave(frame, state, merged, assigned, bound=bound)


def caught(ex: Execution, frame: Frame, state: State, catcher: Catcher, error: str | None,
           cause: str | None) -> str:
    """A Catcher took the error: the state leaves through the catcher's Next with the error output."""
    # AWS's error output always has a Cause string: a task that timed out (whose history event and
    # execution failure have no cause) is caught as {"Error": "States.Timeout", "Cause": ""}.
    error_output = {"Error": error, "Cause": "" if cause is None else cause}
    try:
        if state.language == JSONATA:
            binding = jsonata_binding(frame, errorOutput=error_output)
            output = catcher.output(binding, frame) if catcher.output is not None else error_output
            assigned = catcher.assign(binding, frame) if catcher.assign is not None else None
        else:
            assigned = catcher.assign(error_output, frame) if catcher.assign is not None else None
            output = io.result_path(catcher.result_path, frame.value, error_output, ex.sizer)
        return ex.leave(frame, state, output, assigned, next_state=catcher.next)
    except StatesError as failure:
        # A catcher whose own Output or Assign fails does not catch again: the state fails with that error.
        from dataclasses import replace

        return ex.state_failed(frame, replace(state, retriers=(), catchers=()), failure)


def effective_input(state: State, frame: Frame) -> Any:
    if state.language == JSONATA:
        return state.arguments(jsonata_binding(frame), frame) if state.arguments is not None else frame.value
    return io.effective_input(state, frame.value, frame)


# -- Pass -------------------------------------------------------------------------------------------
def run_pass(ex: Execution, frame: Frame, state: State) -> str:
    ex.enter(frame, state)
    if state.language == JSONATA:
        return finish(ex, frame, state, frame.value)
    effective = io.effective_input(state, frame.value, frame)  # its errors count even beside a Result
    if state.has_result:
        return finish(ex, frame, state, state.result, state.result_size)
    return finish(ex, frame, state, effective, io.effective_input_bound(state, effective, frame, ex.sizer))


# -- Succeed / Fail ---------------------------------------------------------------------------------
def run_succeed(ex: Execution, frame: Frame, state: State) -> str:
    ex.enter(frame, state)
    if state.language == JSONATA:
        return finish(ex, frame, state, frame.value)
    output = io.output_path(state, io.input_path(state, frame.value, frame), frame)
    return ex.leave(frame, state, output)


def _fail_field(spec: Any, frame: Frame, field: str) -> str | None:
    if spec is None:
        return None
    kind, source = spec
    if kind == "value":
        return source
    if kind == "path":
        value = source(frame.value, frame)
    else:
        value = source(jsonata_binding(frame), frame)
    if not isinstance(value, str):
        raise StatesError(RUNTIME if kind == "path" else QUERY_EVALUATION_ERROR,
                          f"The {field}{'Path' if kind == 'path' else ''} field must resolve to a string")
    return value


def run_fail(ex: Execution, frame: Frame, state: State) -> str:
    ex.enter(frame, state)
    error = _fail_field(state.error, frame, "Error")
    cause = _fail_field(state.cause, frame, "Cause")
    ex.frame_failed(frame, error, cause)
    return PARKED


# -- Choice -----------------------------------------------------------------------------------------
def run_choice(ex: Execution, frame: Frame, state: State) -> str:
    ex.enter(frame, state)
    if state.language == JSONATA:
        binding = jsonata_binding(frame)
        value = frame.value
    else:
        binding = value = io.input_path(state, frame.value, frame)
    for test, next_state, assign, output in state.choices:
        if test(binding, frame):
            return _choose(ex, frame, state, next_state, value, assign, output)
    if state.default is None:
        raise StatesError(NO_CHOICE_MATCHED, f"No Matches! in state '{state.name}'")
    return _choose(ex, frame, state, state.default, value, None, None)


def _choose(ex, frame, state, next_state, value, assign, output) -> str:
    if state.language == JSONATA:
        binding = jsonata_binding(frame)
        assign = assign or state.assign
        output_fn = output or state.output
        out = output_fn(binding, frame) if output_fn is not None else frame.value
        assigned = assign(binding, frame) if assign is not None else None
    else:
        assign = assign or state.assign
        assigned = assign(value, frame) if assign is not None else None
        out = io.output_path(state, value, frame)
    return ex.leave(frame, state, out, assigned, next_state=next_state)


# -- Wait -------------------------------------------------------------------------------------------
def run_wait(ex: Execution, frame: Frame, state: State) -> str:
    if frame.phase == WAITING:
        frame.phase = None
        if state.language == JSONATA:
            return finish(ex, frame, state, frame.value)
        return finish(ex, frame, state, io.input_path(state, frame.value, frame))
    ex.enter(frame, state)
    effective = frame.value if state.language == JSONATA else io.input_path(state, frame.value, frame)
    until = wait_until(state, frame, effective)
    frame.phase = WAITING
    ex.park_until(frame, state, until)
    return PARKED


# -- Task -------------------------------------------------------------------------------------------
def run_task(ex: Execution, frame: Frame, state: State) -> str:
    phase = frame.phase
    if phase == TASK_DONE:
        return _task_done(ex, frame, state)
    if phase is None:
        ex.enter(frame, state)
    frame.phase = None
    token = None
    events = task_events(state.resource, ex.region)
    if state.resource.endswith(".waitForTaskToken"):
        token = frame.task_token = ex.options.task_token()
        frame._context = None
    elif events.family == "Activity":
        # An activity task is answered with the token its worker gets from GetActivityTask; unlike a
        # callback's, AWS does not put it in `$$.Task.Token`.
        token = ex.options.task_token()
    # Evaluated for every attempt: `$$.Task.Token` and `$$.State.RetryCount` are the attempt's own.
    frame.effective = effective_input(state, frame)
    timeout = resolve_number(state.timeout_seconds, frame, frame.value, positive=True)
    heartbeat = resolve_number(state.heartbeat_seconds, frame, frame.value, positive=True)
    # No TimeoutSeconds: AWS records no timeoutInSeconds; the runtime applies its own ceiling.
    ex.emit(frame, events.scheduled, events.scheduled_details(state, frame.effective, timeout, heartbeat))
    suspension = Suspension(frame.id, "task", state.name, resource=state.resource,
                            parameters=frame.effective, attempt=frame.retry_count,
                            timeout_seconds=timeout, heartbeat_seconds=heartbeat, task_token=token)
    ex.park_for_task(frame, suspension)
    return PARKED


def task_started(ex: Execution, frame: Frame, worker_name: str | None = None) -> None:
    """The caller has begun the task attempt (a worker picked it up; an activity's names itself)."""
    events = task_events(frame.state.resource, ex.region)
    ex.emit(frame, events.started, events.started_details(frame.state, worker_name))


def task_submitted(ex: Execution, frame: Frame, output: Any) -> None:
    """A callback Task's request was made: AWS records TaskSubmitted with the service's response."""
    events = task_events(frame.state.resource, ex.region)
    ex.emit(frame, "TaskSubmitted", events.submitted_details(frame.state, output))


def _task_done(ex: Execution, frame: Frame, state: State) -> str:
    outcome = frame.outcome
    frame.outcome = None
    events = task_events(state.resource, ex.region)
    if outcome[0] == "ok":
        result = outcome[1]
        ex.emit(frame, events.succeeded, events.succeeded_details(state, result))
        frame.phase = None
        return finish(ex, frame, state, result)
    _, error, cause = outcome
    # A task reported as failing with States.Timeout (a worker that stopped waiting for a function)
    # timed out: AWS records *TimedOut, not *Failed.
    if outcome[0] == "schedule_failed":  # it never reached a worker (an activity that does not exist)
        ex.emit(frame, events.schedule_failed, events.failed_details(state, error, cause))
    elif outcome[0] == "timeout" or error == TIMEOUT:
        error = error or TIMEOUT
        ex.emit(frame, events.timed_out, events.failed_details(state, error, cause))
    else:
        ex.emit(frame, events.failed, events.failed_details(state, error, cause))
    frame.phase = None
    return ex.state_failed(frame, state, StatesError(error, cause))


