"""Parallel and Map: states that run sub-machines in child frames and gather their outputs.

A fan-out state parks its frame with a `Fanout` record and starts children. Children are started
lazily: one at a time, and another only when a running one finishes or parks, up to the state's
concurrency limit. So a Map over 10,000 items whose iterations never wait keeps one child alive at a
time, while iterations that wait on tasks run side by side, as on AWS.
"""

from __future__ import annotations

import json
import math
from typing import Any

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
from engine.interpreter import PARKED, Execution, Frame, Suspension, iteration_machine_key
from engine.paths import PathNotFound
from engine.states import HANDLERS as SIMPLE_HANDLERS
from engine.states import effective_input, finish, jsonata_binding


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
    if phase == "children-done":
        return _succeeded(ex, frame, state, "ParallelStateSucceeded")
    if phase == "children-failed":
        return _failed(ex, frame, state, "ParallelStateFailed")
    if phase is None:
        ex.enter(frame, state)
        frame.effective = effective_input(state, frame)
    frame.phase = "children"
    ex.emit(frame, "ParallelStateStarted")
    count = len(state.branches)
    fan = frame.fanout = Fanout("Parallel", count, count)
    prefix = f"{frame.machine_key}/{state.name}#"
    children = [ex.new_frame(prefix + str(i), frame, i, frame.effective) for i in range(count)]
    fan.next_index = count
    fan.active.update(child.id for child in children)
    ex.runnable.extendleft(reversed(children))
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
                                  f"Map state input must be an array but was: {_shown_json(items)}")
            return items
        items = state.items(jsonata_binding(frame), frame)
        if type(items) is not list:
            expression = state.raw["Items"]
            expression = expression[2:-2].strip() if isinstance(expression, str) else expression
            raise StatesError(QUERY_EVALUATION_ERROR,
                              f"The JSONata expression '{expression}' specified for the field 'Items' "
                              "returned an "
                              f"unexpected result type. Expected 'array', but was '{_json_type(items)}' "
                              f"for value: {_shown_json(items)}")
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
        raise StatesError(RUNTIME, f"Map state input must be an array but was: {_shown_json(items)}")
    return items


def _shown_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array"


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
    if phase == "children-done":
        if state.distributed:
            ex.emit(frame, "MapRunSucceeded")
        return _succeeded(ex, frame, state, "MapStateSucceeded")
    if phase == "children-failed":
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
    frame.phase = "children"
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
        frame.phase = "children-done"
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
            child.phase = "child"
            ex.suspend(child_suspension(child))
            return False
    ex.runnable.appendleft(child)
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
        parent.phase = "children-done"
        ex.runnable.appendleft(parent)
    elif fan.kind == "Map":
        _start_iterations(ex, parent, state)


def _fail_fanout(ex: Execution, parent: Frame, fan: Fanout, error: tuple) -> None:
    fan.error = error
    for child_id in list(fan.active):
        sibling = ex.frames.get(child_id)
        if sibling is not None:
            ex.abort_frame(sibling)
            if fan.kind == "Map" and not parent.state.distributed:
                ex.emit(parent, "MapIterationAborted", {"name": parent.state.name, "index": sibling.index})
    fan.active.clear()
    parent.phase = "children-failed"
    ex.runnable.appendleft(parent)


HANDLERS = {**SIMPLE_HANDLERS, "Parallel": run_parallel, "Map": run_map}
