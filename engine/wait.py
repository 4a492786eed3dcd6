"""When a Wait state ends: Seconds, SecondsPath, Timestamp, TimestampPath, or a JSONata expression.

The time is computed from the moment the state was entered, with AWS's errors for values that are
missing, negative, fractional or not an ISO-8601 timestamp with an offset.
"""

from __future__ import annotations

from engine.choice import parse_timestamp
from engine.errors import QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from engine.jsonata import jsonata_binding
from engine.jsontext import shown_text
from engine.paths import PathNotFound


def _seconds_from_path(path, frame, effective) -> float:
    try:
        value = path.get(effective, frame)
    except PathNotFound:
        raise StatesError(RUNTIME, "The SecondsPath parameter does not reference an input value: "
                                   f"{path.text}") from None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise StatesError(RUNTIME, "The SecondsPath parameter cannot be parsed as a long value: "
                                   f"{path.text} == {shown_text(value)}")
    if value < 0:
        raise StatesError(RUNTIME, "The SecondsPath parameter references a negative value: "
                                   f"{path.text} == {value}")
    return value


def _timestamp_from_path(path, frame, effective) -> float:
    try:
        value = path.get(effective, frame)
    except PathNotFound:
        raise StatesError(RUNTIME, "The TimestampPath parameter does not reference an input value: "
                                   f"{path.text}") from None
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise StatesError(RUNTIME, "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                                   f"offset date-time format string: {path.text} == {shown_text(value)}")
    return parsed[0] + parsed[1] / 1e9


def _seconds_from_expression(evaluate, frame) -> float:
    value = evaluate(jsonata_binding(frame), frame)
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 0:
        raise StatesError(QUERY_EVALUATION_ERROR,
                          f"The Seconds field must be a non-negative integer, but was: {shown_text(value)}")
    return value


def _timestamp_from_expression(evaluate, frame) -> float:
    value = evaluate(jsonata_binding(frame), frame)
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise StatesError(QUERY_EVALUATION_ERROR, "The Timestamp field cannot be parsed as an ISO-8601 "
                                                  "extended offset date-time format string: "
                                                  f"{shown_text(value)}")
    return parsed[0] + parsed[1] / 1e9


def wait_until(state, frame, effective) -> float:
    key, kind, source = state.wait
    if key == "Seconds":
        if kind == "value":
            return frame.entered_time + source
        if kind == "path":
            return frame.entered_time + _seconds_from_path(source, frame, effective)
        return frame.entered_time + _seconds_from_expression(source, frame)
    if kind == "value":
        parsed = parse_timestamp(source)
        return parsed[0] + parsed[1] / 1e9
    if kind == "path":
        return _timestamp_from_path(source, frame, effective)
    return _timestamp_from_expression(source, frame)
