"""AWS's size limits, measured without re-serialising what has not changed.

Values in the engine are never mutated, so the serialised size of a container is a property of the
object: `PayloadSizer` remembers it by identity. A 200 KiB document passed from state to state is
measured once; a state that wraps it in a new object pays only for the new object's own keys.

Most states need not measure at all. A frame keeps an upper bound of its value's size
(interpreter.Frame.bound); a Pass state's output is bounded by its template's literal part plus what it
computed (payload.compile_template_bound), and a ResultPath write by the input's bound plus the result's
and the path's keys (paths.Path.write_overhead). Only an output whose bound passes the limit is measured
here, exactly, so the limit is enforced to the byte while a loop of small states costs no measuring.
"""

from __future__ import annotations

import json
from typing import Any

MAX_PAYLOAD_BYTES = 262_144  # 256 KiB: state input/output, task results, execution input
MAX_HISTORY_EVENTS = 25_000  # Standard workflows
MAX_VARIABLE_BYTES = 262_144  # one Assign value
MAX_TOTAL_VARIABLE_BYTES = 10 * 1024 * 1024

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

# A new container is walked here one level deep, its children read from the cache when they are known
# (a big document that a state wraps or writes into is never serialised again). While every container
# the execution has measured is small, an unknown child is measured whole by the C encoder; once a big
# one exists, unknown children are walked too, so that their parts are cached for later writes.
SMALL_WORLD_BYTES = 4096
try:
    from json.encoder import c_encode_basestring, c_make_encoder

    _c_chunks = c_make_encoder(None, None, c_encode_basestring, None, ":", ",", False, False, True)
except (ImportError, TypeError):  # no C accelerator (PyPy): the pure-Python encoder
    _c_chunks = None


def _encoded_size(value: Any) -> int:
    text = "".join(_c_chunks(value, 0)) if _c_chunks is not None else _dumps(value)
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class PayloadSizer:
    """Byte length of a value's compact JSON text (UTF-8), with containers cached by identity."""

    __slots__ = ("_cache", "largest")

    MAX_ENTRIES = 4096

    def __init__(self):
        # id → (object, size): the object is kept alive so its id cannot be reused while cached.
        self._cache: dict[int, tuple[Any, int]] = {}
        self.largest = 0  # the biggest container measured or derived so far

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
            return string_size(value)
        if value is None:
            return 4
        if kind is bool:
            return 4 if value else 5
        if kind is int or kind is float:
            return len(repr(value))  # what json.dumps writes for finite numbers
        return len(_dumps(value))

    def known(self, value: dict | list) -> int | None:
        """The size of a container measured before, or None."""
        hit = self._cache.get(id(value))
        return hit[1] if hit is not None and hit[0] is value else None

    def fresh(self, value: dict | list) -> int:
        """The size of a container just built, that nothing will ask about again (a template's
        computed part): while the world is small, measured whole by the C encoder, not remembered."""
        if self.largest < SMALL_WORLD_BYTES:
            size = _encoded_size(value)
            if size > self.largest:
                self.largest = size
            return size
        return self.size(value)

    def derive(self, new: Any, old: Any, key: str | int, old_child: Any, new_child: Any,
               existed: bool) -> None:
        """`new` is `old` with `old[key]` set to `new_child`: remember its size from `old`'s, so that
        writing a result into a big document costs the size of the result, not of the document."""
        hit = self._cache.get(id(old))
        if hit is None or hit[0] is not old:
            return
        old_size = hit[1]
        if existed:
            size = old_size - self.size(old_child) + self.size(new_child)
        else:
            size = old_size + string_size(key) + 1 + self.size(new_child) + (1 if old else 0)
        if size > self.largest:
            self.largest = size
        if len(self._cache) >= self.MAX_ENTRIES:
            self._cache.clear()
        self._cache[id(new)] = (new, size)

    def _measure(self, value: Any, kind: type) -> int:
        size = self._walk(value, kind)
        if size > self.largest:
            self.largest = size
        return size

    def _encoded(self, value: Any) -> int:
        """A container inside a new one, while the execution has seen only small ones: measured whole by
        the C encoder (a few times faster than walking it here), and remembered."""
        size = _encoded_size(value)
        if size > self.largest:
            self.largest = size
        if len(self._cache) >= self.MAX_ENTRIES:
            self._cache.clear()
        self._cache[id(value)] = (value, size)
        return size

    def _walk(self, value: Any, kind: type) -> int:
        # The hot path of the size check: it runs for every new container a state builds. Scalars
        # and cache hits are measured inline (no call per item); key sizes are remembered.
        if kind is dict:
            total = 1 + 2 * len(value)  # braces, a colon per key, commas between entries
            key_size = _key_size
            for key in value:
                known = key_size(key)
                total += known if known is not None else _remember_key(key)
            items = value.values()
        else:
            total = 1 + len(value)
            items = value
        cache_get = self._cache.get
        for item in items:
            item_kind = type(item)
            if item_kind is str:
                if item.isascii() and item.isprintable() and '"' not in item and "\\" not in item:
                    total += len(item) + 2
                else:
                    total += string_size(item)
            elif item_kind is int or item_kind is float:
                total += len(repr(item))
            elif item_kind is dict or item_kind is list:
                hit = cache_get(id(item))
                if hit is not None and hit[0] is item:
                    total += hit[1]
                elif self.largest < SMALL_WORLD_BYTES:
                    total += self._encoded(item)
                else:
                    total += self.size(item)
            else:
                total += self.size(item)
        return total


_KEY_SIZES: dict[str, int] = {}
_key_size = _KEY_SIZES.get


def _remember_key(key: str) -> int:
    size = string_size(key)
    if len(_KEY_SIZES) < 65536:
        _KEY_SIZES[key] = size
    return size


def string_size(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(_dumps(text).encode("utf-8"))
