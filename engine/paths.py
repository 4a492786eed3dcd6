"""JSONPath as ASL uses it: reference paths on the input, `$$` on the context object, `$name` on variables.

A path is compiled once. The common case, a *definite* path made of keys and indexes (`$.a.b[0]`,
`$['odd key']`, `$.detail-type`), is a tuple of keys walked in Python (a fraction of a microsecond); a
regex reads the canonical spellings and jayway.py every other spelling Jayway JsonPath (what AWS runs)
accepts. Anything else (wildcards, slices, unions, filters, deep scan, functions) is evaluated by
jayway.py as Jayway does: an indefinite path yields the list of its matches.

Evaluation takes the current value and an environment `env` with two attributes:
`env.context` (the `$$` object) and `env.variables` (a mapping of variable name to value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from engine.jayway import JaywayError, NotFound, compile_jayway
from engine.limits import string_size

INPUT, CONTEXT, VARIABLE = "input", "context", "variable"

_VARIABLE_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# One step of a definite path: .name | ['name'] | ["name"] | [index]
_STEP = re.compile(
    r"""\.(?P<dot>[^.\[\]'"*?()@,:\s]+)"""
    r"""|\[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]"""
    r"""|\[\s*(?P<idx>-?\d+)\s*\]"""
)


class PathNotFound(Exception):
    """A definite path did not resolve. Callers turn this into AWS's wording for their field."""

    def __init__(self, path: Path):
        super().__init__(path.text)
        self.path = path


class InvalidPath(ValueError):
    """The text is not a path ASL accepts."""


def _normalize_key(key: str | int) -> str:
    return f"[{key}]" if isinstance(key, int) else f"['{key}']"


class Path:
    """A compiled path. `get(value, env)` returns what it selects or raises PathNotFound."""

    __slots__ = ("text", "root", "variable", "keys", "indefinite", "keys_only", "write_overhead", "_matcher")

    def __init__(self, text: str, root: str, variable: str | None, keys: tuple | None, matcher=None):
        self.text = text
        self.root = root
        self.variable = variable
        self.keys = keys
        self.indefinite = keys is None
        self.keys_only = keys is not None and all(type(key) is str for key in keys)
        # What writing through this path (set_path) can add to a document besides the value: per
        # object key, the key, a colon, a comma and the braces of an object it may have to create.
        self.write_overhead = sum(string_size(key) + 4 for key in keys
                                  if type(key) is str) if keys is not None else None
        self._matcher = matcher

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    @property
    def normalized(self) -> str:
        """Jayway's normalised form, as AWS quotes it in errors: `$['a']['b'][0]`."""
        if self.keys is None:
            return self.text
        return "$" + "".join(_normalize_key(k) for k in self.keys)

    def base(self, value: Any, env: Any) -> Any:
        if self.root is INPUT:
            return value
        if self.root is CONTEXT:
            return env.context
        try:
            return env.variables[self.variable]
        except KeyError:
            raise PathNotFound(self) from None

    def get(self, value: Any, env: Any = None) -> Any:
        current = value if self.root is INPUT else self.base(value, env)
        keys = self.keys
        if keys is None:
            try:
                return self._matcher.evaluate(current)
            except NotFound:
                raise PathNotFound(self) from None
        if self.keys_only:
            # The hot path: object keys only. Indexing anything but a dict with a string (a list, a
            # string, a number, null) raises TypeError, a dict without the key KeyError.
            try:
                for key in keys:
                    current = current[key]
            except (KeyError, TypeError):
                raise PathNotFound(self) from None
            return current
        for key in keys:
            try:
                if isinstance(key, str):
                    if type(current) is not dict:
                        raise PathNotFound(self)
                    current = current[key]
                else:
                    if type(current) is not list:
                        raise PathNotFound(self)
                    current = current[key]
            except (KeyError, IndexError):
                raise PathNotFound(self) from None
        return current


def _parse_steps(rest: str) -> tuple | None:
    """Keys of a canonically spelled definite path after its root, or None when jayway.py must read it."""
    keys: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _STEP.match(rest, pos)
        if match is None:
            return None
        if match["dot"] is not None:
            keys.append(match["dot"])
        elif match["sq"] is not None:
            keys.append(match["sq"].replace("\\'", "'"))
        elif match["dq"] is not None:
            keys.append(json.loads(f'"{match["dq"]}"'))
        else:
            keys.append(int(match["idx"]))
        pos = match.end()
    return tuple(keys)


def _jayway(text: str, rest: str):
    try:
        return compile_jayway(rest)
    except JaywayError as exc:
        raise InvalidPath(f"Invalid path: {text}") from exc


_CACHE: dict[str, Path] = {}


def compile_path(text: str) -> Path:
    """Compile `$…`, `$$…` or `$variable…`. Raises InvalidPath for anything else."""
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    # Jayway trims the text before reading it, so " $.a " is $.a.
    stripped = text.strip(" \t\r\n") if isinstance(text, str) else ""
    if not stripped.startswith("$"):
        raise InvalidPath(f"Invalid path: {text!r}")
    if stripped.startswith("$$"):
        root, variable, rest = CONTEXT, None, stripped[2:]
    else:
        match = _VARIABLE_NAME.match(stripped)
        if match:
            root, variable, rest = VARIABLE, match[1], stripped[match.end():]
        else:
            root, variable, rest = INPUT, None, stripped[1:]
    keys = _parse_steps(rest)
    matcher = None
    if keys is None:
        matcher = _jayway(text, rest)
        keys = matcher.keys
    path = Path(text, root, variable, keys, matcher)
    _CACHE[text] = path
    return path


def is_path(text: Any) -> bool:
    try:
        compile_path(text)
    except InvalidPath:
        return False
    return True


def is_reference_path(text: Any) -> bool:
    """A reference path selects one node by keys and indexes only (ResultPath's kind of path)."""
    try:
        path = compile_path(text)
    except InvalidPath:
        return False
    return not path.indefinite


def set_path(document: Any, path: Path, value: Any, sizer: Any = None) -> Any:
    """Return a copy of `document` with `value` written at `path`, copying only the containers on the way.

    Missing objects along the path are created, as AWS does for ResultPath. Raises PathNotFound when
    the path runs through something that is not an object (or an index outside a list).
    """
    keys = path.keys
    if not keys:
        return value
    return _set(document, keys, 0, value, path, sizer)


def _set(node: Any, keys: tuple, i: int, value: Any, path: Path, sizer: Any) -> Any:
    """With a `sizer` (limits.PayloadSizer), each copied container's size is derived from the
    original's, so the payload size check does not measure the unchanged rest of the document."""
    key = keys[i]
    last = i == len(keys) - 1
    if isinstance(key, str):
        if node is None:
            node = {}
        elif type(node) is not dict:
            raise PathNotFound(path)
        old_child = node.get(key)
        new_child = value if last else _set(old_child, keys, i + 1, value, path, sizer)
        copy = dict(node)
        copy[key] = new_child
        if sizer is not None:
            sizer.derive(copy, node, key, old_child, new_child, key in node)
        return copy
    if type(node) is not list or not -len(node) <= key < len(node):
        raise PathNotFound(path)
    new_child = value if last else _set(node[key], keys, i + 1, value, path, sizer)
    copy = list(node)
    copy[key] = new_child
    if sizer is not None:
        sizer.derive(copy, node, key, node[key], new_child, True)
    return copy


Getter = Callable[[Any, Any], Any]
