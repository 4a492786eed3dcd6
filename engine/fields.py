"""Number fields that ASL lets a state give three ways: literally, by a `…Path`, or as a JSONata
expression — TimeoutSeconds, HeartbeatSeconds, MaxConcurrency, ToleratedFailureCount/Percentage.

`compile.number_field` compiles such a field into a number, `("path", Path, field name)` or
`("jsonata", evaluator, field name)`; `resolve_number` turns that into a number at run time, with
AWS's errors.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import ITEM_READER_FAILED, QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from engine.jsonata import jsonata_binding
from engine.jsontext import shown_text
from engine.paths import PathNotFound


def lenient_number(value: Any, integer: bool) -> int | float | None:
    """AWS reads a `…Path` value leniently: 3, 3.0 and "3" are all the integer 3."""
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            return None
    if type(value) is float and integer and value.is_integer():
        return int(value)
    if integer:
        return value if type(value) is int else None
    return value if type(value) in (int, float) else None


def resolve_number(spec: Any, frame: Any, value: Any, *, integer: bool = True, positive: bool = False) -> Any:
    """The field's number for this run; `value` is what a `…Path` reads from."""
    if not isinstance(spec, tuple):
        return spec
    kind, source, field = spec
    if kind == "path":
        try:
            raw = source.get(value, frame)
        except PathNotFound:
            raise StatesError(RUNTIME, f"Invalid path '{source.text}' : No results for path: "
                                       f"{source.normalized}") from None
        number = lenient_number(raw, integer)
        if number is None:
            raise StatesError(RUNTIME, f"The {field} field refers to value \"{shown_text(raw)}\" which is "
                                       f"not a valid {'integer' if integer else 'float'}: {source.text}")
        return number
    number = source(jsonata_binding(frame), frame)
    if type(number) is float and integer and number.is_integer():
        number = int(number)
    valid = type(number) is int if integer else type(number) in (int, float)
    if positive and (not valid or number <= 0):
        raise StatesError(QUERY_EVALUATION_ERROR, f"The {field} field must evaluate to a positive integer, "
                                                  f"but was: {json.dumps(number, ensure_ascii=False)}")
    if not valid:
        raise StatesError(QUERY_EVALUATION_ERROR,
                          f"The {field} field must evaluate to {'an integer' if integer else 'a number'}")
    return number


# A Map's limits given by a `…Path` or a JSONata expression are checked once resolved, as AWS checks
# them (the literal forms are checked by the validator): what each accepts, the error, the cause.
MAP_LIMITS = {
    "MaxConcurrency": (lambda n: n >= 0, RUNTIME,
                       "Expected non-negative integer for MaxConcurrency, got '{}' instead."),
    "ToleratedFailureCount": (lambda n: n >= 0, RUNTIME, "ToleratedFailureCount cannot be negative."),
    "ToleratedFailurePercentage": (lambda n: 0 <= n <= 100, RUNTIME,
                                   "ToleratedFailurePercentage must be between 0 and 100."),
    "MaxItemsPerBatch": (lambda n: n >= 0, RUNTIME, "field MaxItemsPerBatch must be positive"),
    "MaxInputBytesPerBatch": (lambda n: n >= 0, RUNTIME, "field MaxInputBytesPerBatch must be positive"),
    "MaxItems": (lambda n: n >= 0, ITEM_READER_FAILED, "field MaxItems must be positive"),
}


def resolve_map_limit(spec: Any, frame: Any, value: Any, field: str, *, integer: bool = True) -> Any:
    """A Map limit for this run (None when not given), failing as AWS does when it is out of range."""
    number = resolve_number(spec, frame, value, integer=integer)
    if number is None or not isinstance(spec, tuple):
        return number
    accepts, error, cause = MAP_LIMITS[field]
    if not accepts(number):
        raise StatesError(error, cause.format(shown_text(number)))
    return number
