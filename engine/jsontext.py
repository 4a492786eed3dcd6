"""JSON text read and written strictly, as AWS (Jackson) reads it: the one reader for every definition,
execution input, API body and TestState field, so that nothing the engine, the database or a page
cannot handle gets in.

Python's json is laxer than Jackson in three ways, each of which used to end in an execution stuck
RUNNING or an HTTP 500 much later, far from the text that caused it:
- `NaN`, `Infinity` and `-Infinity` are not JSON; nor is a number out of the double range (`1e400`,
  which Python reads as inf): Python writes inf back as `Infinity`, which no database accepts as JSON.
  Integers past the double range are refused too: JSONata, the intrinsics and Choice treat every
  number as a double, and `float()` of such an integer raises OverflowError.
- A lone surrogate (`"\\ud800"`) is read into a str that cannot be encoded as UTF-8: the database
  and the response writer fail on it.
- Nesting is unlimited, and the C parser only stops at about 10,000 levels with RecursionError.

Imports nothing from engine/, so the validator, the runtime and designer/ can all use it.

It is also the one way the engine writes JSON as text (payloads, history, error messages: `json_text`,
`shown_text`) and names JSON types as AWS's messages do (`json_type`). States.* intrinsics that print
JSON the way Java's Jackson does (`1.0E20`, not `1e+20`) have their own writer, `java.java_json_text`.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any

# How deep objects and arrays may nest. Jackson's default (StreamReadConstraints) is 1,000, but every
# later step here walks a document recursively in Python, whose default recursion limit is 1,000
# frames: the validator and the compiler take up to 2 frames a level (a Parameters template failed
# to compile at ~490 levels from an empty stack), and a request or a worker task already stands ~150
# frames deep. 250 levels leave room for both with a margin, and a Parallel or a Map nested in a
# state nested in a branch costs 4 levels, so 60 of them still fit. Real documents rarely pass 20.
MAX_DEPTH = 250

SYNTAX, NUMBER, DEPTH, SURROGATE = "syntax", "number", "depth", "surrogate"


class JsonTextError(ValueError):
    """The text is not JSON as AWS reads it. `reason`: SYNTAX, NUMBER, DEPTH or SURROGATE."""

    def __init__(self, message: str, reason: str = SYNTAX):
        super().__init__(message)
        self.reason = reason


def _refuse_constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not a JSON number", NUMBER)


_LARGEST_DOUBLE = int(1.7976931348623157e308)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonTextError(f"Number out of range: {text[:40]}", NUMBER)
    return value


def _finite_int(text: str) -> int:
    if len(text) > 310:  # a longer integer is past the double range (and past Python's 4,300 digits)
        raise JsonTextError(f"Number out of range: {text[:40]}…", NUMBER)
    value = int(text)
    if abs(value) > _LARGEST_DOUBLE:
        raise JsonTextError(f"Number out of range: {text[:40]}", NUMBER)
    return value


# The C scanner calls parse_constant only for NaN and Infinity, so the plain decoder costs nothing
# extra. The number hooks are a Python call a number (3x the decoding time of a page of numbers), so
# only text that may hold a number out of range takes them: a double overflows only past 10^308,
# which takes 200 digits in a row or a three-digit exponent. Digits are mapped to 0 and signs dropped
# so that two substring searches find both (a regex tried at every digit cost more than the decoding).
# The scans run on the UTF-8 bytes: str.translate is fast only for ASCII text.
_PLAIN = json.JSONDecoder(parse_constant=_refuse_constant)
_CHECKED = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float,
                            parse_int=_finite_int)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789E", b"000000000e")


def _may_overflow(raw: bytes) -> bool:
    zeroed = raw.translate(_DIGITS_AS_ZERO, b"+-")
    return b"0" * 200 in zeroed or b"e000" in zeroed


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEEP_QUOTES_AND_BRACKETS = bytes(code for code in range(256) if code not in b'"[]{}')
_AS_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")
_DELTA = bytes.maketrans(b"()", b"\x02\x00")


def _brackets_outside_strings(raw: bytes) -> bytes:
    """The text's brackets outside its strings, as `(` and `)`, found with a few C-speed passes.

    Escapes go first: `\\\\` pairs, then `\\"` (left to right, as a string's escapes pair up). Then
    only quotes and brackets are kept; two adjacent quotes are dropped (the quotes still alternate,
    opening and closing, so no bracket changes sides), and what lies between the remaining quote
    pairs is inside a string."""
    kept = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _KEEP_QUOTES_AND_BRACKETS)
    kept = kept.replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    return kept.translate(_AS_PARENTHESES)


def _profile_max(brackets: bytes) -> int:
    if not brackets:
        return 0
    # Each opening bracket adds 2 and each closing one 0; minus 1 a position, that is the depth.
    return max(map(sub, accumulate(brackets.translate(_DELTA)), count(1)))


def depth_of_text(raw: bytes) -> int:
    """How deep the objects and arrays of a JSON text (UTF-8) nest; brackets in strings do not count."""
    brackets = _brackets_outside_strings(raw)
    if not brackets:
        return 0
    # The deepest point of a document is inside an innermost pair, `()`: dropping all of them (one
    # C pass, which halves a typical document) lowers the depth by exactly one.
    return 1 + _profile_max(brackets.replace(b"()", b""))


def loads(text: str | bytes | bytearray, *, object_pairs_hook=None) -> Any:
    """The JSON value of `text` (str, or UTF-8 bytes), or JsonTextError saying why AWS would not read it."""
    if isinstance(text, (bytes, bytearray)):
        raw = bytes(text)
        try:  # UTF-8 cannot hold a lone surrogate: such bytes are refused here
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonTextError(f"Invalid UTF-8 at byte {error.start}", SYNTAX) from None
    elif isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raise JsonTextError("The text holds a lone surrogate, which is not Unicode", SURROGATE) from None
    else:
        raise JsonTextError(f"JSON text must be a string, not {type(text).__name__}", SYNTAX)
    # Counting brackets is a C loop; only text with more brackets than the limit is measured exactly.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth_of_text(raw) > MAX_DEPTH:
        raise JsonTextError(f"The JSON is nested more than {MAX_DEPTH} levels deep", DEPTH)
    decoder = _CHECKED if _may_overflow(raw) else _PLAIN
    if object_pairs_hook is not None:
        decoder = json.JSONDecoder(parse_constant=decoder.parse_constant, parse_float=decoder.parse_float,
                                   parse_int=decoder.parse_int, object_pairs_hook=object_pairs_hook)
    try:
        value = decoder.decode(text)
    except JsonTextError:
        raise
    except RecursionError:  # not reached below MAX_DEPTH; kept so that no caller ever sees one
        raise JsonTextError(f"The JSON is nested more than {MAX_DEPTH} levels deep", DEPTH) from None
    except ValueError as error:
        raise JsonTextError(str(error), SYNTAX) from None
    # A \uD800-\uDFFF escape decodes to a lone surrogate unless it is half of a pair.
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(value):
        raise JsonTextError("A string holds a lone surrogate (\\ud800-\\udfff), which is not Unicode",
                            SURROGATE)
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Escaped pairs decode to one character; what is left in the surrogate range is a lone half."""
    text = json.dumps(value, ensure_ascii=False)
    return _SURROGATE.search(text) is not None


_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(value: Any) -> str:
    """Compact JSON text, or JsonTextError for what no database or client could read back (NaN, inf,
    lone surrogates, nesting past what the C encoder takes)."""
    try:
        text = _compact(value)
    except RecursionError:
        raise JsonTextError(f"The value is nested more than {MAX_DEPTH} levels deep", DEPTH) from None
    except ValueError as error:
        raise JsonTextError(f"The value is not JSON: {error}", NUMBER) from None
    if not text.isascii() and _SURROGATE.search(text):
        raise JsonTextError("A string holds a lone surrogate, which is not Unicode", SURROGATE)
    return text


# The engine's own writer: values it made itself are JSON by construction (every input came through
# `loads`), so the hot path does not pay `dumps`'s checks.
_lenient = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_text(value: Any) -> str:
    """JSON text as AWS writes payloads: compact, non-ASCII kept as is."""
    return _lenient(value)


def shown_text(value: Any) -> str:
    """A value as AWS's error messages quote it: a string as it is, anything else as JSON text."""
    return value if isinstance(value, str) else _lenient(value)


def json_type(value: Any) -> str:
    """The JSON type of a value, as AWS's messages name it."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "string"
    return "object" if kind is dict else "array"
