"""Definition files uploaded to the New form: JSON as it is, YAML converted to JSON text.

YAML is read with PyYAML's safe loader (no Python objects) under the rules of YAML 1.2's core schema,
the ones the code editor's js-yaml uses: `no`, `on`, `2024-01-01` and `1:30` stay strings, as they
would in the editor (PyYAML's YAML 1.1 would make a state named `No` the boolean false). What YAML
can say but JSON cannot (dates and binary given by tag, NaN, infinities, non-string keys) is refused
with its place; the JSON text then goes through the strict reader (engine.jsontext) like any other.
"""

import json
import math
import re
from typing import Any

import yaml

from engine import jsontext

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
# Aliases let a small YAML text stand for a huge value ("billion laughs"); a definition of 1 MiB has
# far fewer values than this.
MAX_VALUES = 1_000_000

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DefinitionFileError(ValueError):
    """The file cannot be a definition; the message says why and where."""


class _CoreSchemaLoader(_BASE):
    """The safe loader with YAML 1.2 core schema scalars (bool, int, float; null is unchanged)."""


_CORE_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
              "tag:yaml.org,2002:timestamp"}
_CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _CORE_TAGS]
    for first, resolvers in _BASE.yaml_implicit_resolvers.items()
}
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreSchemaLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_CoreSchemaLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _core_int(loader, node) -> int:
    text = loader.construct_scalar(node)
    if not _INT.match(text):
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not an integer", node.start_mark)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _core_float(loader, node) -> float:
    text = loader.construct_scalar(node)
    if not _FLOAT.match(text):
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a number", node.start_mark)
    lowered = text.lower()
    if lowered.endswith(".nan"):
        return math.nan
    if lowered.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _core_int)
_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:float", _core_float)


def definition_text(data: bytes, filename: str = "") -> str:
    """The definition in an uploaded file as JSON text. A `.json` file (or one that starts like JSON)
    is kept as it is, so that the validator reports its problems at their place; YAML is converted."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DefinitionFileError(f"The file is not UTF-8 (byte {error.start} cannot be read).") from None
    name = filename.lower()
    if name.endswith(JSON_SUFFIXES) or (not name.endswith(YAML_SUFFIXES) and text.lstrip()[:1] in ("{", "[")):
        return text
    return yaml_to_json(text)


def yaml_to_json(text: str) -> str:
    """A YAML document holding a definition, as indented JSON text; DefinitionFileError otherwise."""
    try:
        value = yaml.load(text, Loader=_CoreSchemaLoader)  # a safe loader: see _CoreSchemaLoader
    except yaml.YAMLError as error:
        raise DefinitionFileError(f"The file is not valid YAML: {_yaml_problem(error)}") from None
    if not isinstance(value, dict):
        raise DefinitionFileError(
            f"A definition must be a mapping (an object with StartAt and States); this YAML document is "
            f"{_kind(value)}.")
    _check_json_values(value)
    try:
        return json.dumps(jsontext.loads(json.dumps(value, ensure_ascii=False)), indent=2, ensure_ascii=False)
    except jsontext.JsonTextError as error:
        raise DefinitionFileError(f"The YAML holds something JSON cannot: {error}.") from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number",
            bytes: "binary data", set: "a set"}.get(
        type(value), f"a {type(value).__name__}")


def _check_json_values(root: dict) -> None:
    """Refuses, with its JSON Pointer, the first value JSON has no way to say."""
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    seen = 0
    while stack:
        pointer, value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise DefinitionFileError(f"The YAML expands to more than {MAX_VALUES} values (through aliases).")
        if depth > jsontext.MAX_DEPTH:
            raise DefinitionFileError(f"The YAML is nested more than {jsontext.MAX_DEPTH} levels deep.")
        place = pointer or "/"
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise DefinitionFileError(
                        f"At {place}: the key {key!r} is {_kind(key)}; JSON keys are strings (quote it).")
                stack.append((f"{pointer}/{key}", item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{index}", item, depth + 1) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise DefinitionFileError(f"At {place}: {value} is not a JSON number.")
        elif not isinstance(value, str | int | float | bool) and value is not None:
            shown = f"the date {value.isoformat()}" if hasattr(value, "isoformat") else _kind(value)
            raise DefinitionFileError(
                f"At {place}: {shown} has no JSON form (quote it to make it a string).")
