"""Parallel and Map: states that run sub-machines in child frames and gather their outputs.

A fan-out state parks its frame with a `Fanout` record and starts children. Children are started
lazily: one at a time, and another only when a running one finishes or parks, up to the state's
concurrency limit. So a Map over 10,000 items whose iterations never wait keeps one child alive at a
time, while iterations that wait on tasks run side by side, as on AWS.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from engine import io
from engine.compile import JSONATA, State, number_field
from engine.context import context_object
from engine.errors import (
    EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    StatesError,
)
from engine.fields import resolve_map_limit
from engine.frames import (
    AWAITING_CHILDREN,
    CHILD_EXECUTION,
    CHILDREN_DONE,
    CHILDREN_FAILED,
    PARKED,
    Frame,
    Suspension,
    iteration_machine_key,
)
from engine.jsonata import jsonata_binding
from engine.jsontext import json_text, json_type
from engine.paths import PathNotFound
from engine.states import effective_input, finish

if TYPE_CHECKING:
    from engine.interpreter import Execution


class Fanout:
    """Progress of a Parallel or Map state's children."""

    __slots__ = ("kind", "total", "limit", "next_index", "active", "results", "completed", "failures",
                 "tolerated_count", "tolerated_percentage", "error", "items", "results_bound")

    def __init__(self, kind: str, total: int, limit: float, items: list | None = None):
        self.kind = kind
        self.total = total
        self.limit = limit
        self.next_index = 0
        self.active: set[int] = set()
        self.results: list = [None] * total
        self.completed = 0
        self.failures = 0
        self.tolerated_count: int | None = None
        self.tolerated_percentage: float | None = None
        self.error: tuple | None = None
        self.items = items
        # The sum of the children's output size bounds (interpreter.Frame.bound), None once one is unknown.
        self.results_bound: int | None = 0


# -- Parallel ---------------------------------------------------------------------------------------
def run_parallel(ex: Execution, frame: Frame, state: State) -> str:
    phase = frame.phase
    if phase == CHILDREN_DONE:
        return _succeeded(ex, frame, state, "ParallelStateSucceeded")
    if phase == CHILDREN_FAILED:
        return _failed(ex, frame, state, "ParallelStateFailed")
    if phase is None:
        ex.enter(frame, state)
        frame.effective = effective_input(state, frame)
    frame.phase = AWAITING_CHILDREN
    ex.emit(frame, "ParallelStateStarted")
    count = len(state.branches)
    fan = frame.fanout = Fanout("Parallel", count, count)
    prefix = f"{frame.machine_key}/{state.name}#"
    children = [ex.new_frame(prefix + str(i), frame, i, frame.effective) for i in range(count)]
    fan.next_index = count
    fan.active.update(child.id for child in children)
    ex._runnable.extendleft(reversed(children))
    return PARKED


# -- Map --------------------------------------------------------------------------------------------
class ItemEnv:
    """The environment of a Map's ItemSelector: the frame's, plus `$$.Map.Item`."""

    __slots__ = ("frame", "index", "item", "_context")

    def __init__(self, frame: Frame, index: int, item: Any):
        self.frame, self.index, self.item, self._context = frame, index, item, None

    @property
    def context(self) -> dict:
        if self._context is None:
            ex = self.frame.execution
            self._context = context_object(ex._execution_context, ex._machine_context, self.frame.state_name,
                                           self.frame.entered_time, ex.context_retry_count(self.frame),
                                           map_item=(self.index, self.item))
        return self._context

    @property
    def variables(self):
        return self.frame.variables

    def random(self) -> float:
        return self.frame.random()

    def uuid(self) -> str:
        return self.frame.uuid()


def _items(state: State, frame: Frame, effective: Any) -> list:
    if state.language == JSONATA:
        if state.items is None:
            items = frame.value
            if type(items) is not list:
                raise StatesError(QUERY_EVALUATION_ERROR,
                                  f"Map state input must be an array but was: {json_text(items)}")
            return items
        items = state.items(jsonata_binding(frame), frame)
        if type(items) is not list:
            expression = state.raw["Items"]
            expression = expression[2:-2].strip() if isinstance(expression, str) else expression
            raise StatesError(QUERY_EVALUATION_ERROR,
                              f"The JSONata expression '{expression}' specified for the field 'Items' "
                              "returned an "
                              f"unexpected result type. Expected 'array', but was '{json_type(items)}' "
                              f"for value: {json_text(items)}")
        return items
    if state.items is None:
        items = effective
    else:
        try:
            items = state.items.get(effective, frame)
        except PathNotFound:
            raise StatesError(RUNTIME, f"Invalid path '{state.items.text}' : No results for path: "
                                       f"{state.items.normalized}") from None
    if type(items) is not list:
        raise StatesError(RUNTIME, f"Map state input must be an array but was: {json_text(items)}")
    return items


def _batches(state: State, items: list, frame: Frame, effective: Any) -> list:
    batcher = state.item_batcher
    if not batcher:
        return items
    size = resolve_map_limit(number_field(batcher, "MaxItemsPerBatch", state.language), frame, effective,
                             "MaxItemsPerBatch")
    # Checked like AWS checks it; batches are not yet cut by their size in bytes.
    resolve_map_limit(number_field(batcher, "MaxInputBytesPerBatch", state.language), frame, effective,
                      "MaxInputBytesPerBatch")
    size = size or len(items) or 1
    batch_input = batcher.get("BatchInput")
    batches = []
    for start in range(0, len(items), size):
        batch = {"Items": items[start:start + size]}
        if batch_input is not None:
            batch["BatchInput"] = batch_input
        batches.append(batch)
    return batches


def run_map(ex: Execution, frame: Frame, state: State) -> str:
    phase = frame.phase
    if phase == CHILDREN_DONE:
        if state.distributed:
            ex.emit(frame, "MapRunSucceeded")
        return _succeeded(ex, frame, state, "MapStateSucceeded")
    if phase == CHILDREN_FAILED:
        if state.distributed:
            error, cause = frame.fanout.error
            ex.emit(frame, "MapRunFailed", {key: value for key, value in (("error", error), ("cause", cause))
                                            if value is not None})
        return _failed(ex, frame, state, "MapStateFailed")
    if phase is None:
        ex.enter(frame, state)
        frame.effective = (frame.value if state.language == JSONATA
                           else io.input_path(state, frame.value, frame))
    effective = frame.effective
    try:
        items = _batches(state, _items(state, frame, effective), frame, effective)
    except StatesError as error:
        return ex.state_failed(frame, state, error, failed_event="MapStateFailed")
    limit = resolve_map_limit(state.max_concurrency, frame, effective, "MaxConcurrency") or math.inf
    frame.phase = AWAITING_CHILDREN
    ex.emit(frame, "MapStateStarted", {"length": len(items)})
    # AWS reads the tolerance settings only once the Map has started; a bad value fails the
    # execution without a MapStateFailed event.
    fan = frame.fanout = Fanout("Map", len(items), limit, items)
    count = resolve_map_limit(state.tolerated_count, frame, effective, "ToleratedFailureCount")
    percentage = resolve_map_limit(state.tolerated_percentage, frame, effective, "ToleratedFailurePercentage",
                                   integer=False)
    fan.tolerated_count, fan.tolerated_percentage = count, percentage
    if state.distributed:
        map_run_arn = f"{ex.options.state_machine_arn}/{state.label or state.name}"
        ex.emit(frame, "MapRunStarted", {"mapRunArn": map_run_arn})
    if not items:
        frame.phase = CHILDREN_DONE
        return run_map(ex, frame, state)
    _start_iterations(ex, frame, state)
    return PARKED


def _start_iterations(ex: Execution, frame: Frame, state: State) -> None:
    """Start iterations up to the concurrency limit. Iterations run in this process are started one
    at a time (the next when one finishes or parks); child executions all at once."""
    fan = frame.fanout
    while fan.next_index < fan.total and len(fan.active) < fan.limit:
        if _start_iteration(ex, frame, state):
            return


def _start_iteration(ex: Execution, frame: Frame, state: State) -> bool:
    """Start the next iteration; True when it is runnable here, False when it is a child execution."""
    fan = frame.fanout
    index = fan.next_index
    fan.next_index += 1
    item = fan.items[index]
    if state.item_selector is not None:
        env = ItemEnv(frame, index, item)
        if state.language == JSONATA:
            env_binding = jsonata_binding(frame)
            item = state.item_selector(env_binding, env)
        else:
            item = state.item_selector(frame.effective, env)
    if not state.distributed:
        ex.emit(frame, "MapIterationStarted", {"name": state.name, "index": index})
    child = ex.new_frame(iteration_machine_key(frame.machine_key, state.name), frame, index, item)
    fan.active.add(child.id)
    if state.distributed:
        child.silent = True  # a child execution: its events are its own history, not the parent's
        if ex.options.child_executions:
            child.phase = CHILD_EXECUTION
            ex.suspend(child_suspension(child))
            return False
    ex._runnable.appendleft(child)
    return True


def child_suspension(child: Frame) -> Suspension:
    """What a DISTRIBUTED Map iteration run as a child execution waits on: its machine, its input, its
    index (snapshot.py rebuilds it from the frame the same way)."""
    return Suspension(child.id, "child", child.parent.state_name, resource=child.machine_key,
                      parameters=child.value, attempt=child.index)


def _succeeded(ex: Execution, frame: Frame, state: State, event: str) -> str:
    ex.emit(frame, event)
    fan = frame.fanout
    results = fan.results
    frame.fanout = None
    frame.phase = None
    # brackets and commas: at most one byte per result, and two
    bound = fan.results_bound + fan.total + 2 if fan.results_bound is not None else None
    return finish(ex, frame, state, results, bound)


def _failed(ex: Execution, frame: Frame, state: State, event: str) -> str:
    error, cause = frame.fanout.error
    frame.fanout = None
    frame.phase = None
    return ex.state_failed(frame, state, StatesError(error, cause), failed_event=event)


# -- children reporting back ------------------------------------------------------------------------
def child_parked(ex: Execution, child: Frame) -> None:
    """A child waits for something: its siblings may start meanwhile, up to the concurrency limit."""
    parent = child.parent
    fan = parent.fanout
    if fan is not None and fan.kind == "Map" and fan.error is None:
        _start_iterations(ex, parent, parent.state)


def child_succeeded(ex: Execution, child: Frame, output: Any) -> None:
    parent = child.parent
    fan = parent.fanout
    state = parent.state
    fan.active.discard(child.id)
    fan.results[child.index] = output
    if fan.results_bound is not None:
        bound = child.bound if child.bound_of is output else None
        fan.results_bound = None if bound is None else fan.results_bound + bound
    fan.completed += 1
    if fan.kind == "Map" and not state.distributed:
        ex.emit(parent, "MapIterationSucceeded", {"name": state.name, "index": child.index})
    _advance(ex, parent, state, fan)


def child_failed(ex: Execution, child: Frame, error: str | None, cause: str | None) -> None:
    parent = child.parent
    fan = parent.fanout
    state = parent.state
    fan.active.discard(child.id)
    fan.completed += 1
    if fan.kind == "Parallel":
        _fail_fanout(ex, parent, fan, (error, cause))
        return
    if not state.distributed:
        ex.emit(parent, "MapIterationFailed", {"name": state.name, "index": child.index})
    fan.failures += 1
    fan.results[child.index] = {"Error": error, "Cause": cause}
    fan.results_bound = None
    tolerated = fan.tolerated_count is not None or fan.tolerated_percentage is not None
    if not tolerated:
        _fail_fanout(ex, parent, fan, (error, cause))
        return
    if (fan.tolerated_count is not None and fan.failures > fan.tolerated_count) or (
            fan.tolerated_percentage is not None
            and fan.failures * 100 > fan.tolerated_percentage * fan.total):
        _fail_fanout(ex, parent, fan, (EXCEEDED_TOLERATED_FAILURE_THRESHOLD,
                                       "The specified tolerated failure threshold was exceeded"))
        return
    _advance(ex, parent, state, fan)


def _advance(ex: Execution, parent: Frame, state: State, fan: Fanout) -> None:
    if fan.completed == fan.total:
        parent.phase = CHILDREN_DONE
        ex._runnable.appendleft(parent)
    elif fan.kind == "Map":
        _start_iterations(ex, parent, state)


def _fail_fanout(ex: Execution, parent: Frame, fan: Fanout, error: tuple) -> None:
    fan.error = error
    for child_id in list(fan.active):
        sibling = ex._frames.get(child_id)
        if sibling is not None:
            ex.abort_frame(sibling)
            if fan.kind == "Map" and not parent.state.distributed:
                ex.emit(parent, "MapIterationAborted", {"name": parent.state.name, "index": sibling.index})
    fan.active.clear()
    parent.phase = CHILDREN_FAILED
    ex._runnable.appendleft(parent)



# -- Map Runs as the caller sees them -----------------------------------------------------------------
class MapRunView:
    """A DISTRIBUTED Map state's run (a Map Run), read-only: what the durable runtime records of it.

    A view stays bound to one run of the Map state: `same_run` tells whether two views (taken before
    and after a step) are of the same run, so a caller can see which runs began or ended in between."""

    __slots__ = ("frame_id", "_frame", "_fan")

    def __init__(self, frame: Frame, fan: Fanout):
        self.frame_id, self._frame, self._fan = frame.id, frame, fan

    def same_run(self, other: MapRunView | None) -> bool:
        return other is not None and other._fan is self._fan

    @property
    def state_name(self) -> str:
        return self._frame.state_name

    @property
    def label(self) -> str:
        state = self._frame.state
        return state.label or state.name

    @property
    def execution_type(self) -> str:
        """STANDARD or EXPRESS: how its iterations run (ItemProcessor.ProcessorConfig.ExecutionType)."""
        raw = self._frame.state.raw
        processor = raw.get("ItemProcessor") or raw.get("Iterator") or {}
        return (processor.get("ProcessorConfig") or {}).get("ExecutionType") or "STANDARD"

    @property
    def child_definition(self) -> dict:
        """The definition each of its child executions runs."""
        frame = self._frame
        return frame.execution.child_definition(iteration_machine_key(frame.machine_key, frame.state_name))

    @property
    def max_concurrency(self) -> int:
        return 0 if self._fan.limit == math.inf else int(self._fan.limit)  # 0: no limit, as AWS says

    @property
    def tolerated_failure_count(self) -> int:
        return self._fan.tolerated_count or 0

    @property
    def tolerated_failure_percentage(self) -> float:
        return self._fan.tolerated_percentage or 0.0

    @property
    def total(self) -> int:
        return self._fan.total

    @property
    def outcome(self) -> str:
        """How a run that has ended ended: FAILED, SUCCEEDED, or ABORTED (withdrawn: the execution
        stopped, or a sibling branch failed)."""
        fan = self._fan
        if fan.error is not None:
            return "FAILED"
        if fan.completed >= fan.total:
            return "SUCCEEDED"
        return "ABORTED"


def map_runs(ex: Execution) -> dict[int, MapRunView]:
    """The DISTRIBUTED Map states running now, by their frame."""
    return {frame_id: MapRunView(frame, frame.fanout) for frame_id, frame in ex._frames.items()
            if frame.fanout is not None and frame.fanout.kind == "Map" and frame.state.distributed}


def update_map_run(ex: Execution, frame_id: int, state_name: str, max_concurrency: int | None,
                   tolerated_count: int | None, tolerated_percentage: float | None) -> bool:
    """Change a running Map's limits: a higher MaxConcurrency starts more children at once (now),
    tolerance applies from the next failure. False when the frame no longer runs that Map state."""
    frame = ex._frames.get(frame_id)
    fan = frame.fanout if frame is not None else None
    if fan is None or fan.kind != "Map" or frame.state_name != state_name:
        return False
    if max_concurrency is not None:
        fan.limit = max_concurrency or math.inf
    if tolerated_count is not None:
        fan.tolerated_count = tolerated_count
    if tolerated_percentage is not None:
        fan.tolerated_percentage = tolerated_percentage
    active = next(iter(fan.active), None)
    if active is not None and active in ex._frames:  # start siblings up to the new limit
        child_parked(ex, ex._frames[active])
    return True
