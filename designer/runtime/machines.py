"""State machines: names, definitions checked, create, update (a new revision), look up, delete."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from designer.models import (
    Execution,
    ExecutionStatus,
    HistoryEvent,
    MachineType,
    StateMachine,
    StateMachineRevision,
    TaskAttempt,
    arn,
)
from designer.runtime.errors import (
    ExecutionDoesNotExist,
    InvalidArn,
    InvalidDefinition,
    InvalidName,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
    ValidationException,
)
from designer.runtime.wakeups import stop_execution
from engine import InvalidDefinition as EngineInvalidDefinition
from engine import (
    compile_definition,
    format_invalid_definition,
    iter_problems,
    jsontext,
)

_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidName(f"Invalid Name: '{name}'" if name else f"Invalid Name: the {what} name is empty")


def check_definition(definition_text: str, machine_type: str = MachineType.STANDARD) -> dict:
    """Parse and validate a definition; raise InvalidDefinition (with `.problems`) if it is not valid."""
    problems = [problem for problem in iter_problems(definition_text, state_machine_type=machine_type)
                if problem.severity == "ERROR"]
    if problems:
        raise InvalidDefinition(format_invalid_definition(problems), problems)
    try:
        definition = jsontext.loads(definition_text)
        compile_definition(definition, machine_type=machine_type)
    except EngineInvalidDefinition as error:
        raise InvalidDefinition(str(error), error.problems) from None
    except (ValueError, RecursionError) as error:  # iter_problems reports these; a second line of defence
        raise InvalidDefinition(f"Invalid State Machine Definition: '{error}'") from None
    return definition


def create_state_machine(name: str, definition_text: str, machine_type: str = MachineType.STANDARD,
                         role_arn: str | None = None) -> StateMachine:
    _check_name(name, "state machine")
    if machine_type not in MachineType.values:
        raise ValidationException(f"Invalid type: '{machine_type}' (STANDARD or EXPRESS)")
    check_definition(definition_text, machine_type)
    try:
        with transaction.atomic():
            machine = StateMachine.objects.create(
                name=name, type=machine_type, definition=definition_text, revision=1,
                **({"role_arn": role_arn} if role_arn else {}))
            StateMachineRevision.objects.create(machine=machine, number=1, definition=definition_text)
    except IntegrityError:
        machine_arn = arn("stateMachine", name)
        raise StateMachineAlreadyExists(f"State Machine Already Exists: '{machine_arn}'") from None
    return machine


def update_state_machine(machine: StateMachine, definition_text: str | None = None,
                         role_arn: str | None = None) -> StateMachine:
    """A new definition is a new revision; running executions keep the one they started with."""
    with transaction.atomic():
        machine = StateMachine.objects.select_for_update().get(pk=machine.pk)
        if definition_text is not None and definition_text != machine.definition:
            check_definition(definition_text, machine.type)
            machine.revision += 1
            machine.definition = definition_text
            StateMachineRevision.objects.create(machine=machine, number=machine.revision,
                                                definition=definition_text)
        if role_arn:
            machine.role_arn = role_arn
        machine.save()
    return machine


def get_state_machine(machine_arn: str) -> StateMachine:
    prefix = arn("stateMachine", "")
    if not isinstance(machine_arn, str) or not machine_arn.startswith(prefix):
        raise InvalidArn(f"Invalid Arn: '{machine_arn}'")
    name = machine_arn[len(prefix):].split(":")[0]
    try:
        return StateMachine.objects.get(name=name)
    except StateMachine.DoesNotExist:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'") from None


def split_machine_arn(machine_arn: str) -> tuple[str, str | None]:
    """(machine name, version number or alias name) from a state machine ARN, or InvalidArn."""
    prefix = arn("stateMachine", "")
    parts = machine_arn[len(prefix):].split(":") if machine_arn.startswith(prefix) else []
    if not parts or len(parts) > 2 or not all(parts):
        raise InvalidArn(f"Invalid Arn: '{machine_arn}'")
    return parts[0], parts[1] if len(parts) == 2 else None


def get_execution(execution_arn: str) -> Execution:
    try:
        return Execution.objects.select_related("machine").get(arn=execution_arn)
    except Execution.DoesNotExist:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'") from None


def delete_state_machine(machine: StateMachine) -> None:
    """DeleteStateMachine: running Standard executions are stopped first (ABORTED, their in-flight
    attempts withdrawn), then the machine goes with its revisions, executions and history."""
    for execution in Execution.objects.filter(machine=machine, type=MachineType.STANDARD,
                                              status=ExecutionStatus.RUNNING):
        stop_execution(execution, "States.Aborted", "The state machine was deleted.")
    with transaction.atomic():
        TaskAttempt.objects.filter(execution__machine=machine).delete()
        HistoryEvent.objects.filter(execution__machine=machine).delete()
        Execution.objects.filter(machine=machine).delete()
        StateMachine.objects.filter(pk=machine.pk).delete()
