"""Workflow variables: binding what a state's Assign produced, within AWS's scopes and limits.

Each frame has its own scope (a dict) in front of its parent's: a Parallel branch or Map iteration
reads the variables of the states around it, and what it assigns stays inside it.
"""

from __future__ import annotations

from engine.errors import RUNTIME, StatesError
from engine.limits import MAX_TOTAL_VARIABLE_BYTES, MAX_VARIABLE_BYTES


def bind(frame, assigned: dict) -> None:
    sizer = frame.execution.sizer
    for name, value in assigned.items():
        if sizer.size(value) > MAX_VARIABLE_BYTES:
            raise StatesError(RUNTIME, f"The variable '{name}' exceeds the maximum size of {MAX_VARIABLE_BYTES} bytes.")
    frame.local_variables.update(assigned)
    total = sum(sizer.size(value) for value in frame.local_variables.values())
    if total > MAX_TOTAL_VARIABLE_BYTES:
        raise StatesError(RUNTIME, "The total size of the variables exceeds the maximum of "
                                   f"{MAX_TOTAL_VARIABLE_BYTES} bytes.")
