"""The transition loop.

An `Execution` runs a compiled machine as a tree of *frames*: the top level is one frame, every
Parallel branch and every Map iteration is a frame of its own. A frame is at a state with a value;
running it means calling that state type's handler (states.py, fanout.py), which either moves the
frame on to its next state, finishes it, or parks it. A parked frame waits for something outside the
engine — a task result, a point in time, its children — and is described by a `Suspension`, plain
data that the caller acts on and answers through `resume_task` / `resume_wait`.

The engine never calls anything, sleeps or reads the clock by itself: time, ids and randomness come
from `ExecutionOptions`. Everything needed to continue is in `to_snapshot()`, a JSON-serialisable
dict; `Execution.from_snapshot` picks up exactly where it stopped.
"""

from __future__ import annotations

import uuid as uuid_module
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine import fanout, history, states, variables
from engine.compile import JSONATA, Machine, State
from engine.context import RETRYING_STATE_TYPES, context_object, execution_part
from engine.errors import (
    DATA_LIMIT_EXCEEDED,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    StatesError,
)
from engine.frames import (
    ABORTED,
    AWAITING_TASK,
    CONTINUE,
    FAILED,
    PARKED,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    TASK_DONE,
    TIMED_OUT,
    Frame,
    Suspension,
    iteration_machine_key,
)
from engine.history import DETAILS_KEY as DETAILS_KEYS
from engine.limits import MAX_PAYLOAD_BYTES, PayloadSizer
from engine.retry import find_catcher, find_retrier, retry_delay
from engine.snapshot import dump as dump_snapshot
from engine.snapshot import load as load_snapshot
from engine.variables import VariableSizes

# Shared by every event's inputDetails/outputDetails: payloads are never truncated (and never mutated).
NOT_TRUNCATED = {"truncated": False}

# Each state type's handler: called with the execution, the frame and the compiled state, it returns
# CONTINUE (the frame moved on to its next state) or PARKED (see states.py and fanout.py).
STATE_HANDLERS = {
    "Pass": states.run_pass,
    "Succeed": states.run_succeed,
    "Fail": states.run_fail,
    "Choice": states.run_choice,
    "Wait": states.run_wait,
    "Task": states.run_task,
    "Parallel": fanout.run_parallel,
    "Map": fanout.run_map,
}

# Errors raised while a state runs whose cause AWS prefixes with where it happened.
_PREFIXED = frozenset({RUNTIME, QUERY_EVALUATION_ERROR})


@dataclass(slots=True)
class ExecutionOptions:
    """Everything an execution takes from outside: names, ARNs, the clock, ids and randomness."""

    execution_arn: str = "arn:aws:states:us-east-1:123456789012:execution:machine:execution"
    execution_name: str = "execution"
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:machine"
    state_machine_name: str = "machine"
    role_arn: str = "arn:aws:iam::123456789012:role/stepwise"
    machine_type: str = "STANDARD"
    sync: bool = False
    redrive_count: int = 0
    start_time: float = 0.0
    history: bool = True
    clock: Callable[[], float] = field(default=lambda: 0.0)
    random: Callable[[], float] = field(default=lambda: 0.5)
    uuid: Callable[[], str] = field(default=lambda: str(uuid_module.uuid4()))
    # A `.waitForTaskToken` Task's token (`$$.Task.Token`). The durable runtime makes them unguessable
    # and records them; answering one is the runtime's job (SendTaskSuccess/Failure/Heartbeat).
    task_token: Callable[[], str] = field(default=lambda: str(uuid_module.uuid4()))
    # Run DISTRIBUTED Map iterations as child executions (suspensions of kind "child") instead of
    # inline. The durable runtime does; the in-memory runner runs them inline, as AWS's results match.
    child_executions: bool = False


class Execution:
    """One execution of a compiled machine. Drive it with `run()`; answer its `suspensions()`.

    Its frames, runnable queue and outstanding suspensions are its own (and the state handlers'): a
    caller reads and changes them only through the methods below ("the door")."""

    def __init__(self, machine: Machine, execution_input: Any, options: ExecutionOptions | None = None):
        self.options = options or ExecutionOptions()
        self.input = execution_input
        self.root_machine = machine
        self.machines = machine_registry(machine)
        self.status = RUNNING
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None
        self.events: list[dict] | None = [] if self.options.history else None
        self.event_count = 0
        self.transitions = 0
        self._frames: dict[int, Frame] = {}
        self.next_frame_id = 0
        self._runnable: deque[Frame] = deque()
        self._pending: dict[int, Suspension] = {}
        self._cancelled: list[int] = []  # suspensions withdrawn since the caller last looked
        self._fresh: list[Suspension] = []  # suspensions made since `run` last returned them
        self.sizer = PayloadSizer()
        arn_parts = self.options.state_machine_arn.split(":")
        self.region = arn_parts[3] if len(arn_parts) > 3 else ""
        self.variable_sizes = VariableSizes()  # bytes held by workflow variables (AWS's 10 MiB quota)
        self.clock = self.options.clock
        self._execution_context = execution_part(self.options, execution_input)
        self._machine_context = {"Id": self.options.state_machine_arn,
                                 "Name": self.options.state_machine_name}
        self.started = False

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Record ExecutionStarted and make the top-level frame runnable."""
        self.started = True
        self.emit(None, "ExecutionStarted", {
            "input": self.input, "inputDetails": {"truncated": False}, "roleArn": self.options.role_arn,
        })
        root = self.new_frame("", None, None, self.input)
        root.last_event_id = self.event_count  # the first state follows ExecutionStarted
        self._runnable.append(root)

    def _ensure_started(self) -> None:
        """An execution ended before its first step (a Map Run's child stopped while it waited to
        start) still begins with ExecutionStarted, as every AWS history does."""
        if not self.started:
            self.start()

    def run(self, max_transitions: int | None = None, history_limit: int | None = None) -> list[Suspension]:
        """Run every runnable frame until all are parked or finished (or the budget is spent). An
        execution whose history reaches `history_limit` events fails (AWS's 25,000, MAX_HISTORY_EVENTS).

        Returns the suspensions made since the last call (by it, or by a `resume_*` before it) that
        are still outstanding; all outstanding ones are in `suspensions()`.
        """
        if not self.started:
            self.start()
        self.budget = max_transitions
        runnable = self._runnable
        while runnable and self.status == RUNNING:
            frame = runnable.popleft()
            if self._run_frame(frame) is CONTINUE:  # the budget ran out at a state boundary
                runnable.appendleft(frame)
                break
            if frame.parent is not None and frame.phase is not None and frame.id in self._frames:
                fanout.child_parked(self, frame)
        if history_limit is not None and self.event_count >= history_limit and self.status == RUNNING:
            self._history_limit_reached(history_limit)
        fresh, self._fresh = self._fresh, []
        return [s for s in fresh if self._pending.get(s.frame) is s]

    def _run_frame(self, frame: Frame) -> str:
        handlers = STATE_HANDLERS
        machine_states = frame.machine.states
        while True:
            if self.budget is not None:
                if self.budget <= 0:
                    return CONTINUE
                self.budget -= 1
            state = machine_states[frame.state_name]
            if frame.phase is None:
                self.transitions += 1
            try:
                outcome = handlers[state.type](self, frame, state)
            except StatesError as error:
                outcome = self.state_failed(frame, state, error)
            if outcome is not CONTINUE or self.status != RUNNING:
                return PARKED

    # -- frames -----------------------------------------------------------------------------------
    def new_frame(self, machine_key: str, parent: Frame | None, index: int | None, value: Any) -> Frame:
        frame_id = self.next_frame_id
        self.next_frame_id += 1
        frame = Frame(self, frame_id, machine_key, parent, index, value)
        self._frames[frame_id] = frame
        return frame

    def context_object(self, frame: Frame) -> dict:
        return context_object(self._execution_context, self._machine_context, frame.state_name,
                              frame.entered_time, self.context_retry_count(frame), frame.task_token)

    def context_retry_count(self, frame: Frame) -> int | None:
        # AWS gives `$$.State.RetryCount` only to the states that take a Retry field; Pass, Choice, Wait,
        # Succeed and Fail see just Name and EnteredTime, in Standard and Express executions alike.
        if frame.machine.states[frame.state_name].type in RETRYING_STATE_TYPES:
            return frame.retry_count
        return None

    def emit(self, frame: Frame | None, event_type: str, details: dict | None = None) -> int:
        """Record a history event (when history is on) and return its id; ids count either way."""
        if frame is None:
            event_id = self.event_count = self.event_count + 1
            previous = event_id - 1
        elif frame.silent:
            return 0
        else:
            event_id = self.event_count = self.event_count + 1
            previous, frame.last_event_id = frame.last_event_id, event_id
        events = self.events
        if events is not None:
            event = {"type": event_type, "id": event_id, "previousEventId": previous,
                     "timestamp": self.clock()}
            if details is not None:
                key = DETAILS_KEYS.get(event_type)
                if key is not None:
                    event[key] = details
            events.append(event)
        return event_id

    def enter(self, frame: Frame, state: State) -> None:
        """Record that `frame` enters `state` with its current value."""
        frame.entered_time = self.clock()
        frame._context = None
        frame.retry_counts = None
        if self.events is None and not frame.silent:  # history off: only the event ids count
            self.event_count += 1
            frame.entered_event_id = frame.last_event_id = self.event_count
            return
        frame.entered_event_id = self.emit(frame, history.ENTERED[state.type], {
            "name": state.name, "input": frame.value, "inputDetails": NOT_TRUNCATED,
        } if self.events is not None else None)

    def bind_variables(self, frame: Frame, assigned: dict | None) -> None:
        if assigned:
            variables.bind(frame, assigned)

    def leave(self, frame: Frame, state: State, output: Any, assigned: dict | None = None,
              next_state: str | None = None, bound: int | None = None) -> str:
        """The state succeeded with `output`: record it and move the frame on to `next_state` (by
        default the state's own Next), or finish the frame if the state ends it. `bound`, when the
        caller knows one, is an upper bound of the output's size: under the limit, it is not measured."""
        kind = type(output)
        if kind is dict or kind is list or kind is str:
            if bound is None and frame.bound_of is output:  # passed on unchanged (Choice, Wait, ...)
                bound = frame.bound
            if bound is None or bound > MAX_PAYLOAD_BYTES:
                bound = self.sizer.size(output)
            if bound > MAX_PAYLOAD_BYTES:
                raise StatesError(
                    DATA_LIMIT_EXCEEDED,
                    f"The state/task '{state.name}' returned a result with a size exceeding "
                    "the maximum number of bytes service limit.")
        if assigned:
            self.bind_variables(frame, assigned)
        if self.events is None and not frame.silent:
            self.event_count += 1
            frame.last_event_id = self.event_count
        else:
            details = None
            if self.events is not None:
                details = {"name": state.name, "output": output, "outputDetails": NOT_TRUNCATED}
                if assigned:
                    details["assignedVariables"] = assigned
                    details["assignedVariablesDetails"] = {"truncated": False}
            self.emit(frame, history.EXITED[state.type], details)
        frame.phase = None
        frame.outcome = None
        frame.effective = None
        frame.bound = bound
        frame.bound_of = output
        if next_state is None:
            if state.end or state.next is None:
                self.frame_succeeded(frame, output)
                return PARKED
            next_state = state.next
        frame.state_name = next_state
        frame.value = output
        return CONTINUE

    def frame_succeeded(self, frame: Frame, output: Any) -> None:
        if frame.parent is None:
            self.finish(SUCCEEDED, output=output)
        else:
            fanout.child_succeeded(self, frame, output)
        self._drop(frame)

    def frame_failed(self, frame: Frame, error: str | None, cause: str | None) -> None:
        if frame.parent is None:
            self.finish(FAILED, error=error, cause=cause)
        else:
            state = frame.machine.states.get(frame.state_name)
            if state is not None and state.type == "Task":
                # Recorded on AWS: a Task whose error ends a Parallel branch is marked aborted after
                # its TaskFailed (at the top level the execution simply fails).
                self.emit(frame, history.ABORTED["Task"], {"name": state.name})
            fanout.child_failed(self, frame, error, cause)
        self._drop(frame)

    def _drop(self, frame: Frame) -> None:
        self._frames.pop(frame.id, None)
        self.variable_sizes.forget(frame.id)  # a branch's or iteration's variables end with it
        if self._pending.pop(frame.id, None) is not None:
            self._cancelled.append(frame.id)

    def abort_frame(self, frame: Frame) -> None:
        """Withdraw a frame and everything under it (a failed Parallel's other branches)."""
        if frame.fanout is not None:
            for child_id in list(frame.fanout.active):
                child = self._frames.get(child_id)
                if child is not None:
                    self.abort_frame(child)
        if frame in self._runnable:
            self._runnable.remove(frame)
        if frame.phase == AWAITING_TASK and frame.state_name in frame.machine.states:
            state = frame.machine.states[frame.state_name]
            self.emit(frame, history.ABORTED[state.type], {"name": state.name})
        self._drop(frame)

    def finish(self, status: str, output: Any = None, error: str | None = None, cause: str | None = None):
        self.status = status
        self.output, self.error, self.cause = output, error, cause
        if status == SUCCEEDED:
            self.emit(None, "ExecutionSucceeded", {"output": output, "outputDetails": {"truncated": False}})
        else:
            event = {FAILED: "ExecutionFailed", TIMED_OUT: "ExecutionTimedOut", ABORTED: "ExecutionAborted"}
            details = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            self.emit(None, event[status], details)
        for frame_id in list(self._pending):
            self._cancelled.append(frame_id)
        self._pending.clear()
        self._runnable.clear()

    # -- errors -----------------------------------------------------------------------------------
    def state_failed(self, frame: Frame, state: State, error: StatesError,
                     failed_event: str | None = None) -> str:
        """`state` raised `error`: retry it, catch it, or fail the frame, as its Retry/Catch say.

        `failed_event` (ParallelStateFailed, MapStateFailed) is recorded once the failure is final
        for the state, i.e. not when it is about to be retried.
        """
        name, cause = error.name, self.located_cause(frame, state, error)
        if cause is not error.cause and (name == QUERY_EVALUATION_ERROR or state.language == JSONATA):
            details = {"error": name, "cause": cause, "state": state.name}
            location = getattr(error, "location", None)  # the JSONata field that failed (engine.jsonata)
            if location:
                details["location"] = location
            self.emit(frame, "EvaluationFailed", details)
        if state.retriers:
            index = find_retrier(state.retriers, name)
            if index is not None:
                counts = frame.retry_counts or [0] * len(state.retriers)
                retrier = state.retriers[index]
                if counts[index] < retrier.max_attempts:
                    delay = retry_delay(retrier, counts[index], frame.random)
                    counts[index] += 1
                    frame.retry_counts = counts
                    frame._context = None
                    frame.phase = RETRYING
                    self.park_until(frame, state, self.options.clock() + delay)
                    return PARKED
        if failed_event is not None:
            self.emit(frame, failed_event)
        catcher = find_catcher(state.catchers, name) if state.catchers else None
        if catcher is None:
            self.frame_failed(frame, name, cause)
            return PARKED
        return states.caught(self, frame, state, catcher, name, cause)

    def located_cause(self, frame: Frame, state: State, error: StatesError) -> str | None:
        """The cause as AWS reports it: a States.Runtime or evaluation error says where it happened."""
        cause = error.cause
        located = (cause or "").startswith("An error occurred while executing the state")
        if error.name in _PREFIXED and not located:
            return (f"An error occurred while executing the state '{state.name}' "
                    f"(entered at the event id #{frame.entered_event_id}). {cause}")
        return cause

    # -- parking and resuming ---------------------------------------------------------------------
    def park_until(self, frame: Frame, state: State, until: float) -> None:
        self.suspend(Suspension(frame.id, "wait", state.name, until=until))

    def park_for_task(self, frame: Frame, suspension: Suspension) -> None:
        frame.phase = AWAITING_TASK
        self.suspend(suspension)

    def suspend(self, suspension: Suspension) -> None:
        self._pending[suspension.frame] = suspension
        self._fresh.append(suspension)

    def resume_wait(self, frame_id: int) -> None:
        """The time a Wait state or a retry's back-off waited for has come."""
        suspension = self._pending.pop(frame_id)
        assert suspension.kind == "wait"
        self._runnable.append(self._frames[frame_id])

    def resume_task(self, frame_id: int, result: Any = None, error: str | None = None,
                    cause: str | None = None, timed_out: bool = False, schedule_failed: bool = False) -> None:
        """The task a frame waits for finished: with `result`, or failed with `error`/`cause` (it
        timed out, or could not even be scheduled)."""
        suspension = self._pending.pop(frame_id)
        assert suspension.kind == "task"
        frame = self._frames[frame_id]
        if schedule_failed:
            frame.outcome = ("schedule_failed", error, cause)
        else:
            frame.outcome = ("ok", result) if error is None and not timed_out else (
                "timeout" if timed_out else "error", error, cause)
        frame.phase = TASK_DONE
        self._runnable.append(frame)

    def resume_child(self, frame_id: int, output: Any = None, error: str | None = None,
                     cause: str | None = None, failed: bool = False) -> None:
        """A DISTRIBUTED Map iteration run as a child execution ended: with `output`, or failed."""
        suspension = self._pending.pop(frame_id)
        assert suspension.kind == "child"
        frame = self._frames[frame_id]
        if failed or error is not None:
            self.frame_failed(frame, error, cause)
        else:
            self.frame_succeeded(frame, output)

    def child_definition(self, machine_key: str) -> dict:
        """The definition a child execution of a DISTRIBUTED Map runs: the Map's ItemProcessor, with
        the query language it inherits made explicit."""
        machine = self.machines[machine_key]
        definition = {key: value for key, value in machine.definition.items() if key != "ProcessorConfig"}
        definition["QueryLanguage"] = machine.language
        return definition

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """StopExecution: the execution ends ABORTED; outstanding work is withdrawn."""
        if self.status == RUNNING:
            self._ensure_started()
            self.finish(ABORTED, error=error, cause=cause)

    def time_out(self) -> None:
        """The state machine's own TimeoutSeconds has passed."""
        if self.status == RUNNING:
            self._ensure_started()
            self.finish(TIMED_OUT, error="States.Timeout",
                        cause="The execution has exceeded its timeout.")

    # -- the door: what a caller reads and asks ---------------------------------------------------
    def suspension(self, frame_id: int) -> Suspension | None:
        """What the frame waits for, or None (it is not parked, or no longer exists)."""
        return self._pending.get(frame_id)

    def suspensions(self) -> dict[int, Suspension]:
        """Every outstanding suspension by its frame, in the order they were made."""
        return dict(self._pending)

    def has_runnable(self) -> bool:
        """Is a frame ready to run (the last `run` spent its budget, or a `resume_*` came since)?"""
        return bool(self._runnable)

    def take_withdrawn(self) -> list[int]:
        """The frames whose suspensions were withdrawn (the execution ended, a sibling failed) since
        the last call: their tasks' late results are to be discarded."""
        withdrawn, self._cancelled = self._cancelled, []
        return withdrawn

    def task_started(self, frame_id: int, worker_name: str | None = None) -> None:
        """The caller has begun the task attempt the frame waits for (a worker picked it up)."""
        states.task_started(self, self._frames[frame_id], worker_name)

    def task_submitted(self, frame_id: int, output: Any) -> None:
        """A `.waitForTaskToken` Task made its request (the service answered `output`); it now waits
        for its token to be answered (`resume_task`)."""
        states.task_submitted(self, self._frames[frame_id], output)

    def map_frame_of(self, frame_id: int) -> int:
        """The frame of the DISTRIBUTED Map state a child-execution iteration belongs to."""
        return self._frames[frame_id].parent.id

    def uses_distributed_map(self) -> bool:
        """Does any (sub-)machine have a DISTRIBUTED Map state (a Map Run)?"""
        machines = self.machines.values()
        return any(state.distributed for machine in machines for state in machine.states.values())

    def map_runs(self) -> dict[int, fanout.MapRunView]:
        """The DISTRIBUTED Map states running now, by their frame (see `fanout.MapRunView`)."""
        return fanout.map_runs(self)

    def update_map_run(self, frame_id: int, state_name: str, max_concurrency: int | None = None,
                       tolerated_failure_count: int | None = None,
                       tolerated_failure_percentage: float | None = None) -> bool:
        """UpdateMapRun: change a running Map Run's limits (0: no concurrency limit). False when the
        frame no longer runs that Map state."""
        return fanout.update_map_run(self, frame_id, state_name, max_concurrency, tolerated_failure_count,
                                     tolerated_failure_percentage)

    def redrive(self, succeeded_child: Callable[[int], tuple[Any] | None]) -> None:
        """Redrive from the failed states: every outstanding task and wait is entered again (a new
        TaskScheduled, a new Wait; Retry counts start afresh). An iteration run as a child execution is
        given its child's output again if `succeeded_child(frame_id)` returns `(output,)` (the child
        succeeded), and otherwise handed out again by the next `run`: a new child execution."""
        for suspension in list(self._pending.values()):
            if suspension.kind == "child":
                succeeded = succeeded_child(suspension.frame)
                if succeeded is not None:
                    self.resume_child(suspension.frame, output=succeeded[0])
                else:
                    self._fresh.append(suspension)
                continue
            frame = self._frames[suspension.frame]
            del self._pending[suspension.frame]
            frame.phase = None  # enter the state again
            frame.retry_counts = None
            self._runnable.append(frame)

    def _history_limit_reached(self, limit: int) -> None:
        """AWS keeps at most `limit` (25,000) history events: the execution fails with the last one."""
        last = limit - 1
        if self.events is not None:
            self.events[:] = [event for event in self.events if event["id"] <= last]
        self.event_count = last
        self.finish(FAILED, error=RUNTIME, cause=(
            f"The execution reached the maximum number of history events ({limit}). "
            "Split the work across executions (a Distributed Map, or a new execution that continues it)."))

    # -- snapshots --------------------------------------------------------------------------------
    def to_snapshot(self) -> dict:
        return dump_snapshot(self)

    @classmethod
    def from_snapshot(cls, machine: Machine, snapshot: dict, options: ExecutionOptions) -> Execution:
        return load_snapshot(cls, machine, snapshot, options)


def machine_registry(machine: Machine) -> dict[str, Machine]:
    """Every (sub-)machine of a compiled machine by its key, made once and shared by its executions."""
    if machine.registry is None:
        machine.registry = {}
        _register_machines(machine, "", machine.registry)
    return machine.registry


def _register_machines(machine: Machine, key: str, registry: dict[str, Machine]) -> None:
    """Give every (sub-)machine a stable key, so a snapshot can name the machine a frame runs."""
    registry[key] = machine
    for state in machine.states.values():
        for index, branch in enumerate(state.branches):
            _register_machines(branch, f"{key}/{state.name}#{index}", registry)
        if state.processor is not None:
            _register_machines(state.processor, iteration_machine_key(key, state.name), registry)
