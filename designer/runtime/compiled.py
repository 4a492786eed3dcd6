"""Compiled machines (once per revision or Map Run and process) and the options an engine `Execution`
runs a row with."""

from __future__ import annotations

import json
import secrets
from typing import Any

from designer.models import (
    Execution,
    MachineType,
    MapRun,
    StateMachineRevision,
    arn,
)
from designer.runtime.clock import now
from engine import (
    ExecutionOptions,
    compile_definition,
)

_COMPILED: dict[int, Any] = {}
_COMPILED_MAP_RUNS: dict[tuple[int, str], Any] = {}


def _compiled(revision: StateMachineRevision, machine_type: str):
    """The compiled machine of a revision, compiled once per process (revisions never change)."""
    machine = _COMPILED.get(revision.pk)
    if machine is None:
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        machine = _COMPILED[revision.pk] = compile_definition(
            json.loads(revision.definition), validate=False, machine_type=machine_type)
    return machine


def _compiled_map_run(map_run: MapRun):
    """The compiled ItemProcessor a Map Run's children run, compiled once per map run and process."""
    key = (map_run.pk, map_run.arn)  # the ARN too: SQLite may give a deleted row's id to a new one
    machine = _COMPILED_MAP_RUNS.get(key)
    if machine is None:
        if len(_COMPILED_MAP_RUNS) > 512:
            _COMPILED_MAP_RUNS.clear()
        machine = _COMPILED_MAP_RUNS[key] = compile_definition(
            json.loads(map_run.definition), validate=False, machine_type=map_run.execution_type)
    return machine


def _machine_for(row: Execution):
    if row.map_run_id is not None:
        return _compiled_map_run(row.map_run)
    return _compiled(row.revision, row.type)


def _options(row: Execution, *, sync: bool = False) -> ExecutionOptions:
    machine_name = row.machine.name
    if row.map_run_id is not None:  # AWS: a Map Run's children run `<machine>/<label>`
        machine_name = f"{machine_name}/{row.map_run.label}"
    return ExecutionOptions(
        execution_arn=row.arn, execution_name=row.name, state_machine_arn=arn("stateMachine", machine_name),
        state_machine_name=machine_name, role_arn=row.machine.role_arn, machine_type=row.type,
        sync=sync, redrive_count=row.redrive_count, start_time=row.start_date.timestamp(),
        history=row.type == MachineType.STANDARD, clock=now,
        # Executions on workers run a DISTRIBUTED Map's iterations as child executions (a Map Run);
        # Express executions run in memory, where the iterations run inline.
        child_executions=row.type == MachineType.STANDARD,
        task_token=_new_task_token,
    )


def _new_task_token() -> str:
    """A callback's token: 384 random bits, 64 URL-safe characters (AWS allows 1,024), opaque to the
    caller; unique in the token table, so a token is never given out twice."""
    return secrets.token_urlsafe(48)
