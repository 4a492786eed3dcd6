"""The AWS Step Functions API (AWS JSON 1.0 protocol), so boto3, the AWS CLI and the SDKs work with
`endpoint_url` pointed at Stepwise.

    POST /    X-Amz-Target: AWSStepFunctions.<Operation>    Content-Type: application/x-amz-json-1.0

Every request is authenticated with Signature Version 4 (designer/sigv4.py) against a user's access
key; session cookies are never looked at, which is also why the endpoint is exempt from CSRF. The body
is checked against botocore's own `stepfunctions` model (required members, types, lengths, ranges,
enums), so a request that boto3 would not send gets the error AWS would give. Errors are
`{"__type": <code>, "message": ...}` with HTTP 400, which boto3 raises as `client.exceptions.<code>`.

Handlers read a checked request dict and return the response dict; state changes go through
designer/runtime.py. Timestamps leave as epoch seconds, as the JSON protocol carries them.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import random
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_not_required, login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from designer import runtime, sigv4
from designer.models import (
    Execution,
    ExecutionOrigin,
    HistoryEvent,
    MachineType,
    MapRun,
    StateMachine,
    StateMachineAlias,
    StateMachineVersion,
    Tag,
    arn,
)

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSStepFunctions."
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_REQUEST_BYTES = 1024 * 1024  # AWS: 1 MB a request
MAX_TAGS = 50
DEFAULT_PAGE = 100
ISSUE_LATER = "https://github.com/stepwise issue 'Activities, task tokens and service integrations'"


class ApiError(Exception):
    """An error answered to the client as `{"__type": code, "message": message}`."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# -- the model -------------------------------------------------------------------------------------
@cache
def service_model() -> dict:
    """botocore's model of the service: the shapes every request is checked against."""
    import botocore.loaders

    return botocore.loaders.Loader().load_service_model("stepfunctions", "service-2")


def _validation_error(problems: list[str]) -> ApiError:
    count = len(problems)
    return ApiError("ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: "
                    + "; ".join(problems))


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "long": (int,), "float": (int, float),
    "double": (int, float), "timestamp": (int, float), "structure": (dict,), "map": (dict,), "list": (list,),
}


def _check(shapes: dict, shape_name: str, value: Any, where: str, problems: list[str]) -> None:
    """Append AWS-worded problems with `value` against the model shape. Wrong JSON types raise
    SerializationException, as AWS's deserializer does before validation."""
    shape = shapes[shape_name]
    kind = shape["type"]
    if value is None:
        return
    wanted = _JSON_TYPES[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "long") and isinstance(value, bool)) or (
            kind in ("float", "double", "timestamp") and isinstance(value, bool)):
        raise ApiError("SerializationException",
                       f"Unexpected value at '{where or '$'}': expected {kind}, got {type(value).__name__}")
    shown = json.dumps(value)[:100] if not shape.get("sensitive") else "'***'"
    if kind == "structure":
        for member in shape.get("required", []):
            if value.get(member) is None:
                problems.append(f"Value null at '{_join(where, member)}' failed to satisfy constraint: "
                                "Member must not be null")
        for member, spec in shape.get("members", {}).items():
            if member in value:
                _check(shapes, spec["shape"], value[member], _join(where, member), problems)
    elif kind == "list":
        _length(shape, len(value), where, shown, problems)
        for index, item in enumerate(value):
            _check(shapes, shape["member"]["shape"], item, f"{where}.{index + 1}.member", problems)
    elif kind == "map":
        _length(shape, len(value), where, shown, problems)
        for key, item in value.items():
            _check(shapes, shape["key"]["shape"], key, f"{where}.key", problems)
            _check(shapes, shape["value"]["shape"], item, f"{where}.{key}", problems)
    elif kind == "string":
        _length(shape, len(value), where, shown, problems)
        pattern = _pattern(shape.get("pattern"))
        if pattern is not None and not pattern.search(value):
            problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must satisfy "
                            f"regular expression pattern: {shape['pattern']}")
        if "enum" in shape and value not in shape["enum"]:
            problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must satisfy "
                            f"enum value set: [{', '.join(shape['enum'])}]")
    elif kind in ("integer", "long", "float", "double"):
        if "min" in shape and value < shape["min"]:
            problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must have "
                            f"value greater than or equal to {shape['min']}")
        if "max" in shape and value > shape["max"]:
            problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must have "
                            f"value less than or equal to {shape['max']}")


@cache
def _pattern(text: str | None) -> re.Pattern | None:
    """The model's pattern, or None if there is none or Python's re cannot read it (\\p{...})."""
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _length(shape: dict, length: int, where: str, shown: str, problems: list[str]) -> None:
    if "min" in shape and length < shape["min"]:
        problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must have "
                        f"length greater than or equal to {shape['min']}")
    if "max" in shape and length > shape["max"]:
        problems.append(f"Value {shown} at '{where}' failed to satisfy constraint: Member must have "
                        f"length less than or equal to {shape['max']}")


def _join(where: str, member: str) -> str:
    return f"{where}.{member}" if where else member


def checked_input(operation: str, body: Any) -> dict:
    model = service_model()
    if not isinstance(body, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    input_shape = model["operations"][operation].get("input", {}).get("shape")
    if input_shape is None:
        return body
    problems: list[str] = []
    _check(model["shapes"], input_shape, body, "", problems)
    if problems:
        raise _validation_error(problems)
    return body


# -- helpers ---------------------------------------------------------------------------------------
def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _compact(data: dict) -> dict:
    """AWS leaves absent members out rather than sending null."""
    return {key: value for key, value in data.items() if value is not None}


def _page(request: dict) -> tuple[int, int]:
    """(offset, size) from nextToken and maxResults (0 or absent: the default page)."""
    size = request.get("maxResults") or DEFAULT_PAGE
    token = request.get("nextToken")
    if token is None:
        return 0, size
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        if offset < 0:
            raise ValueError(offset)
    except ValueError:
        raise ApiError("InvalidToken", f"Invalid Token: '{token}'") from None
    return offset, size


def _paged(queryset, request: dict, key: str, item: Callable[[Any], dict]) -> dict:
    offset, size = _page(request)
    rows = list(queryset[offset:offset + size + 1])
    result = {key: [item(row) for row in rows[:size]]}
    if len(rows) > size:
        result["nextToken"] = base64.urlsafe_b64encode(f"offset:{offset + size}".encode()).decode()
    return result


def _split(machine_arn: str) -> tuple[str, str | None]:
    """(machine name, version number or alias name) from a state machine ARN, or InvalidArn."""
    prefix = arn("stateMachine", "")
    parts = machine_arn[len(prefix):].split(":") if machine_arn.startswith(prefix) else []
    if not parts or len(parts) > 2 or not all(parts):
        raise ApiError("InvalidArn", f"Invalid Arn: '{machine_arn}'")
    return parts[0], parts[1] if len(parts) == 2 else None


def _machine(machine_arn: str) -> StateMachine:
    """The state machine of an ARN without a version or alias."""
    if _split(machine_arn)[1] is not None:
        raise ApiError("InvalidArn", f"Invalid Arn: '{machine_arn}': a state machine ARN without a "
                       "version or alias is expected here")
    return runtime.get_state_machine(machine_arn)


def _target(machine_arn: str, missing: type[Exception] | None = None):
    """(machine, version, alias) for a machine, version or alias ARN. A version or alias that does
    not exist raises `missing` (ResourceNotFound by default)."""
    name, qualifier = _split(machine_arn)
    machine = runtime.get_state_machine(arn("stateMachine", name))
    if qualifier is None:
        return machine, None, None
    if qualifier.isdigit():
        version = (machine.versions.filter(number=int(qualifier), deleted_at=None)
                   .select_related("revision").first())
        alias = None
    else:
        version, alias = None, machine.aliases.filter(name=qualifier).first()
    if version is None and alias is None:
        if missing is not None:
            raise missing(f"State Machine Does Not Exist: '{machine_arn}'")
        raise ApiError("ResourceNotFound", f"Resource not found: '{machine_arn}'")
    return machine, version, alias


def _version_of(alias: StateMachineAlias) -> StateMachineVersion:
    """The version an execution through this alias runs: one of its routes, chosen by weight."""
    point = random.uniform(0, 100)
    routes = alias.routing
    chosen = routes[-1]["version"]
    for route in routes:
        point -= route["weight"]
        if point < 0:
            chosen = route["version"]
            break
    return alias.machine.versions.select_related("revision").get(number=chosen)


def _execution(execution_arn: str) -> Execution:
    if not any(execution_arn.startswith(arn(kind, "")) for kind in ("execution", "express")):
        raise ApiError("InvalidArn",
                       f"Invalid Arn: 'Resource type not valid in this context: {execution_arn}'")
    return runtime.get_execution(execution_arn)


def _origin(execution: Execution) -> ExecutionOrigin | None:
    try:
        return execution.origin
    except ExecutionOrigin.DoesNotExist:
        return None


def _role_arn(value: str | None) -> str | None:
    if value is not None and not value.startswith("arn:"):
        raise ApiError("InvalidArn", f"Invalid Arn: '{value}'")
    return value


_LOGGING_OFF = {"level": "OFF", "includeExecutionData": False}
_TRACING_OFF = {"enabled": False}


# -- state machines --------------------------------------------------------------------------------
def create_state_machine(request: dict) -> dict:
    tags = request.get("tags") or []
    if len(tags) > MAX_TAGS:
        raise ApiError("TooManyTags", f"Too many tags: a resource has at most {MAX_TAGS}")
    with transaction.atomic():
        machine = runtime.create_state_machine(
            request["name"], request["definition"], request.get("type") or MachineType.STANDARD,
            _role_arn(request["roleArn"]))
        for tag in tags:
            Tag.objects.update_or_create(machine=machine, key=tag.get("key", ""),
                                         defaults={"value": tag.get("value", "")})
        version = _publish(machine, request.get("versionDescription")) if request.get("publish") else None
    return _compact({"stateMachineArn": machine.arn, "creationDate": machine.created,
                     "stateMachineVersionArn": version.arn if version else None})


def describe_state_machine(request: dict) -> dict:
    machine, version, alias = _target(request["stateMachineArn"])
    if alias is not None:
        raise ApiError("InvalidArn", f"Invalid Arn: '{alias.arn}': describe an alias with "
                       "DescribeStateMachineAlias")
    described = {
        "stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE",
        "definition": machine.definition, "roleArn": machine.role_arn, "type": machine.type,
        "creationDate": machine.created, "loggingConfiguration": _LOGGING_OFF,
        "tracingConfiguration": _TRACING_OFF, "revisionId": str(machine.revision),
    }
    if version is not None:
        described.update(stateMachineArn=version.arn, definition=version.revision.definition,
                         creationDate=version.created, revisionId=str(version.revision.number))
        if version.description:
            described["description"] = version.description
    return described


def list_state_machines(request: dict) -> dict:
    return _paged(StateMachine.objects.order_by("name"), request, "stateMachines", lambda machine: {
        "stateMachineArn": machine.arn, "name": machine.name, "type": machine.type,
        "creationDate": machine.created,
    })


def update_state_machine(request: dict) -> dict:
    if not any(request.get(field) is not None for field in
               ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")):
        raise ApiError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                       "LoggingConfiguration, or the TracingConfiguration must be specified")
    machine = _machine(request["stateMachineArn"])
    with transaction.atomic():
        machine = runtime.update_state_machine(machine, request.get("definition"),
                                               _role_arn(request.get("roleArn")))
        version = _publish(machine, request.get("versionDescription")) if request.get("publish") else None
    return _compact({"updateDate": machine.updated, "revisionId": str(machine.revision),
                     "stateMachineVersionArn": version.arn if version else None})


def delete_state_machine(request: dict) -> dict:
    try:
        machine = _machine(request["stateMachineArn"])
    except runtime.StateMachineDoesNotExist:
        return {}  # AWS: deleting a machine that does not exist succeeds
    runtime.delete_state_machine(machine)
    return {}


def describe_state_machine_for_execution(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    machine = execution.machine
    origin = _origin(execution)
    described = {
        "stateMachineArn": origin.version_arn if origin else machine.arn, "name": machine.name,
        "definition": execution.revision.definition,
        "roleArn": machine.role_arn, "updateDate": execution.revision.created,
        "loggingConfiguration": _LOGGING_OFF, "tracingConfiguration": _TRACING_OFF,
        "revisionId": str(execution.revision.number),
    }
    if execution.map_run_id is not None:  # a Map Run's child runs the Map's ItemProcessor
        map_run = execution.map_run
        described.update(stateMachineArn=execution.state_machine_arn, name=f"{machine.name}/{map_run.label}",
                         definition=map_run.definition, mapRunArn=map_run.arn, label=map_run.label)
    return described


def validate_state_machine_definition(request: dict) -> dict:
    from engine import iter_problems

    machine_type = request.get("type") or MachineType.STANDARD
    wanted = {"ERROR"} if (request.get("severity") or "ERROR") == "ERROR" else {"ERROR", "WARNING"}
    limit = request.get("maxResults") or 100
    problems = list(iter_problems(request["definition"], state_machine_type=machine_type))
    shown = [problem for problem in problems if problem.severity in wanted]
    diagnostics = [_compact({"severity": problem.severity, "code": problem.code, "message": problem.message,
                             "location": problem.path}) for problem in shown[:limit]]
    failed = any(problem.severity == "ERROR" for problem in problems)
    return {"result": "FAIL" if failed else "OK", "diagnostics": diagnostics, "truncated": len(shown) > limit}


# -- versions and aliases --------------------------------------------------------------------------
def _publish(machine: StateMachine, description: str | None = None,
             revision_id: str | None = None) -> StateMachineVersion:
    """A version of the machine's current revision. Publishing a revision that the latest version
    already pins returns that version, as on AWS; numbers are never reused."""
    with transaction.atomic():
        machine = StateMachine.objects.select_for_update().get(pk=machine.pk)
        if revision_id is not None and revision_id != str(machine.revision):
            raise ApiError("ConflictException", f"Failed to publish the State Machine version: revisionId "
                           f"'{revision_id}' is not the current revision ('{machine.revision}')")
        revision = machine.current_revision()
        latest = StateMachineVersion.objects.filter(machine=machine).order_by("-number").first()
        if latest is not None and latest.deleted_at is None and latest.revision_id == revision.pk:
            return latest
        return StateMachineVersion.objects.create(
            machine=machine, number=(latest.number + 1) if latest else 1, revision=revision,
            description=description or "")


def publish_state_machine_version(request: dict) -> dict:
    machine = _machine(request["stateMachineArn"])
    version = _publish(machine, request.get("description"), request.get("revisionId"))
    return {"creationDate": version.created, "stateMachineVersionArn": version.arn}


def list_state_machine_versions(request: dict) -> dict:
    machine = _machine(request["stateMachineArn"])
    versions = machine.versions.filter(deleted_at=None).select_related("machine").order_by("-number")
    return _paged(versions, request, "stateMachineVersions", lambda version: {
        "stateMachineVersionArn": version.arn, "creationDate": version.created})


def delete_state_machine_version(request: dict) -> dict:
    version_arn = request["stateMachineVersionArn"]
    name, qualifier = _split(version_arn)
    if qualifier is None or not qualifier.isdigit():
        raise ApiError("ValidationException", f"Invalid State Machine Version Arn: '{version_arn}'")
    version = StateMachineVersion.objects.filter(
        machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
    if version is None:
        return {}  # AWS: deleting a version that does not exist succeeds
    referring = [alias.arn for alias in version.machine.aliases.all()
                 if any(route["version"] == version.number for route in alias.routing)]
    if referring:
        raise ApiError("ConflictException", "Version to be deleted must not be referenced by an alias. "
                       f"Current list of aliases referencing this version: {referring}")
    version.deleted_at = runtime._datetime(runtime.now())
    version.save(update_fields=["deleted_at"])
    return {}


def _routing(machine: StateMachine | None, routes: list[dict]) -> tuple[StateMachine, list[dict]]:
    """Check a routing configuration: one or two versions of one machine, weights adding up to 100."""
    checked = []
    for route in routes:
        version_arn = route["stateMachineVersionArn"]
        name, qualifier = _split(version_arn)
        if qualifier is None or not qualifier.isdigit():
            raise ApiError("ValidationException", f"Invalid State Machine Version Arn: '{version_arn}'")
        if machine is not None and name != machine.name:
            raise ApiError("ValidationException", "Routing configuration must contain state machine "
                           "versions of the same state machine")
        version = StateMachineVersion.objects.filter(
            machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
        if version is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{version_arn}'")
        machine = version.machine
        checked.append({"version": version.number, "weight": route["weight"]})
    if len({route["version"] for route in checked}) != len(checked):
        raise ApiError("ValidationException", "Routing configuration must contain distinct state machine "
                       "versions")
    if sum(route["weight"] for route in checked) != 100:
        raise ApiError("ValidationException", "Sum of routing configuration weights must be equal to 100")
    return machine, checked


def _alias(alias_arn: str) -> StateMachineAlias:
    name, qualifier = _split(alias_arn)
    if qualifier is None or qualifier.isdigit():
        raise ApiError("InvalidArn", f"Invalid Arn: '{alias_arn}': not a state machine alias ARN")
    alias = (StateMachineAlias.objects.filter(machine__name=name, name=qualifier)
             .select_related("machine").first())
    if alias is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{alias_arn}'")
    return alias


def _routes_out(alias: StateMachineAlias) -> list[dict]:
    return [{"stateMachineVersionArn": f"{alias.machine.arn}:{route['version']}", "weight": route["weight"]}
            for route in alias.routing]


def create_state_machine_alias(request: dict) -> dict:
    machine, routing = _routing(None, request["routingConfiguration"])
    try:
        with transaction.atomic():
            alias = StateMachineAlias.objects.create(machine=machine, name=request["name"], routing=routing,
                                                     description=request.get("description") or "")
    except IntegrityError:
        existing = machine.aliases.get(name=request["name"])
        if existing.routing == routing and existing.description == (request.get("description") or ""):
            alias = existing  # AWS: creating the same alias again is idempotent
        else:
            raise ApiError("ConflictException", f"Alias already exists: '{existing.arn}'") from None
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.created}


def describe_state_machine_alias(request: dict) -> dict:
    alias = _alias(request["stateMachineAliasArn"])
    return _compact({
        "stateMachineAliasArn": alias.arn, "name": alias.name, "description": alias.description or None,
        "routingConfiguration": _routes_out(alias), "creationDate": alias.created,
        "updateDate": alias.updated,
    })


def update_state_machine_alias(request: dict) -> dict:
    alias = _alias(request["stateMachineAliasArn"])
    if request.get("description") is None and request.get("routingConfiguration") is None:
        raise ApiError("ValidationException", "Either the description or the routing configuration "
                       "must be specified")
    if request.get("routingConfiguration") is not None:
        _, alias.routing = _routing(alias.machine, request["routingConfiguration"])
    if request.get("description") is not None:
        alias.description = request["description"]
    alias.save()
    return {"updateDate": alias.updated}


def delete_state_machine_alias(request: dict) -> dict:
    _alias(request["stateMachineAliasArn"]).delete()
    return {}


def list_state_machine_aliases(request: dict) -> dict:
    machine = _machine(request["stateMachineArn"])
    aliases = machine.aliases.select_related("machine").order_by("name")
    return _paged(aliases, request, "stateMachineAliases", lambda alias: {
        "stateMachineAliasArn": alias.arn, "creationDate": alias.created})


# -- executions ------------------------------------------------------------------------------------
def _start_target(request: dict):
    """(machine, version, alias) an execution starts with; an alias picks one of its versions."""
    machine, version, alias = _target(request["stateMachineArn"], runtime.StateMachineDoesNotExist)
    if alias is not None:
        version = _version_of(alias)
    return machine, version, alias


def _record_origin(execution: Execution, version, alias) -> None:
    if version is not None:
        ExecutionOrigin.objects.get_or_create(execution=execution, defaults={
            "version_arn": version.arn, "alias_arn": alias.arn if alias else ""})


def start_execution(request: dict) -> dict:
    machine, version, alias = _start_target(request)
    if version is None:  # nothing to record beside it: the runtime's own transaction is short
        execution = runtime.start_execution(machine, request.get("input"), request.get("name"))
    else:
        with transaction.atomic():
            execution = runtime.start_execution(machine, request.get("input"), request.get("name"),
                                                revision=version.revision)
            _record_origin(execution, version, alias)
    return {"executionArn": execution.arn, "startDate": execution.start_date}


def start_sync_execution(request: dict) -> dict:
    machine, version, alias = _start_target(request)
    execution = runtime.start_sync_express(machine, request.get("input"), request.get("name"),
                                           revision=version.revision if version else None)
    _record_origin(execution, version, alias)
    duration_ms = (execution.stop_date - execution.start_date).total_seconds() * 1000
    return _compact({
        "executionArn": execution.arn, "stateMachineArn": request["stateMachineArn"], "name": execution.name,
        "startDate": execution.start_date, "stopDate": execution.stop_date, "status": execution.status,
        "error": execution.error, "cause": execution.cause,
        "input": execution.input, "inputDetails": {"included": True},
        "output": execution.output,
        "outputDetails": {"included": True} if execution.output is not None else None,
        "traceHeader": request.get("traceHeader"),
        # AWS bills in 100 ms steps with at least 64 MB of memory.
        "billingDetails": {"billedMemoryUsedInMB": 64,
                           "billedDurationInMilliseconds": max(100, math.ceil(duration_ms / 100) * 100)},
    })


def _redrive_status(execution: Execution) -> tuple[str, str | None]:
    reason = runtime.redrive_problem(execution)
    return ("NOT_REDRIVABLE", reason) if reason else ("REDRIVABLE", None)


def _origin_fields(execution: Execution) -> dict:
    origin = _origin(execution)
    if origin is None:
        return {}
    return _compact({"stateMachineVersionArn": origin.version_arn,
                     "stateMachineAliasArn": origin.alias_arn or None})


def describe_execution(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    data = execution.to_dict()
    status, reason = _redrive_status(execution)
    data["redriveStatus"] = status
    if reason:
        data["redriveStatusReason"] = reason
    data.update(_origin_fields(execution))
    return data


def _execution_item(execution: Execution) -> dict:
    return _compact({
        "executionArn": execution.arn, "stateMachineArn": execution.state_machine_arn, "name": execution.name,
        "status": execution.status, "startDate": execution.start_date, "stopDate": execution.stop_date,
        "redriveCount": execution.redrive_count, "redriveDate": execution.redrive_date,
        **_origin_fields(execution),
        "mapRunArn": execution.map_run.arn if execution.map_run_id else None,
        "itemCount": 1 if execution.map_run_id else None,
    })


def list_executions(request: dict) -> dict:
    if request.get("mapRunArn") and request.get("stateMachineArn"):
        raise ApiError("ValidationException", "Must provide only one of StateMachine ARN or MapRun ARN")
    if request.get("mapRunArn"):
        return _list_map_run_executions(request)
    if not request.get("stateMachineArn"):
        raise ApiError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
    machine, version, alias = _target(request["stateMachineArn"])
    if machine.type == MachineType.EXPRESS:
        raise runtime.StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine")
    executions = (Execution.objects.filter(machine=machine, parent=None)
                  .select_related("machine", "origin"))
    if alias is not None:
        executions = executions.filter(origin__alias_arn=alias.arn)
    elif version is not None:
        executions = executions.filter(origin__version_arn=version.arn)
    if request.get("statusFilter"):
        executions = executions.filter(status=request["statusFilter"])
    if request.get("redriveFilter") == "REDRIVEN":
        executions = executions.filter(redrive_count__gt=0)
    elif request.get("redriveFilter") == "NOT_REDRIVEN":
        executions = executions.filter(redrive_count=0)
    return _paged(executions.order_by("-start_date", "-id"), request, "executions", _execution_item)


def _list_map_run_executions(request: dict) -> dict:
    """ListExecutions of a Map Run: its child executions."""
    map_run = _map_run(request["mapRunArn"])
    executions = (Execution.objects.filter(map_run=map_run)
                  .select_related("machine", "map_run", "origin"))
    if request.get("statusFilter"):
        executions = executions.filter(status=request["statusFilter"])
    if request.get("redriveFilter") == "REDRIVEN":
        executions = executions.filter(redrive_count__gt=0)
    elif request.get("redriveFilter") == "NOT_REDRIVEN":
        executions = executions.filter(redrive_count=0)
    return _paged(executions.order_by("-start_date", "-id"), request, "executions", _execution_item)


def get_execution_history(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    if execution.type == MachineType.EXPRESS:
        raise ApiError("InvalidArn", f"Invalid Arn: '{execution.arn}': Express executions keep no history "
                       "(GetExecutionHistory is not supported by EXPRESS state machines)")
    include_data = request.get("includeExecutionData", True)
    order = "-seq" if request.get("reverseOrder") else "seq"
    events = HistoryEvent.objects.filter(execution=execution).order_by(order)

    def item(event: HistoryEvent) -> dict:
        data = event.to_aws()
        if not include_data:
            for key, details in data.items():
                if key.endswith("EventDetails") and isinstance(details, dict):
                    for field in ("input", "output", "parameters"):
                        details.pop(field, None)
        return data

    return _paged(events, request, "events", item)


def stop_execution(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    execution = runtime.stop_execution(execution, request.get("error"), request.get("cause"))
    return {"stopDate": execution.stop_date}


def redrive_execution(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    execution = runtime.redrive_execution(execution)
    return {"redriveDate": execution.redrive_date}


# -- Map Runs (a DISTRIBUTED Map's child executions) ------------------------------------------------
def _map_run(map_run_arn: str) -> MapRun:
    if not map_run_arn.startswith(arn("mapRun", "")):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {map_run_arn}'")
    try:
        return runtime.get_map_run(map_run_arn)
    except runtime.ResourceNotFound as error:
        raise ApiError("ResourceNotFound", error.message) from None


def describe_map_run(request: dict) -> dict:
    return _map_run(request["mapRunArn"]).to_dict()


def list_map_runs(request: dict) -> dict:
    execution = _execution(request["executionArn"])
    map_runs = (MapRun.objects.filter(execution=execution).select_related("execution__machine")
                .order_by("-start_date", "-id"))
    return _paged(map_runs, request, "mapRuns", lambda map_run: _compact({
        "executionArn": execution.arn, "mapRunArn": map_run.arn,
        "stateMachineArn": map_run.state_machine_arn, "startDate": map_run.start_date,
        "stopDate": map_run.stop_date}))


def update_map_run(request: dict) -> dict:
    changes = {field: request.get(field) for field in
               ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")}
    if all(value is None for value in changes.values()):
        raise ApiError("ValidationException", "At least one of the parameters maxConcurrency, "
                       "toleratedFailureCount or toleratedFailurePercentage must be specified")
    map_run = _map_run(request["mapRunArn"])
    runtime.update_map_run(map_run, changes["maxConcurrency"], changes["toleratedFailureCount"],
                           changes["toleratedFailurePercentage"])
    return {}


# -- tags ------------------------------------------------------------------------------------------
def _tagged(resource_arn: str) -> StateMachine:
    try:
        return _machine(resource_arn)
    except runtime.StateMachineDoesNotExist:
        raise ApiError("ResourceNotFound", f"Resource not found: '{resource_arn}'") from None


def tag_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    new_keys = {tag.get("key") for tag in request["tags"]}
    existing = set(machine.tags.values_list("key", flat=True))
    if len(existing | new_keys) > MAX_TAGS:
        raise ApiError("TooManyTags", f"Too many tags: a resource has at most {MAX_TAGS}")
    for tag in request["tags"]:
        Tag.objects.update_or_create(machine=machine, key=tag.get("key", ""),
                                     defaults={"value": tag.get("value", "")})
    return {}


def untag_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    machine.tags.filter(key__in=request["tagKeys"]).delete()
    return {}


def list_tags_for_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    return {"tags": [{"key": tag.key, "value": tag.value} for tag in machine.tags.all()]}


# -- TestState -------------------------------------------------------------------------------------
def test_state(request: dict) -> dict:
    from designer.teststate import test_state as run_test_state

    return run_test_state(request)


# -- operations Stepwise does not honour yet -------------------------------------------------------
def _not_yet(what: str) -> ApiError:
    return ApiError("UnsupportedOperation", f"{what} is not supported by Stepwise yet.")


NOT_YET = {
    "CreateActivity": "activities (a later Stepwise issue: activities and task tokens)",
    "DeleteActivity": "activities (a later Stepwise issue: activities and task tokens)",
    "DescribeActivity": "activities (a later Stepwise issue: activities and task tokens)",
    "ListActivities": "activities (a later Stepwise issue: activities and task tokens)",
    "GetActivityTask": "activities (a later Stepwise issue: activities and task tokens)",
    "SendTaskSuccess": "task tokens (a later Stepwise issue: activities and task tokens)",
    "SendTaskFailure": "task tokens (a later Stepwise issue: activities and task tokens)",
    "SendTaskHeartbeat": "task tokens (a later Stepwise issue: activities and task tokens)",
}

HANDLERS: dict[str, Callable[[dict], dict]] = {
    "CreateStateMachine": create_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "ListStateMachines": list_state_machines,
    "UpdateStateMachine": update_state_machine,
    "DeleteStateMachine": delete_state_machine,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "ValidateStateMachineDefinition": validate_state_machine_definition,
    "PublishStateMachineVersion": publish_state_machine_version,
    "ListStateMachineVersions": list_state_machine_versions,
    "DeleteStateMachineVersion": delete_state_machine_version,
    "CreateStateMachineAlias": create_state_machine_alias,
    "DescribeStateMachineAlias": describe_state_machine_alias,
    "UpdateStateMachineAlias": update_state_machine_alias,
    "DeleteStateMachineAlias": delete_state_machine_alias,
    "ListStateMachineAliases": list_state_machine_aliases,
    "StartExecution": start_execution,
    "StartSyncExecution": start_sync_execution,
    "DescribeExecution": describe_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "StopExecution": stop_execution,
    "RedriveExecution": redrive_execution,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "TestState": test_state,
    "DescribeMapRun": describe_map_run,
    "ListMapRuns": list_map_runs,
    "UpdateMapRun": update_map_run,
}


# -- the endpoint ----------------------------------------------------------------------------------
def _respond(data: dict, status: int = 200) -> HttpResponse:
    body = json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body, status=status, content_type=CONTENT_TYPE)


def _error(error: ApiError) -> HttpResponse:
    return _respond({"__type": error.code, "message": error.message}, error.status)


def handle(request: HttpRequest) -> HttpResponse:
    """One API call: authenticate, parse, check, run the operation's handler, answer."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        return _error(ApiError("ValidationException", f"Request size {length} bytes exceeds the limit of "
                               f"{MAX_REQUEST_BYTES} bytes"))
    body = request.body
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        sigv4.verify(request.method, request.path, request.META.get("QUERY_STRING", ""), headers, body)
    except sigv4.AuthError as error:
        return _error(ApiError(error.code, error.message))
    target = headers.get("x-amz-target", "")
    operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
    if operation is None or operation not in service_model()["operations"]:
        return _error(ApiError("UnknownOperationException", f"Unknown operation: '{target}'"))
    try:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as error:
            raise ApiError("SerializationException", f"The request body is not valid JSON: {error}") from None
        handler = HANDLERS.get(operation)
        if handler is None:
            raise _not_yet(f"{operation} ({NOT_YET.get(operation, 'this operation')})")
        return _respond(handler(checked_input(operation, payload)))
    except ApiError as error:
        return _error(error)
    except runtime.StepwiseError as error:
        return _error(ApiError(error.code, error.message))
    except Exception:
        log.exception("API %s failed", operation)
        return _error(ApiError("InternalFailure", "The request processing has failed because of an "
                               "unknown error, exception or failure.", status=500))


def is_api_request(request: HttpRequest) -> bool:
    return request.method == "POST"


@csrf_exempt
@login_not_required
def root(request: HttpRequest) -> HttpResponse:
    """`/`: the API for POSTs (authenticated by signature only), the dashboard for browsers.

    Under ASGI each request's sync code runs in a thread of its own (Django's ThreadSensitiveContext),
    so a StartSyncExecution that runs for minutes holds up neither other calls nor the pages."""
    if is_api_request(request):
        return handle(request)
    from designer.views import dashboard

    return login_required(dashboard)(request)
