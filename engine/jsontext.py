"""JSON as text, the one way the engine writes it (payloads, history, error messages), and the JSON
type names AWS's messages use.

States.* intrinsics that print JSON the way Java's Jackson does (`1.0E20`, not `1e+20`) have their
own writer, `java.java_json_text`: that is what AWS shows inside those functions' results.
"""

from __future__ import annotations

import json
from typing import Any

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_text(value: Any) -> str:
    """JSON text as AWS writes payloads: compact, non-ASCII kept as is."""
    return _compact(value)


def shown_text(value: Any) -> str:
    """A value as AWS's error messages quote it: a string as it is, anything else as JSON text."""
    return value if isinstance(value, str) else _compact(value)


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
