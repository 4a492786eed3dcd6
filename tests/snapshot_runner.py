"""The Express runner's loop, but the execution is saved and restored after every single transition.

Used by the conformance test to prove that a snapshot holds everything an execution needs: the
snapshot goes through JSON text and a brand-new `Execution` continues from it, as a worker picking an
execution up from the database would.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from engine import RUNNING, Execution, ExecutionOptions, Machine, RunResult
from engine.runner import answer_task


def run_reloading(machine: Machine, execution_input: Any, options: ExecutionOptions,
                  task_handler=None) -> RunResult:
    now = [options.start_time or time.time()]
    options = replace(options, start_time=now[0], clock=lambda: now[0])
    events: list[dict] | None = [] if options.history else None
    execution = Execution(machine, execution_input, options)
    transitions = 0

    def reload(current: Execution) -> Execution:
        if events is not None:
            events.extend(current.events)
        text = json.dumps(current.to_snapshot())
        return Execution.from_snapshot(machine, json.loads(text), options)

    while True:
        execution.run(max_transitions=1)
        transitions = execution.transitions
        execution = reload(execution)
        if execution.status != RUNNING:
            break
        if execution.has_runnable():
            continue
        tasks = [s for s in execution.suspensions().values() if s.kind == "task"]
        if tasks:
            for suspension in tasks:
                answer_task(execution, task_handler, suspension)
            continue
        if not execution.suspensions():
            raise RuntimeError("execution is stuck: nothing runnable and nothing pending")
        wake = min(execution.suspensions().values(), key=lambda s: s.until)
        now[0] = max(now[0], wake.until)
        execution.resume_wait(wake.frame)
    if events is not None:
        events.extend(execution.events)
    return RunResult(execution.status, execution.output, execution.error, execution.cause, events,
                     transitions, execution)
