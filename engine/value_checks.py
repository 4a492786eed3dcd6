"""The validator's value checks: each is a `Check`, a function of (walk, value, location) yielding
Problems — strings, numbers, timestamps, JSONPath fields (reference paths, intrinsics), payload templates,
Assign, arrays of checks. validate.py's field tables name them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from engine import choice
from engine.errors import ALL
from engine.intrinsics import InvalidIntrinsic, compile_intrinsic
from engine.jsonata_checks import expression_problems
from engine.paths import CONTEXT, INPUT, VARIABLE, InvalidPath, compile_path
from engine.problems import (
    JSONATA,
    JSONPATH,
    MAX_VARIABLE_NAME_LENGTH,
    NO_DOLLAR,
    WARNING,
    Check,
    Problem,
    Walk,
    child_path,
    is_expression,
    is_integer,
    is_number,
    item_path,
    schema_problem,
    type_problem,
)

# --- value checks: each returns a Check ------------------------------------------------------------


def any_value(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    return iter(())


def string(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if walk.is_expression(value):
        yield from expression_problems(walk, value, path)
    elif not isinstance(value, str):
        yield type_problem(path, "STRING")


def boolean(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if type(value) is not bool:
        yield type_problem(path, "BOOLEAN")


def integer(minimum: int, maximum: int | None = None) -> Check:
    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from expression_problems(walk, value, path)
        elif not is_integer(value):
            yield type_problem(path, "INTEGER")
        elif value < minimum:
            yield schema_problem(path, f"Minimum value is {minimum}")
        elif maximum is not None and value > maximum:
            yield schema_problem(path, f"Maximum value is {maximum}")

    return check


def number(minimum: float, maximum: float | None = None) -> Check:
    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from expression_problems(walk, value, path)
        elif not is_number(value):
            yield type_problem(path, "NUMBER")
        elif value < minimum:
            yield schema_problem(path, f"Minimum value is {float(minimum)}")
        elif maximum is not None and value > maximum:
            yield schema_problem(path, f"Maximum value is {float(maximum)}")

    return check


def enum(*allowed: str) -> Check:
    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if value not in allowed:
            yield schema_problem(path, f"Value is not one of the allowed values: [{', '.join(allowed)}]")

    return check


def timestamp(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if walk.is_expression(value):
        yield from expression_problems(walk, value, path)
    elif not isinstance(value, str):
        yield type_problem(path, "STRING")
    elif not choice.is_timestamp(value):
        yield schema_problem(path, "String does not match RFC3339 timestamp")


ANY_ROOT = frozenset({INPUT, CONTEXT, VARIABLE})
INPUT_ONLY = frozenset({INPUT})
NOT_CONTEXT = frozenset({INPUT, VARIABLE})


def _compile(text: Any):
    try:
        return compile_path(text)
    except (InvalidPath, TypeError):
        return None


def path_check(*, nullable: bool = False, reference: bool = False, roots: frozenset = ANY_ROOT,
               intrinsic: bool = False) -> Check:
    """A JSONPath-valued field. A `reference` path selects one node by keys and indexes only; `roots`
    says which of the input (`$`), the context object (`$$`) and variables (`$name`) it may start from."""

    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            yield type_problem(path, "STRING")
            return
        if intrinsic and _is_intrinsic_call(value):
            yield from _intrinsic(value, path)
            return
        compiled = _compile(value)
        if compiled is None:
            name = path.rsplit("/", 1)[-1]
            suffix = " or a valid intrinsic function call" if intrinsic else ""
            yield schema_problem(path, f"The value for the field '{name}' must be a valid JSONPath{suffix}")
        elif reference and (compiled.indefinite or compiled.root not in roots):
            yield schema_problem(path, "Value is not a Reference Path")

    return check


# A Fail state's ErrorPath/CausePath must come out as a string: AWS's Fail state page lists the
# intrinsics allowed there, and the field is otherwise a reference path.
FAIL_PATH_INTRINSICS = frozenset({"States.Format", "States.JsonToString", "States.ArrayGetItem",
                                  "States.Base64Encode", "States.Base64Decode", "States.Hash", "States.UUID"})


def fail_path_check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if isinstance(value, str) and _is_intrinsic_call(value):
        problems = list(_intrinsic(value, path))
        if not problems and value.split("(", 1)[0].strip() not in FAIL_PATH_INTRINSICS:
            name = path.rsplit("/", 1)[-1]
            yield schema_problem(path, f"The value for the field '{name}' must be a valid JSONPath or a "
                                       "valid intrinsic function call")
            return
    yield from _FAIL_REFERENCE(walk, value, path)


def _is_intrinsic_call(text: str) -> bool:
    return text.startswith("States.")


def _intrinsic(text: str, path: str) -> Iterator[Problem]:
    try:
        compile_intrinsic(text)
    except InvalidIntrinsic as exc:
        yield schema_problem(path, str(exc))


PAYLOAD_REFERENCE = path_check(intrinsic=True)
_FAIL_REFERENCE = path_check(intrinsic=True, reference=True)


def jsonpath_template(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    """Parameters, ResultSelector, ItemSelector, ...: keys ending in `.$` hold a path or an intrinsic."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = child_path(path, key)
            if key.endswith(".$"):
                yield from PAYLOAD_REFERENCE(walk, item, where)
            elif isinstance(item, str) and (item.startswith("$.") or _is_intrinsic_call(item)):
                yield Problem(where, NO_DOLLAR, f"The value of field '{key}' looks like a JSONPath or an "
                              "intrinsic function, but the field name does not end with '.$'", WARNING)
            else:
                yield from jsonpath_template(walk, item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from jsonpath_template(walk, item, item_path(path, index))


def jsonata_value(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    """Arguments, Output, Items, ...: any JSON, in which every `{% %}` string must parse."""
    if is_expression(value):
        yield from expression_problems(walk, value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from jsonata_value(walk, item, child_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from jsonata_value(walk, item, item_path(path, index))


def template(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    """A field both languages share (ItemSelector): its values follow the state's language."""
    check = jsonata_value if walk.language == JSONATA else jsonpath_template
    yield from check(walk, value, path)


_VARIABLE_NAME = re.compile(r"[^\W\d]\w*")
_RESERVED_VARIABLES = frozenset({"states"})


def assign(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield type_problem(path, "OBJECT")
        return
    for key in value:
        name = key[:-2] if walk.language == JSONPATH and key.endswith(".$") else key
        if not _VARIABLE_NAME.fullmatch(name) or len(name) > MAX_VARIABLE_NAME_LENGTH:
            yield schema_problem(child_path(path, key), f"The variable name '{name}' is not valid")
        elif name in _RESERVED_VARIABLES:
            yield schema_problem(child_path(path, key), f"The variable name '{name}' is reserved")
    yield from template(walk, value, path)


def jsonata_or(check: Check) -> Check:
    """A field that takes an expression in JSONata states, and `check`'s kind of literal otherwise."""

    def either(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from expression_problems(walk, value, path)
        else:
            yield from check(walk, value, path)

    return either


def array_of(item_check: Check, *, non_empty: bool = True) -> Check:
    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield type_problem(path, "ARRAY")
            return
        if non_empty and not value:
            yield schema_problem(path, "Array must contain at least 1 item")
        for index, item in enumerate(value):
            yield from item_check(walk, item, item_path(path, index))

    return check


def error_names(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    yield from array_of(string)(walk, value, path)
    if isinstance(value, list) and ALL in value and len(value) > 1:
        yield schema_problem(path, f"'{ALL}' must appear alone in ErrorEquals")


