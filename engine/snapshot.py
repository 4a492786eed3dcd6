"""An execution's whole state as JSON-serialisable data, and back.

The snapshot holds what is needed to continue: every live frame (where it is, its value, its
variables, its children's progress), which frames are runnable and which wait on what. History is not
in it: events are output, handed to the caller as they happen.
"""

from __future__ import annotations

import math
from typing import Any

from engine.fanout import Fanout, child_suspension
from engine.frames import CHILD_EXECUTION, Frame, Suspension, iteration_machine_key

FORMAT = 1

_FRAME_FIELDS = ("state_name", "value", "phase", "entered_event_id", "last_event_id", "entered_time",
                 "retry_counts", "effective", "outcome", "task_token", "silent")
_FANOUT_FIELDS = ("kind", "total", "next_index", "results", "completed", "failures", "tolerated_count",
                  "tolerated_percentage", "error", "items")


_CONTAINERS = (dict, list)


def _is_plain_child(frame, suspension) -> bool:
    """A DISTRIBUTED Map iteration waiting for its child execution, exactly as the Map started it
    (fanout._start_iteration): everything about it but its id, index and input follows from its parent.
    A Map Run of 10,000 children keeps 10,000 of them, and the parent's snapshot is loaded and saved on
    every delivery of finished children: they are written as a row of numbers, not as a frame and a
    suspension each (a tenth of the size)."""
    parent = frame.parent
    return (frame.phase == CHILD_EXECUTION and frame.silent and suspension is not None
            and suspension.kind == "child"
            and parent is not None and parent.fanout is not None
            and frame.machine_key == iteration_machine_key(parent.machine_key, parent.state_name)
            and frame.state_name == frame.machine.start_at and frame.entered_event_id == 0
            and frame.entered_time == 0.0 and frame.retry_counts is None and frame.effective is None
            and frame.outcome is None and frame.task_token is None and not frame.local_variables
            and suspension.state_name == parent.state_name and suspension.resource == frame.machine_key
            and suspension.parameters is frame.value and suspension.attempt == frame.index
            and suspension.until is None and suspension.timeout_seconds is None
            and suspension.heartbeat_seconds is None and suspension.task_token is None)


def dump(ex) -> dict:
    frames = []
    runnable = {frame.id for frame in ex._runnable}
    plain_children: dict[int, list] = {}  # parent frame id → [[id, index, last_event_id(, input)], ...]
    plain = set()
    for frame in sorted(ex._frames.values(), key=lambda f: f.id):
        if frame.phase == CHILD_EXECUTION and frame.id not in runnable \
                and _is_plain_child(frame, ex._pending.get(frame.id)):
            row = [frame.id, frame.index, frame.last_event_id]
            items = frame.parent.fanout.items
            if items is None or frame.value is not items[frame.index]:  # an ItemSelector made its input
                row.append(frame.value)
            plain_children.setdefault(frame.parent.id, []).append(row)
            plain.add(frame.id)
            continue
        data = {field: getattr(frame, field) for field in _FRAME_FIELDS}
        # JSON has no shared references: a document held twice would be written (and read) twice.
        if type(frame.value) in _CONTAINERS:
            if frame.value is ex.input:
                data["value"], data["value_is_input"] = None, True
            if frame.effective is frame.value:
                data["effective"], data["effective_is_value"] = None, True
        data.update(id=frame.id, machine_key=frame.machine_key, index=frame.index,
                    parent=frame.parent.id if frame.parent is not None else None,
                    variables=dict(frame.local_variables))
        if frame.fanout is not None:
            fan = frame.fanout
            fanout = {field: getattr(fan, field) for field in _FANOUT_FIELDS}
            fanout["limit"] = None if fan.limit == math.inf else fan.limit
            fanout["active"] = sorted(fan.active)
            fanout["results_bound"] = fan.results_bound
            data["fanout"] = fanout
        frames.append(data)
    for data in frames:
        if data["id"] in plain_children:
            data["fanout"]["children"] = plain_children[data["id"]]
    return {
        "format": FORMAT,
        "started": ex.started,
        "input": ex.input,
        "status": ex.status,
        "output": ex.output,
        "error": ex.error,
        "cause": ex.cause,
        "event_count": ex.event_count,
        "transitions": ex.transitions,
        "next_frame_id": ex.next_frame_id,
        "frames": frames,
        "runnable": [frame.id for frame in ex._runnable],
        # A plain child's suspension is its frame id: the frame says the rest.
        "pending": [suspension.frame if suspension.frame in plain else suspension.to_dict()
                    for suspension in ex._pending.values()],
    }


def load(cls, machine, snapshot: dict, options) -> Any:
    ex = cls(machine, snapshot["input"], options)
    ex.started = snapshot["started"]
    ex.status = snapshot["status"]
    ex.output, ex.error, ex.cause = snapshot["output"], snapshot["error"], snapshot["cause"]
    ex.event_count = snapshot["event_count"]
    ex.transitions = snapshot["transitions"]
    ex.next_frame_id = snapshot["next_frame_id"]
    plain_children = False
    for data in snapshot["frames"]:
        parent = ex._frames[data["parent"]] if data["parent"] is not None else None
        frame = Frame(ex, data["id"], data["machine_key"], parent, data["index"], data["value"])
        for field in _FRAME_FIELDS:
            setattr(frame, field, data[field])
        if data.get("value_is_input"):
            frame.value = ex.input
        if data.get("effective_is_value"):
            frame.effective = frame.value
        frame.local_variables.update(data["variables"])
        if "fanout" in data:
            spec = data["fanout"]
            fan = Fanout(spec["kind"], spec["total"], math.inf if spec["limit"] is None else spec["limit"])
            for field in _FANOUT_FIELDS:
                setattr(fan, field, spec[field])
            fan.active = set(spec["active"])
            plain_children = plain_children or "children" in spec
            for row in spec.get("children", ()):
                machine_key = iteration_machine_key(frame.machine_key, frame.state_name)
                child = Frame(ex, row[0], machine_key, frame, row[1],
                              row[3] if len(row) > 3 else fan.items[row[1]])
                child.phase, child.silent, child.last_event_id = CHILD_EXECUTION, True, row[2]
                ex._frames[child.id] = child
            fan.results_bound = spec.get("results_bound")  # absent from snapshots made before it existed
            frame.fanout = fan
        ex._frames[frame.id] = frame
    if plain_children:  # frames in the order they were made, as before the dump
        ex._frames = dict(sorted(ex._frames.items()))
    ex._runnable.extend(ex._frames[frame_id] for frame_id in snapshot["runnable"])
    for data in snapshot["pending"]:
        if type(data) is int:  # a plain child (see _is_plain_child)
            ex._pending[data] = child_suspension(ex._frames[data])
        else:
            ex._pending[data["frame"]] = Suspension(**data)
    return ex
