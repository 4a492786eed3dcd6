"""Running an execution to its end in memory: the engine side of StartSyncExecution (Express).

The runner answers the interpreter's suspensions itself: it calls `task_handler` for tasks and moves a
*virtual* clock forward for waits and retry back-offs, so a Wait of an hour costs nothing and a run
is reproducible. The durable runtime (designer/runtime/) answers the same suspensions with
database rows and workers instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.compile import Machine, compile_definition
from engine.errors import RUNTIME
from engine.frames import RUNNING, Suspension
from engine.interpreter import Execution, ExecutionOptions


class TaskFailed(Exception):
    """Raised by a task handler: the task failed with this error name and cause."""

    def __init__(self, error: str | None, cause: str | None = None):
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


TaskHandler = Callable[[Suspension, Execution], Any]


@dataclass(slots=True)
class RunResult:
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict] | None
    transitions: int
    execution: Execution

    def to_dict(self) -> dict:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause}


def _no_tasks(suspension: Suspension, execution: Execution) -> Any:
    raise TaskFailed(RUNTIME, f"No task handler for resource '{suspension.resource}'")


def run(definition: dict | Machine, execution_input: Any, task_handler: TaskHandler | None = None, *,
        options: ExecutionOptions | None = None, history: bool = True) -> RunResult:
    """Run an execution to the end and return how it ended."""
    machine = definition if isinstance(definition, Machine) else compile_definition(definition)
    options = options or ExecutionOptions()
    now = [options.start_time or time.time()]
    options = replace(options, start_time=now[0], history=history, clock=lambda: now[0])
    handler = task_handler or _no_tasks
    execution = Execution(machine, execution_input, options)
    deadline = now[0] + machine.timeout_seconds if machine.timeout_seconds else None
    execution.run()
    while execution.status == RUNNING:
        pending = execution.suspensions()
        tasks = [s for s in pending.values() if s.kind == "task"]
        if tasks:
            for suspension in tasks:
                answer_task(execution, handler, suspension)
        else:
            if not pending:
                raise RuntimeError("execution is stuck: nothing runnable and nothing pending")
            wake = min(pending.values(), key=lambda s: s.until)
            if deadline is not None and wake.until > deadline:
                now[0] = deadline
                execution.time_out()
                break
            now[0] = max(now[0], wake.until)
            execution.resume_wait(wake.frame)
        execution.run()
    return RunResult(execution.status, execution.output, execution.error, execution.cause, execution.events,
                     execution.transitions, execution)


def answer_task(execution: Execution, handler: TaskHandler, suspension: Suspension) -> None:
    """The task has started; call `handler` and resume the frame with its result or its TaskFailed."""
    execution.task_started(suspension.frame)
    try:
        result = handler(suspension, execution)
    except TaskFailed as failure:
        execution.resume_task(suspension.frame, error=failure.error, cause=failure.cause)
        return
    execution.resume_task(suspension.frame, result=result)
