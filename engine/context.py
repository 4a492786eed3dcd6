"""The context object `$$`, as AWS fills it for Standard and Express executions.

    {"Execution": {"Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount"},
     "StateMachine": {"Id", "Name"},
     "State": {"EnteredTime", "Name", "RetryCount"},   (RetryCount only in Task, Parallel and Map)
     "Task": {"Token"},                      (only for .waitForTaskToken tasks)
     "Map": {"Item": {"Index", "Value"}}}    (only while a Map's ItemSelector is evaluated)

It is built on demand: most states never read `$$`, so the interpreter only records what it needs
(entered time, retry count) and this module assembles the object when a path asks for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The state types that take a Retry field. Only their `$$.State` carries RetryCount (as LocalStack's
# recordings against AWS show for Pass states, in Standard and Express executions alike).
RETRYING_STATE_TYPES = frozenset({"Task", "Parallel", "Map"})


def iso_timestamp(epoch_seconds: float) -> str:
    """AWS's context timestamps: UTC with milliseconds and a Z, e.g. 2024-05-06T07:08:09.123Z."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def execution_part(options: Any, execution_input: Any) -> dict:
    part = {
        "Id": options.execution_arn,
        "Input": execution_input,
        "StartTime": iso_timestamp(options.start_time),
        "Name": options.execution_name,
        "RoleArn": options.role_arn,
    }
    # Synchronous Express executions cannot be redriven; AWS leaves RedriveCount out for them.
    if not (options.machine_type == "EXPRESS" and options.sync):
        part["RedriveCount"] = options.redrive_count
    return part


def context_object(execution_part: dict, state_machine_part: dict, state_name: str, entered_time: float,
                   retry_count: int | None, task_token: str | None = None,
                   map_item: tuple | None = None) -> dict:
    """`retry_count` is None for states that cannot retry, whose `$$.State` has no RetryCount."""
    state = {"EnteredTime": iso_timestamp(entered_time), "Name": state_name}
    if retry_count is not None:
        state["RetryCount"] = retry_count
    context = {"Execution": execution_part, "StateMachine": state_machine_part, "State": state}
    if task_token is not None:
        context["Task"] = {"Token": task_token}
    if map_item is not None:
        context["Map"] = {"Item": {"Index": map_item[0], "Value": map_item[1]}}
    return context
