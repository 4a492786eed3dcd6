"""Stepwise's Amazon States Language interpreter: pure Python, no Django, no threads, no sleeping.

    from engine import compile_definition, run, iter_problems

    problems = list(iter_problems(definition))          # validate, with AWS's codes and locations
    result = run(definition, {"x": 1}, task_handler)    # run in memory to the end (Express)

For durable executions, drive an `Execution` step by step: `run()` returns suspensions (run this
task, wake me at T), answered with `resume_task` / `resume_wait`; `to_snapshot()` saves it all.
"""

from engine.compile import InvalidDefinition, Machine, compile_definition
from engine.errors import StatesError
from engine.interpreter import Execution, ExecutionOptions, Suspension
from engine.runner import RunResult, TaskFailed, run
from engine.validate import iter_problems

__all__ = [
    "Execution", "ExecutionOptions", "InvalidDefinition", "Machine", "RunResult", "StatesError",
    "Suspension", "TaskFailed", "compile_definition", "iter_problems", "run",
]
