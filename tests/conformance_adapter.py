"""The conformance corpus's adapter (../shared/conformance/README.md): run one case through the engine.

`run(definition, input, options)` validates and compiles the definition, runs it in memory with the
Express runner (virtual clock: Wait states cost no real time) and returns the result with the history
reduced to `{"type", "name"}`. Names, ARNs and the region/account follow AWS's shapes so that
placeholder checks (`<ExecArnPart_0idx>` …) hold.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any

from engine import ExecutionOptions, InvalidDefinition, compile_definition
from engine import run as run_engine
from engine.history import reduced

REGION, ACCOUNT = "us-east-1", "111111111111"

# Set STEPWISE_SNAPSHOT_EVERY_TRANSITION=1 (or this attribute) to dump and reload the execution after
# every transition.
RELOAD_EVERY_TRANSITION = os.environ.get("STEPWISE_SNAPSHOT_EVERY_TRANSITION") == "1"


def _options(options: dict, history: bool) -> ExecutionOptions:
    machine_name = f"machine-{uuid.uuid4().hex[:8]}"
    execution_name = str(uuid.uuid4())
    machine_type = options.get("state_machine_type", "STANDARD")
    execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine_name}:{execution_name}"
    if machine_type == "EXPRESS":
        # Express execution ARNs carry a third part after the name.
        execution_arn = (
            f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{execution_name}:{uuid.uuid4()}"
        )
    return ExecutionOptions(
        execution_arn=execution_arn,
        execution_name=execution_name,
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine_name}",
        state_machine_name=machine_name,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/stepwise-conformance",
        machine_type=machine_type,
        sync=options.get("start") == "StartSyncExecution",
        start_time=time.time(),
        history=history,
        random=random.random,
        uuid=lambda: str(uuid.uuid4()),
    )


# Compile once, run many times: the benchmark harness passes the same definition object on every run.
# The entry keeps the definition alive, so its id cannot be reused by another object meanwhile.
_compiled: dict[int, tuple[dict, Any]] = {}


def _compile(definition: dict, machine_type: str):
    hit = _compiled.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    machine = compile_definition(definition, machine_type=machine_type)
    if len(_compiled) > 64:
        _compiled.clear()
    _compiled[id(definition)] = (definition, machine)
    return machine


def _task_handler(options: dict):
    """Task cases name their Python handlers in options["functions"]: register them as a user's
    functions are registered, and answer every Task through the same registry (designer.functions)."""
    from designer import functions

    for name, spec in (options.get("functions") or {}).items():
        functions.register_path(name, spec)

    def handle(suspension, execution):
        return functions.invoke(suspension.resource, suspension.parameters,
                                timeout_seconds=suspension.timeout_seconds)

    return handle


def run(definition: dict, execution_input: Any, options: dict) -> dict:
    history = options.get("events", True)
    try:
        machine = _compile(definition, options.get("state_machine_type", "STANDARD"))
    except InvalidDefinition as invalid:
        return {"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "cause": str(invalid)}
    if RELOAD_EVERY_TRANSITION:
        from tests.snapshot_runner import run_reloading

        result = run_reloading(machine, execution_input, _options(options, history), _task_handler(options))
    else:
        result = run_engine(machine, execution_input, _task_handler(options),
                            options=_options(options, history), history=history)
    answer = {"status": result.status, "output": result.output, "error": result.error, "cause": result.cause}
    if result.events is not None:
        answer["events"] = [reduced(event) for event in result.events]
    return answer


run_case = run
