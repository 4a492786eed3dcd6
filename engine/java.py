"""AWS runs Java: how its service writes numbers and JSON, compares JSON values and draws random numbers.

The `States.*` intrinsics (intrinsics.py) show values as Java does: `1.0E20`, not `1e+20`; States.Format
prints a Map as `{Arg1=1}`; States.ArrayContains and ArrayUnique compare as Jackson does; a seeded
States.MathRandom draws from java.util.Random.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any


def java_number_text(number: int | float) -> str:
    """A number as Java's Long/Double.toString writes it: `1`, `1.0`, `1.5E-5`, `1.0E20`."""
    if isinstance(number, int):
        return str(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    # repr() gives the shortest digits that round-trip, as Java's Double.toString does.
    _, digit_tuple, exponent = Decimal(repr(magnitude)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exponent += len(digit_tuple) - len(digits)
    point = len(digits) + exponent  # digits before the decimal point
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}.0"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _escape_char(match: re.Match) -> str:
    char = match.group()
    return _JSON_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _json_string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, text) + '"'


def java_json_text(value: Any) -> str:
    """Compact JSON as Jackson writes it: non-ASCII kept, Java number text (`1.0E20`, not `1e+20`)."""
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return java_number_text(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_string(k)}:{java_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(java_json_text(v) for v in value) + "]"
    raise TypeError(f"Not a JSON value: {type(value).__name__}")


def java_text(value: Any) -> str:
    """A value as States.Format prints it: Java's Map/List toString, strings without quotes.

    `{"Arg1": 1, "Arg2": []}` prints as `{Arg1=1, Arg2=[]}`.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return java_number_text(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(java_text(v) for v in value) + "]"


def jackson_identity(value: Any) -> Any:
    """A hashable stand-in with Jackson's equality: 1 and 1.0 differ, true is not 1, key order is free."""
    if isinstance(value, dict):
        return ("object", frozenset((k, jackson_identity(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(jackson_identity(v) for v in value))
    return (type(value).__name__, value)


class JavaRandom:
    """java.util.Random's 48-bit linear congruential generator, enough for nextInt(bound)."""

    MULTIPLIER, ADDEND, MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1

    def __init__(self, seed: int):
        self.seed = (seed ^ self.MULTIPLIER) & self.MASK

    def _next(self, bits: int) -> int:
        self.seed = (self.seed * self.MULTIPLIER + self.ADDEND) & self.MASK
        return self.seed >> (48 - bits)

    def next_int(self, bound: int) -> int:
        r = self._next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            if u - r + m < 1 << 31:  # Java's int overflow check: u - r + m must stay positive
                return r
            u = self._next(31)
