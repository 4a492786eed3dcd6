"""JSONata in ASL: the `{% %}` expressions of Arguments, Output, Assign, Condition, Items, … and `$states`.

Every evaluator here has the engine's common signature `fn(states, env)`: `states` is the `$states`
binding the interpreter built for this phase of the state (`input`, and where AWS allows them
`result` and `errorOutput`), `env` the evaluation environment (`env.context` is `$states.context`,
`env.variables` the workflow's variables, `env.random()` and `env.uuid()` the injected randomness).

An expression is parsed once, when the definition is compiled (`compile_value`), by jsonatapy, a
Rust implementation of JSONata 2.0.6. At run time it is handed only what its text names: `$states`
(with `context` only when the text reads more of `$states` than `input`, `result` or
`errorOutput`) and the variables it mentions, so evaluating `$total + $states.input.x` costs the
same whether the execution holds two variables or two thousand. A path of member names only
(`$states.input.order.id`, `$cart.total`) is read directly in Python, which keeps integers beyond
2**53 exact (jsonatapy's numbers are doubles; AWS keeps them) and spares converting a large input.

What AWS adds on top of the language, and corrects here in one place:
- six functions of its own (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`), with
  AWS's argument checks, and no `$eval`; `$random`, `$uuid`, `$now` and `$millis` read the
  injected environment, so a run can be replayed;
- an expression whose value is undefined (or a function) fails the state with
  `States.QueryEvaluationError`, naming the field it was written in (`Output/a/b[0]`, `Assign/x`,
  `Choices[1]/Condition`, …); a JSON `null` is a value like any other;
- a non-finite number is written as the string JavaScript names it (`"Infinity"`, `"NaN"`);
- evaluation is bounded: a time, nesting and sequence-length limit per expression. jsonatapy's regular
  expressions run on Rust's `regex` engine, which matches in linear time, so a hostile pattern
  cannot backtrack catastrophically.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random as random_module
import re
import threading
from datetime import UTC, datetime
from typing import Any

import jsonatapy

from engine.errors import QUERY_EVALUATION_ERROR, StatesError
from engine.intrinsics import HASH_ALGORITHMS
from engine.jsonata_errors import MESSAGES, reference_message
from engine.jsontext import json_text, json_type

# A hostile expression must not hold a worker: evaluation stops after this long, this deep, or when a
# sequence grows this long (AWS's memory bound lets about 870,000 numbers through).
TIME_LIMIT_MS = 5000
DEPTH_LIMIT = 100  # AWS refuses expressions nested deeper than 100 levels
MAX_SEQUENCE_LENGTH = 1_000_000
# AWS refuses to build a `$range` larger than this (measured by others on AWS).
MAX_RANGE_ITEMS = 360_145


def is_expression(value: Any) -> bool:
    return type(value) is str and value.startswith("{%") and value.endswith("%}")


def expression_text(value: str) -> str:
    """The expression inside `{% %}`, as AWS quotes it in its error messages."""
    return value[2:-2].strip()


def jsonata_binding(frame: Any, **values: Any) -> dict:
    """`$states` for a JSONata field: the state input plus what this phase adds (result, errorOutput)."""
    values["input"] = frame.value
    return values


class InvalidExpression(ValueError):
    """A `{% %}` that does not parse. `message` is the parser's, without its "Parse error:" prefix."""

    def __init__(self, text: str, message: str):
        super().__init__(message)
        self.text, self.message = text, message


# -- errors -----------------------------------------------------------------------------------------
class QueryEvaluationError(StatesError):
    """States.QueryEvaluationError raised by an expression; `location` is its field, which AWS also
    records in the EvaluationFailed history event."""

    __slots__ = ("location",)

    def __init__(self, cause: str, location: str):
        super().__init__(QUERY_EVALUATION_ERROR, cause)
        self.location = location


def _field_error(source: str, field: str, problem: str) -> StatesError:
    return QueryEvaluationError(
        f"The JSONata expression '{source}' specified for the field '{field}' {problem}", field)


class _Undefined(Exception):
    """Raised by an AWS function whose result is undefined: a host function cannot return undefined,
    so the whole expression is then treated as returning nothing."""


class _CallError(Exception):
    """An AWS function refused its arguments; the message is what the error cause shows."""


_HOST_PREFIX = re.compile(r"^host function raised \w+: ")


def _message(exc: Exception) -> str:
    return _HOST_PREFIX.sub("", str(exc))


# -- AWS's functions --------------------------------------------------------------------------------
def _signature_error(function: str, position: int) -> _CallError:
    return _CallError(f'T0410: Argument {position} of function "{function}" '
                      "does not match function signature")


def _is_number(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and math.isfinite(value)


def _integer(value: float) -> int:
    # AWS rounds a fractional argument towards zero: $range(-1.7, 2, 1) starts at -1.
    return int(value)


def aws_partition(array: Any = None, size: Any = None, *extra: Any) -> list:
    if extra:
        raise _signature_error("partition", 3)
    if array is None or size is None:
        raise _Undefined
    if type(array) is not list:
        array = [array]  # JSONata's array signature takes a single value as a one-item array
    if not _is_number(size):
        raise _signature_error("partition", 2)
    size = _integer(size)
    if size <= 0 or not array:
        raise _Undefined
    return [array[start:start + size] for start in range(0, len(array), size)]


def aws_range(start: Any = None, end: Any = None, step: Any = None, *extra: Any) -> Any:
    if extra:
        raise _signature_error("range", 4)
    for position, value in enumerate((start, end, step), 1):
        if value is not None and not _is_number(value):
            raise _signature_error("range", position)
    if start is None or end is None or step is None:
        raise _Undefined
    start, end, step = _integer(start), _integer(end), _integer(step)
    if step == 0 or (step > 0 and start > end) or (step < 0 and start < end):
        raise _Undefined
    count = abs(end - start) // abs(step) + 1
    if count > MAX_RANGE_ITEMS:
        raise _CallError("Expression evaluation memory limit exceeded")
    if count == 1:
        return start  # a one-item range is the bare number, as JSONata collapses a singleton
    return list(range(start, end + (1 if step > 0 else -1), step))


def aws_hash(data: Any = None, algorithm: Any = None, *extra: Any) -> str:
    if extra:
        raise _signature_error("hash", 3)
    if data is None or algorithm is None:
        raise _Undefined
    if type(data) is not str:
        raise _signature_error("hash", 1)
    if type(algorithm) is not str:
        raise _signature_error("hash", 2)
    name = HASH_ALGORITHMS.get(algorithm)
    if name is None:
        raise _CallError(f"The hash algorithm '{algorithm}' is not supported. Supported algorithms: "
                         f"{', '.join(HASH_ALGORITHMS)}")
    return hashlib.new(name, data.encode("utf-8", "surrogatepass")).hexdigest()


def aws_parse(text: Any = None, *extra: Any) -> Any:
    if extra:
        raise _signature_error("parse", 2)
    if text is None:
        raise _Undefined
    if type(text) is not str:
        raise _signature_error("parse", 1)
    try:
        return json.loads(text)
    except ValueError:
        raise _CallError(f"The string '{text}' is not valid JSON") from None


def _random(env: Any):
    def aws_random(seed: Any = None, *extra: Any) -> float:
        if extra:
            raise _signature_error("random", 2)
        if seed is None:
            return env.random()
        if not _is_number(seed):
            raise _signature_error("random", 1)
        # A seed gives the same number every time, as on AWS (whose generator we cannot copy).
        return random_module.Random(_integer(seed)).random()

    return aws_random


def _uuid(env: Any):
    def aws_uuid(*extra: Any) -> str:
        if extra:
            raise _signature_error("uuid", 1)
        return env.uuid()

    return aws_uuid


def _clock(env: Any):
    """`$now()` and `$millis()` read the execution's injected clock, once per evaluation as JSONata
    specifies (every call within one expression sees the same instant)."""
    now = _now_of(env)

    def millis() -> int:
        return int(now * 1000)

    def iso(picture: Any = None, timezone: Any = None) -> str:
        if picture is None and timezone is None:
            moment = datetime.fromtimestamp(now, UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        # $now(picture, timezone) formats like $fromMillis, which does the work.
        bindings = {"millis": int(now * 1000), "picture": picture, "timezone": timezone}
        format_millis = _compiled_here("$fromMillis($millis, $picture, $timezone)", frozenset())
        return format_millis.evaluate(None, {k: v for k, v in bindings.items() if v is not None})

    return millis, iso


def _now_of(env: Any) -> float:
    for holder in (env, getattr(env, "frame", None)):
        execution = getattr(holder, "execution", None)
        if execution is not None:
            return execution.options.clock()
    import time

    return time.time()


def _no_eval(*args: Any) -> Any:
    raise _CallError(f"T1006: {MESSAGES['T1006']}")  # as jsonata-js says it: no name


# Functions that need nothing but their arguments are registered once, at compile time; those that
# read the environment are bound to it for each evaluation.
STATIC_FUNCTIONS = {"partition": aws_partition, "range": aws_range, "hash": aws_hash, "parse": aws_parse}
OVERRIDDEN_BUILTINS = {"eval": _no_eval}  # AWS leaves $eval out: $parse replaces it
ENV_FUNCTIONS = frozenset({"random", "uuid", "now", "millis"})


# -- compiled expressions ---------------------------------------------------------------------------
_NAME = re.compile(r"\$(\w+)")
# `$states.input`, `$states.result` and `$states.errorOutput` do not need the context object.
_STATES_WITHOUT_CONTEXT = re.compile(r"\$states\s*\.\s*(input|result|errorOutput)\b")
_STATES = re.compile(r"\$states\b")
# A plain path over JSON values (`$states.input.items`, `$order.id`) yields JSON values only.
_PLAIN_PATH = re.compile(r"\$\w+(\s*\.\s*\w+)*")
# A path of field names only: read in Python when every step is an object member (see _walk).
_FIELD_PATH = re.compile(r"\$(\w+)((?:\.[^\W\d]\w*)*)")
_MISSING = object()


class _Parsed:
    """What one expression text is, found once and shared by every field that holds the same text:
    the names it reads, whether it needs the context, whether it is a plain path. The compiled
    jsonatapy expression itself is not shared between threads (see `_compiled_here`)."""

    __slots__ = ("source", "names", "variables", "needs_context", "env_functions", "computes", "path")

    def __init__(self, source: str):
        self.source = source
        self.names = frozenset(_NAME.findall(source))
        # Every `$name` the text mentions, whatever it turns out to be (a variable, a local, a
        # function): binding a workflow variable the expression does not read is harmless.
        self.variables = tuple(sorted(self.names - {"states"}))
        self.needs_context = len(_STATES.findall(source)) > len(_STATES_WITHOUT_CONTEXT.findall(source))
        self.env_functions = tuple(sorted(self.names & ENV_FUNCTIONS))
        self.computes = _PLAIN_PATH.fullmatch(source) is None
        field_path = _FIELD_PATH.fullmatch(source)
        self.path = None if field_path is None else (
            field_path.group(1), tuple(field_path.group(2).split(".")[1:]))
        _compiled_here(source, self.names)  # a syntax error surfaces now, at definition time

    def compiled(self, env: Any):
        """The expression compiled for this thread, or for `env` alone if it reads the environment."""
        return self.bound(env) if self.env_functions else _compiled_here(self.source, self.names)

    def bound(self, env: Any, source: str | None = None):
        """The compiled expression with `$random`, `$uuid`, `$now`, `$millis` bound to `env`.

        jsonatapy keeps host functions on the compiled expression, so an expression that reads the
        environment is compiled again for each evaluation (a few microseconds): the shared one
        never holds an execution's state."""
        compiled = _compile(source or self.source, self.names)
        functions = set(self.env_functions)
        if "random" in functions:
            compiled.register_override("random", _random(env))
        if "uuid" in functions:
            compiled.register("uuid", _uuid(env))
        if functions & {"now", "millis"}:
            millis, iso = _clock(env)
            compiled.register_override("millis", millis)
            compiled.register_override("now", iso)
        return compiled

    def type_probe(self, env: Any):
        """`$type(expr)`: tells undefined, null and a function apart, all of which arrive as None."""
        source = f"$type(({self.source}))"
        if self.env_functions:
            return self.bound(env, source)
        return _compiled_here(source, self.names)


def _compile(source: str, names: frozenset[str]):
    try:
        compiled = jsonatapy.compile(source, timeout=TIME_LIMIT_MS, max_stack_depth=DEPTH_LIMIT,
                                     max_sequence_length=MAX_SEQUENCE_LENGTH)
    except ValueError as exc:
        raise InvalidExpression(source, re.sub(r"^(Parse error:\s*)", "", str(exc))) from None
    for name in names & STATIC_FUNCTIONS.keys():
        compiled.register(name, STATIC_FUNCTIONS[name])
    for name in names & OVERRIDDEN_BUILTINS.keys():
        compiled.register_override(name, OVERRIDDEN_BUILTINS[name])
    return compiled


# jsonatapy's compiled expressions are bound to the thread that made them (evaluating one from
# another thread panics, dropping one there leaks it), and a compiled machine may be run by any
# thread of a server. So each thread keeps its own compiled copies, by text: compiling is a few
# microseconds, and a thread's copies are released by that thread, when it clears its table or ends.
_here = threading.local()
MAX_COMPILED_PER_THREAD = 4096


def _compiled_here(source: str, names: frozenset[str]):
    table = getattr(_here, "table", None)
    if table is None:
        table = _here.table = {}
    compiled = table.get(source)
    if compiled is None:
        if len(table) >= MAX_COMPILED_PER_THREAD:
            table.clear()
        compiled = table[source] = _compile(source, names)
    return compiled


@functools.lru_cache(maxsize=4096)
def parse(source: str) -> _Parsed:
    """Compile an expression text once; the same text anywhere in any definition is shared."""
    return _Parsed(source)


class Expression:
    """One `{% %}` string of a definition, at `field` (AWS's name for where it is: `Output/a[0]`)."""

    __slots__ = ("parsed", "field", "source")

    def __init__(self, text: str, field: str):
        self.source = expression_text(text)
        self.field = field
        self.parsed = parse(self.source)

    def __call__(self, states: dict, env: Any) -> Any:
        parsed = self.parsed
        if parsed.path is not None:
            value = _walk(parsed.path, states, env)
            if value is not _MISSING:
                return value
        bindings = {"states": dict(states, context=env.context) if parsed.needs_context else states}
        if parsed.variables:
            variables = env.variables
            for name in parsed.variables:
                if name in variables:
                    bindings[name] = variables[name]
        compiled = parsed.compiled(env)
        result = self._evaluate(compiled, bindings)
        if result is None:
            return self._none(bindings, env)
        kind = type(result)
        if kind is float:
            return result if math.isfinite(result) else _non_finite(result)
        if (kind is dict or kind is list) and parsed.computes:
            return _finite(result)
        return result

    def _evaluate(self, compiled, bindings: dict) -> Any:
        try:
            return compiled.evaluate(None, bindings)
        except _Undefined:
            raise self._undefined() from None
        except OverflowError:
            # An integer beyond 64 bits: JSONata's numbers are doubles, so give it one.
            return self._evaluate(compiled, _doubles(bindings))
        except (ValueError, TypeError, RuntimeError) as exc:
            if str(exc).startswith("host function raised _Undefined"):
                raise self._undefined() from None
            message = str(exc)
            if _HOST_PREFIX.match(message):  # AWS's own functions already word theirs as AWS does
                message = _message(exc)
            else:
                message = reference_message(message, self.source, bindings)
            raise _field_error(self.source, self.field,
                               f"threw an error during evaluation. {message}") from None

    def _none(self, bindings: dict, env: Any) -> None:
        kind = self._evaluate(self.parsed.type_probe(env), bindings)
        if kind is None:
            raise self._undefined()
        if kind == "function":
            raise _field_error(self.source, self.field, "returned an unsupported result type.")
        return None

    def _undefined(self) -> StatesError:
        return _field_error(self.source, self.field, "returned nothing (undefined).")


def _walk(path: tuple, states: dict, env: Any) -> Any:
    """`$states.input.order.id` or `$var.a.b` read directly, when every step is a member of an object.

    JSONata gives the same value, but only after converting the whole input to its own numbers:
    this way an integer beyond 2**53 (an id, say) stays exact, as AWS keeps it, and a large input
    is not copied twice. Anything else (a missing member, a step over an array, which JSONata maps)
    returns _MISSING and is left to JSONata."""
    root, steps = path
    if root == "states":
        if not steps:
            return _MISSING
        if steps[0] == "context":
            value, steps = env.context, steps[1:]
        else:
            value = states
    else:
        variables = env.variables
        if root not in variables:
            return _MISSING
        value = variables[root]
    for step in steps:
        if type(value) is not dict:
            return _MISSING
        value = value.get(step, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _non_finite(number: float) -> str:
    # JSON has no literal for these; AWS writes the name JavaScript gives them.
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _finite(value: Any) -> Any:
    """`value` with every non-finite number replaced by its name (the same object if there is none)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else _non_finite(value)
    if kind is list:
        items = [_finite(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if kind is dict:
        items = {key: _finite(item) for key, item in value.items()}
        return value if all(items[key] is item for key, item in value.items()) else items
    return value


def _doubles(value: Any) -> Any:
    kind = type(value)
    if kind is int and not -(2 ** 63) <= value < 2 ** 63:
        return float(value)
    if kind is list:
        return [_doubles(item) for item in value]
    if kind is dict:
        return {key: _doubles(item) for key, item in value.items()}
    return value


# -- templates: JSON values with expressions inside -------------------------------------------------
def _constant(value: Any):
    return lambda states, env: value


def has_expression(template: Any) -> bool:
    if is_expression(template):
        return True
    if type(template) is dict:
        return any(has_expression(value) for value in template.values())
    if type(template) is list:
        return any(has_expression(value) for value in template)
    return False


def compile_value(template: Any, field: str = ""):
    """A JSON value in which every `{% %}` string is an expression, at any depth.

    `field` is where the value sits in its state (`Output`, `Arguments`, `Choices[0]/Output`, …);
    nested keys and indexes extend it as AWS names them in its errors (`Output/a/b[0]`).
    Raises `InvalidExpression` for an expression that does not parse.
    """
    if is_expression(template):
        return Expression(template, field)
    if not has_expression(template):
        return _constant(template)
    if type(template) is dict:
        # Literal members are copied as they are; only expressions are called.
        fields = [(key, compile_value(value, f"{field}/{key}") if has_expression(value) else None, value)
                  for key, value in template.items()]

        def evaluate_object(states: dict, env: Any) -> dict:
            return {key: value if fn is None else fn(states, env) for key, fn, value in fields}

        return evaluate_object
    items = [compile_value(value, f"{field}[{index}]") for index, value in enumerate(template)]
    return lambda states, env: [fn(states, env) for fn in items]


def compile_condition(text: Any, field: str = "Condition"):
    evaluate = compile_value(text, field)

    def condition(states: Any, env: Any) -> bool:
        result = evaluate(states, env)
        if type(result) is not bool:
            source = expression_text(text) if is_expression(text) else json.dumps(text)
            raise _field_error(source, field, "returned an unexpected result type. Expected 'boolean', "
                                              f"but was '{json_type(result)}' for value: {json_text(result)}")
        return result

    return condition


def compile_assign(assign: dict, language: str, field: str = "Assign"):
    """Assign evaluates every value against the same state values; the caller binds them all at once."""
    if language == "JSONata":
        return compile_value(assign, field)
    from engine.payload import compile_template

    return compile_template(assign)


