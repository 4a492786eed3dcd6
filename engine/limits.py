"""AWS's size limits, measured without re-serialising what has not changed.

Values in the engine are never mutated, so the serialised size of a container is a property of the
object: `PayloadSizer` remembers it by identity. A 200 KiB document passed from state to state is
measured once; a state that wraps it in a new object pays only for the new object's own keys.
"""

from __future__ import annotations

import json
from typing import Any

MAX_PAYLOAD_BYTES = 262_144  # 256 KiB: state input/output, task results, execution input
MAX_HISTORY_EVENTS = 25_000  # Standard workflows
MAX_VARIABLE_BYTES = 262_144  # one Assign value
MAX_TOTAL_VARIABLE_BYTES = 10 * 1024 * 1024

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class PayloadSizer:
    """Byte length of a value's compact JSON text (UTF-8), with containers cached by identity."""

    __slots__ = ("_cache",)

    MAX_ENTRIES = 4096

    def __init__(self):
        # id → (object, size): the object is kept alive so its id cannot be reused while cached.
        self._cache: dict[int, tuple[Any, int]] = {}

    def size(self, value: Any) -> int:
        kind = type(value)
        if kind is dict or kind is list:
            hit = self._cache.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            if not value:
                return 2
            size = self._measure(value, kind)
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[id(value)] = (value, size)
            return size
        if kind is str:
            return _string_size(value)
        if value is None:
            return 4
        if kind is bool:
            return 4 if value else 5
        if kind is int or kind is float:
            return len(repr(value))  # what json.dumps writes for finite numbers
        return len(_dumps(value))

    def _measure(self, value: Any, kind: type) -> int:
        # Scalars are measured inline and key sizes are remembered: this runs for every new
        # container a state builds, so it is the hot path of the size check.
        size, key_size, str_size = self.size, _key_size, _string_size
        if kind is dict:
            # {"k":v,"k2":v2}: braces, a colon per key, commas between entries
            total = 1 + 2 * len(value)
            for key, item in value.items():
                known = key_size(key)
                total += known if known is not None else _remember_key(key)
                item_kind = type(item)
                if item_kind is str:
                    total += str_size(item)
                elif item_kind is int:
                    total += len(repr(item))
                else:
                    total += size(item)
            return total
        total = 1 + len(value)
        for item in value:
            item_kind = type(item)
            if item_kind is str:
                total += str_size(item)
            elif item_kind is int:
                total += len(repr(item))
            else:
                total += size(item)
        return total


_KEY_SIZES: dict[str, int] = {}
_key_size = _KEY_SIZES.get


def _remember_key(key: str) -> int:
    size = _string_size(key)
    if len(_KEY_SIZES) < 65536:
        _KEY_SIZES[key] = size
    return size


def _string_size(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(_dumps(text).encode("utf-8"))
