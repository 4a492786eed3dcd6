"""What the API's requests and answers are made of: the error a client gets, botocore's model that every
request is checked against, pages, ARNs and the lookups the operations share (designer/api.py and
designer/api_versions.py).
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from designer import runtime
from designer.models import (
    Execution,
    ExecutionOrigin,
    StateMachine,
    StateMachineAlias,
    StateMachineVersion,
    arn,
)

DEFAULT_PAGE = 100


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
def to_epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def without_nulls(data: dict) -> dict:
    """AWS leaves absent members out rather than sending null."""
    return {key: value for key, value in data.items() if value is not None}


def page_bounds(request: dict) -> tuple[int, int]:
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


def paged(queryset, request: dict, key: str, item: Callable[[Any], dict]) -> dict:
    offset, size = page_bounds(request)
    rows = list(queryset[offset:offset + size + 1])
    result = {key: [item(row) for row in rows[:size]]}
    if len(rows) > size:
        result["nextToken"] = base64.urlsafe_b64encode(f"offset:{offset + size}".encode()).decode()
    return result


def unqualified_machine(machine_arn: str) -> StateMachine:
    """The state machine of an ARN without a version or alias."""
    if runtime.split_machine_arn(machine_arn)[1] is not None:
        raise ApiError("InvalidArn", f"Invalid Arn: '{machine_arn}': a state machine ARN without a "
                       "version or alias is expected here")
    return runtime.get_state_machine(machine_arn)


def resolve_target(machine_arn: str, missing: type[Exception] | None = None):
    """(machine, version, alias) for a machine, version or alias ARN. A version or alias that does
    not exist raises `missing` (ResourceNotFound by default)."""
    name, qualifier = runtime.split_machine_arn(machine_arn)
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


def routed_version(alias: StateMachineAlias) -> StateMachineVersion:
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


def execution_by_arn(execution_arn: str) -> Execution:
    if not any(execution_arn.startswith(arn(kind, "")) for kind in ("execution", "express")):
        raise ApiError("InvalidArn",
                       f"Invalid Arn: 'Resource type not valid in this context: {execution_arn}'")
    return runtime.get_execution(execution_arn)


def origin_of(execution: Execution) -> ExecutionOrigin | None:
    try:
        return execution.origin
    except ExecutionOrigin.DoesNotExist:
        return None


def checked_role_arn(value: str | None) -> str | None:
    if value is not None and not value.startswith("arn:"):
        raise ApiError("InvalidArn", f"Invalid Arn: '{value}'")
    return value


LOGGING_OFF = {"level": "OFF", "includeExecutionData": False}
TRACING_OFF = {"enabled": False}
