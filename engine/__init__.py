"""Stepwise's Amazon States Language interpreter: pure Python, no Django, no threads, no sleeping.

    from engine import compile_definition, run, iter_problems

    problems = list(iter_problems(definition))          # validate, with AWS's codes and locations
    result = run(definition, {"x": 1}, task_handler)    # run in memory to the end (Express)

For durable executions, drive an `Execution` step by step: `run()` returns suspensions (run this
task, wake me at T), answered with `resume_task` / `resume_wait`; `to_snapshot()` saves it all.

This is the engine's door: designer/ imports only the names below (tests/test_import_graph.py).
"""

from engine import jsontext
from engine.choice import DATA_TEST_OPERATORS
from engine.compile import InvalidDefinition, Machine, compile_definition
from engine.errors import DATA_LIMIT_EXCEEDED, HEARTBEAT_TIMEOUT, RUNTIME, TASK_FAILED, TIMEOUT, StatesError
from engine.frames import ABORTED, FAILED, RUNNING, SUCCEEDED, TIMED_OUT, Suspension
from engine.history import details_key, to_aws
from engine.inspection import ERROR, RESULT, InvalidTestRequest, Mock, run_state_test
from engine.integrations import integration, palette
from engine.interpreter import Execution, ExecutionOptions
from engine.jsontext import json_text
from engine.limits import MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES
from engine.problems import format_invalid_definition
from engine.runner import RunResult, TaskFailed, run
from engine.tasks import task_events
from engine.validate import iter_problems

__all__ = [
    "ABORTED", "DATA_LIMIT_EXCEEDED", "DATA_TEST_OPERATORS", "ERROR", "FAILED", "HEARTBEAT_TIMEOUT",
    "MAX_HISTORY_EVENTS",
    "MAX_PAYLOAD_BYTES", "RESULT",
    "RUNNING", "RUNTIME", "SUCCEEDED", "TASK_FAILED", "TIMED_OUT", "TIMEOUT", "Execution", "ExecutionOptions",
    "InvalidDefinition", "InvalidTestRequest", "Machine", "Mock", "RunResult", "StatesError", "Suspension",
    "TaskFailed", "compile_definition", "details_key", "format_invalid_definition", "integration",
    "iter_problems", "json_text", "jsontext", "palette", "run", "run_state_test", "task_events", "to_aws",
]
