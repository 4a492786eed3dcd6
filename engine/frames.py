"""The shared vocabulary of a running execution: statuses, what a state handler tells the loop, the
phases a frame passes through, `Frame` and `Suspension`.

It sits at the bottom of engine/: the interpreter, the state handlers (states.py, fanout.py) and
snapshots (snapshot.py) all speak it, and it imports none of them, so none of them has to import
another upwards.
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.compile import Machine, State
    from engine.interpreter import Execution

# An execution's status (the same words as AWS's ExecutionStatus).
RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"

# What a state handler tells the loop.
CONTINUE = "continue"  # the frame moved to its next state: keep running it
PARKED = "parked"  # the frame waits (task, wait, children) or has finished: run something else

# Where a frame stopped inside its state (`Frame.phase`); None: it has not entered it yet. A handler
# called again for the same state reads it to pick up from there. The words are kept in snapshots.
AWAITING_TASK = "task"  # a task attempt was handed out: its result comes through resume_task
TASK_DONE = "task-done"  # the attempt's outcome is in `Frame.outcome`
RETRYING = "retry"  # backing off before the state is tried again
WAITING = "wait"  # a Wait state waits for its time
AWAITING_CHILDREN = "children"  # a Parallel's branches or a Map's iterations run (`Frame.fanout`)
CHILDREN_DONE = "children-done"  # every one succeeded (or failed within the tolerance)
CHILDREN_FAILED = "children-failed"  # one failed the state (`Fanout.error` says how)
CHILD_EXECUTION = "child"  # a DISTRIBUTED Map iteration run elsewhere, as a child execution

_NO_VALUE = object()  # what a new frame's size bound is about: nothing


@dataclass(slots=True)
class Suspension:
    """Why a frame is parked, as data. `kind` is "task" (run `resource` with `parameters`), "wait"
    (wake the frame at `until`, epoch seconds: a Wait state or a retry's back-off) or "child" (a
    DISTRIBUTED Map iteration to run as a child execution of the machine `resource` — a key for
    `Execution.child_definition` — with input `parameters`, item number `attempt`; answered with
    `resume_child`). Child suspensions are made only with `ExecutionOptions.child_executions`."""

    frame: int
    kind: str
    state_name: str
    until: float | None = None
    resource: str | None = None
    parameters: Any = None
    attempt: int = 0
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    task_token: str | None = None

    def to_dict(self) -> dict:
        # Not dataclasses.asdict: it deep-copies `parameters`, which are never mutated, and a Map Run's
        # parent keeps one suspension per running child in its snapshot.
        return {name: getattr(self, name) for name in self.__slots__}


class Frame:
    """A thread of control: the top level, a Parallel branch or a Map iteration.

    A frame is also the evaluation environment (`env`) of the state it is at: `context`,
    `variables`, `random()` and `uuid()` are what paths, templates and expressions read.
    """

    __slots__ = (
        "id", "execution", "machine", "machine_key", "parent", "index", "state_name", "value",
        "phase", "entered_event_id", "last_event_id", "entered_time", "retry_counts", "effective",
        "outcome", "fanout", "local_variables", "variables", "task_token", "silent", "_context",
        "bound", "bound_of",
    )

    def __init__(self, execution: Execution, frame_id: int, machine_key: str, parent: Frame | None,
                 index: int | None, value: Any):
        self.id = frame_id
        self.execution = execution
        self.machine_key = machine_key
        self.machine: Machine = execution.machines[machine_key]
        self.parent = parent
        self.index = index
        self.state_name = self.machine.start_at
        self.value = value
        # An upper bound of the size of `bound_of` (the value this frame last left a state with), so that
        # a state adding a small result to a small document is not measured (limits.py). It is only
        # believed while `bound_of is value`; nothing else has to keep it up to date.
        self.bound: int | None = None
        self.bound_of: Any = _NO_VALUE
        self.phase: str | None = None
        self.entered_event_id = 0
        self.last_event_id = parent.last_event_id if parent is not None else 0
        self.entered_time = 0.0
        self.retry_counts: list[int] | None = None
        self.effective: Any = None
        self.outcome: Any = None
        self.fanout: Any = None
        self.local_variables: dict = {}
        scope = self.local_variables
        inherits = parent is not None and self.machine.reads_outer_variables
        self.variables = ChainMap(scope, parent.variables) if inherits else scope
        self.task_token: str | None = None
        # Frames of a DISTRIBUTED Map are child executions: their events are not the parent's history.
        self.silent = parent.silent if parent is not None else False
        self._context: dict | None = None

    # -- the evaluation environment -------------------------------------------------------------
    @property
    def context(self) -> dict:
        context = self._context
        if context is None:
            context = self._context = self.execution.context_object(self)
        return context

    def random(self) -> float:
        return self.execution.options.random()

    def uuid(self) -> str:
        return self.execution.options.uuid()

    @property
    def state(self) -> State:
        return self.machine.states[self.state_name]

    @property
    def retry_count(self) -> int:
        return sum(self.retry_counts) if self.retry_counts else 0


def iteration_machine_key(map_machine_key: str, map_state_name: str) -> str:
    """The registry key of the machine a Map state's iterations run (its ItemProcessor)."""
    return f"{map_machine_key}/{map_state_name}#items"
