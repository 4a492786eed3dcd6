"""The functions Jayway JsonPath (what AWS runs for JSONPath) lets a path end with: `$.items.length()`.

A function receives the value the path before it selected (for an indefinite path, the list of its
matches) and its arguments, already evaluated: JSON literals, or paths read from the document root.
Jayway answers with Java doubles for the numeric aggregations (`$.a.sum()` of [1, 2] is 3.0), so these do
too. A function that has nothing to work on raises FunctionError, which the path turns into "not found".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class FunctionError(ValueError):
    """Jayway's JsonPathException from a function: e.g. an aggregation over no numbers."""


def _numbers(value: Any, arguments: list) -> list[float]:
    # Java's Boolean is not a Number: booleans are skipped, unlike Python's bool.
    items = list(value) if type(value) is list else []
    numbers = [float(item) for item in items + arguments
               if isinstance(item, int | float) and not isinstance(item, bool)]
    if not numbers:
        raise FunctionError("Aggregation function attempted to calculate value using empty array")
    return numbers


def _stddev(numbers: list[float]) -> float:
    mean = sum(numbers) / len(numbers)
    return math.sqrt(max(sum(n * n for n in numbers) / len(numbers) - mean * mean, 0.0))


def _aggregation(reduce: Callable[[list[float]], float]) -> Callable[[Any, list], Any]:
    return lambda value, arguments: reduce(_numbers(value, arguments))


def _length(value: Any, arguments: list) -> Any:
    # Jayway counts the children of an array or an object; anything else has no length (null).
    return len(value) if type(value) in (list, dict) else None


def _keys(value: Any, arguments: list) -> Any:
    return list(value) if type(value) is dict else None


def _concat(value: Any, arguments: list) -> str:
    items = [item for item in value if isinstance(item, str)] if type(value) is list else []
    return "".join(items) + "".join(_java_string(argument) for argument in arguments)


def _java_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _append(value: Any, arguments: list) -> Any:
    return [*value, *arguments] if type(value) is list else value


def _item_at(index_of: Callable[[list], int]) -> Callable[[Any, list], Any]:
    def pick(value: Any, arguments: list) -> Any:
        if type(value) is not list or not value:
            raise FunctionError("Aggregation function attempted to calculate value using empty array")
        index = index_of(arguments)
        if not -len(value) <= index < len(value):
            raise FunctionError(f"Target index:{index} larger than object list size:{len(value)}")
        return value[index]

    return pick


def _index_argument(arguments: list) -> int:
    if not arguments or not isinstance(arguments[0], int) or isinstance(arguments[0], bool):
        raise FunctionError("index() takes the index of the item to return")
    return arguments[0]


FUNCTIONS: dict[str, Callable[[Any, list], Any]] = {
    "min": _aggregation(min),
    "max": _aggregation(max),
    "avg": _aggregation(lambda numbers: sum(numbers) / len(numbers)),
    "stddev": _aggregation(_stddev),
    "sum": _aggregation(sum),
    "length": _length,
    "size": _length,
    "keys": _keys,
    "concat": _concat,
    "append": _append,
    "first": _item_at(lambda arguments: 0),
    "last": _item_at(lambda arguments: -1),
    "index": _item_at(_index_argument),
}
