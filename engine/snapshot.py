"""An execution's whole state as JSON-serialisable data, and back.

The snapshot holds what is needed to continue: every live frame (where it is, its value, its
variables, its children's progress), which frames are runnable and which wait on what. History is not
in it: events are output, handed to the caller as they happen.
"""

from __future__ import annotations

import math
import sys
from typing import Any

FORMAT = 1

_FRAME_FIELDS = ("state_name", "value", "phase", "entered_event_id", "last_event_id", "entered_time",
                 "retry_counts", "effective", "outcome", "task_token", "silent")
_FANOUT_FIELDS = ("kind", "total", "next_index", "results", "completed", "failures", "tolerated_count",
                  "tolerated_percentage", "error", "items")


def dump(ex) -> dict:
    frames = []
    for frame in sorted(ex.frames.values(), key=lambda f: f.id):
        data = {field: getattr(frame, field) for field in _FRAME_FIELDS}
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
        "runnable": [frame.id for frame in ex.runnable],
        "pending": [suspension.to_dict() for suspension in ex.pending.values()],
    }


def load(cls, machine, snapshot: dict, options) -> Any:
    from engine.fanout import Fanout
    from engine.interpreter import Frame, Suspension

    ex = cls(machine, snapshot["input"], options)
    ex.started = snapshot["started"]
    # Statuses are compared by identity in the hot loop: use the interned constant, not JSON's copy.
    ex.status = sys.intern(snapshot["status"])
    ex.output, ex.error, ex.cause = snapshot["output"], snapshot["error"], snapshot["cause"]
    ex.event_count = snapshot["event_count"]
    ex.transitions = snapshot["transitions"]
    ex.next_frame_id = snapshot["next_frame_id"]
    for data in snapshot["frames"]:
        parent = ex.frames[data["parent"]] if data["parent"] is not None else None
        frame = Frame(ex, data["id"], data["machine_key"], parent, data["index"], data["value"])
        for field in _FRAME_FIELDS:
            setattr(frame, field, data[field])
        frame.local_variables.update(data["variables"])
        if "fanout" in data:
            spec = data["fanout"]
            fan = Fanout(spec["kind"], spec["total"], math.inf if spec["limit"] is None else spec["limit"])
            for field in _FANOUT_FIELDS:
                setattr(fan, field, spec[field])
            fan.active = set(spec["active"])
            fan.results_bound = spec.get("results_bound")  # absent from snapshots made before it existed
            frame.fanout = fan
        ex.frames[frame.id] = frame
    ex.runnable.extend(ex.frames[frame_id] for frame_id in snapshot["runnable"])
    for data in snapshot["pending"]:
        ex.pending[data["frame"]] = Suspension(**data)
    return ex
