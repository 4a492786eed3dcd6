"""Workflow variables: binding what a state's Assign produced, within AWS's scopes and limits.

Scopes. Each frame has its own scope (`frame.local_variables`) in front of its parent's
(`frame.variables` is a ChainMap): a Parallel branch or a Map iteration reads the variables of the
states around it, and what it assigns stays inside it, gone when the branch or iteration ends. An
inner state that assigns a name the outer scope also has gets a variable of its own; the outer one
is unchanged. Results leave a branch or iteration only through its output (and the Parallel's or
Map's own Assign, which runs in the outer scope).

Assignments happen together. Every value of an Assign is evaluated against the values the state
had before it assigned anything (`$x` on the right-hand side is always the old `$x`), and the
caller binds the whole result at once, after the state's output was computed.

Limits (AWS's quotas, States.DataLimitExceeded when exceeded): the values one Assign writes may
hold at most 256 KiB together (so one variable as well), and all variables alive in an execution
at most 10 MiB. Sizes are those of the values' compact JSON text; names do not count.
"""

from __future__ import annotations

from engine.errors import DATA_LIMIT_EXCEEDED, StatesError
from engine.limits import MAX_TOTAL_VARIABLE_BYTES, MAX_VARIABLE_BYTES


class VariableSizes:
    """The bytes each live scope holds, per variable, and their total over the execution.

    A scope's sizes are measured when it first assigns (so an execution restored from a snapshot
    measures its scopes again as they are used) and forgotten when its frame ends."""

    __slots__ = ("by_frame", "total")

    def __init__(self):
        self.by_frame: dict[int, dict[str, int]] = {}
        self.total = 0

    def scope(self, frame) -> dict[str, int]:
        sizes = self.by_frame.get(frame.id)
        if sizes is None:
            size = frame.execution.sizer.size
            sizes = {name: size(value) for name, value in frame.local_variables.items()}
            self.by_frame[frame.id] = sizes
            self.total += sum(sizes.values())
        return sizes

    def forget(self, frame_id: int) -> None:
        sizes = self.by_frame.pop(frame_id, None)
        if sizes:
            self.total -= sum(sizes.values())


def bind(frame, assigned: dict) -> None:
    """Bind `assigned` (name → value) in `frame`'s scope, or raise if it breaks AWS's limits."""
    execution = frame.execution
    size = execution.sizer.size
    new = {}
    assigned_bytes = 0
    for name, value in assigned.items():
        new[name] = value_bytes = size(value)
        assigned_bytes += value_bytes
    if assigned_bytes > MAX_VARIABLE_BYTES:
        excess = assigned_bytes - MAX_VARIABLE_BYTES
        raise StatesError(DATA_LIMIT_EXCEEDED,
                          f"The Assign field exceeds the maximum variable assignment size by {excess} bytes.")
    ledger = execution.variable_sizes
    sizes = ledger.scope(frame)
    total = ledger.total + assigned_bytes
    for name in new:
        total -= sizes.get(name, 0)
    if total > MAX_TOTAL_VARIABLE_BYTES:
        excess = total - MAX_TOTAL_VARIABLE_BYTES
        raise StatesError(DATA_LIMIT_EXCEEDED, "Execution total variable size limit exceeded. State "
                                               f"'{frame.state_name}' assigned variables that exceed the "
                                               f"total execution limit by {excess} bytes.")
    frame.local_variables.update(assigned)
    sizes.update(new)
    ledger.total = total
