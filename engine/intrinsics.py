"""The `States.*` intrinsic functions of JSONPath payload templates, parsed once into closures.

An intrinsic is a call such as `States.Format('{} and {}', $.a, States.ArrayLength($.list))`. Its
arguments are string literals in single quotes, numbers, `true`/`false`/`null`, paths (`$.x`, `$$.x`,
`$name.x`) and nested calls. `compile_intrinsic(text)` parses the text once and returns
`evaluate(value, env)`; the functions themselves live in `FUNCTIONS`, a `{name: Intrinsic}` table.

Errors come in two kinds:
- `InvalidIntrinsic` (a ValueError) at compile time: bad syntax, an unknown function, a wrong number
  of arguments. The validator reports it when the definition is created.
- `StatesError("States.Runtime", cause)` at run time. AWS names the whole expression as written
  and then what went wrong: `The function 'States.Format('{}', $.nope)' had the following error:
  The JsonPath argument for the field '$.nope' could not be found in the input '{"other":1}'`.
  Bad argument values read `Invalid arguments in States.X`. AWS documents
  `States.IntrinsicFailure` for these, but executions recorded on AWS fail with `States.Runtime`,
  which no Retry or Catch can handle.

AWS runs Java: values are rendered as Java renders them (java.py), fractional arguments are truncated
like Java's `(int)` cast, except in States.MathAdd which uses Math.round, and a seeded
States.MathRandom draws from java.util.Random.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine import jsontext
from engine.errors import RUNTIME, StatesError
from engine.java import JavaRandom, jackson_identity, java_json_text, java_text
from engine.paths import CONTEXT, InvalidPath, PathNotFound, compile_path

Evaluator = Callable[[Any, Any], Any]

MAX_NESTING = 10  # "You can nest up to 10 intrinsic functions within a field"
MAX_ARRAY_RANGE_ITEMS = 1000
MAX_ENCODING_INPUT_CHARS = 10_000  # Base64Encode, Base64Decode and Hash
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class InvalidIntrinsic(ValueError):
    """The text is not an intrinsic call AWS accepts (found when the definition is compiled)."""


class IntrinsicArityError(InvalidIntrinsic):
    """A known function called with the wrong number of arguments.

    Raised at compile time on purpose. AWS itself accepts such a definition and fails the
    execution with States.Runtime when the state runs; the validator may choose to let it pass.
    """


class IntrinsicError(Exception):
    """A run-time failure inside an intrinsic; the caller wraps it into AWS's States.Runtime cause."""


def is_intrinsic(text: Any) -> bool:
    return isinstance(text, str) and _CALL_SHAPE.match(text) is not None


def compile_intrinsic(text: str) -> Evaluator:
    """Parse `text` once; the result evaluates it against `(value, env)`."""
    if not isinstance(text, str):
        raise InvalidIntrinsic(f"An intrinsic function must be a string, not {type(text).__name__}")
    root = _Parser(text).parse()

    def evaluate(value: Any, env: Any) -> Any:
        try:
            return root(value, env)
        except IntrinsicError as error:
            raise StatesError(RUNTIME, f"The function '{text}' had the following error: {error}") from None

    return evaluate


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the functions.


def _invalid(name: str) -> IntrinsicError:
    return IntrinsicError(f"Invalid arguments in {name}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(name: str, value: Any) -> int:
    """A Java int from a JSON number: fractions are cut toward zero (AWS: ArrayRange(1.6, 1.4, 1) is [1])."""
    if not _is_number(value) or not math.isfinite(value):
        raise _invalid(name)
    return int(value)


def _rounded(name: str, value: Any) -> int:
    """Java's Math.round: halves go up, so -1.5 is -1 and -0.5 is 0 (the corpus: -0.5 + 0.5 = 1)."""
    if not _is_number(value) or not math.isfinite(value):
        raise _invalid(name)
    return value if isinstance(value, int) else math.floor(value + 0.5)


def _array(name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise _invalid(name)
    return value


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(name)
    return value


def _java_length(text: str) -> int:
    """String.length() in Java counts UTF-16 code units: an emoji counts twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _limited(name: str, text: str) -> str:
    if _java_length(text) > MAX_ENCODING_INPUT_CHARS:
        raise _invalid(name)
    return text


# ---------------------------------------------------------------------------------------------
# The functions. Each takes the environment and the evaluated arguments.


def states_format(env: Any, template: Any, *values: Any) -> str:
    return _render_format(_format_parts(_string("States.Format", template)), values)


def _format_parts(template: str) -> list[str | None]:
    """Literal pieces and `None` for each `{}`. The template's own escapes `\\{ \\} \\' \\\\` apply."""
    parts: list[str | None] = []
    piece: list[str] = []
    i, end = 0, len(template)
    while i < end:
        char = template[i]
        if char == "\\" and i + 1 < end and template[i + 1] in "{}'\\":
            piece.append(template[i + 1])
            i += 2
            continue
        if char == "{":
            if template[i + 1 : i + 2] != "}":
                raise IntrinsicError("Invalid arguments in States.Format: matching '}' not found for '{'")
            parts.append("".join(piece))
            parts.append(None)
            piece = []
            i += 2
            continue
        if char == "}":
            raise IntrinsicError("Invalid arguments in States.Format: unmatched '}'")
        piece.append(char)
        i += 1
    parts.append("".join(piece))
    return parts


def _render_format(parts: list[str | None], values: tuple) -> str:
    if parts.count(None) != len(values):
        raise IntrinsicError(
            "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}"
        )
    rendered = iter(values)
    return "".join([java_text(next(rendered)) if part is None else part for part in parts])


def states_string_to_json(env: Any, text: Any) -> Any:
    text = _string("States.StringToJson", text)
    if not text.strip():
        return None  # AWS: "" and " " parse to null
    try:
        return _parse_json(text)
    except ValueError:
        raise _invalid("States.StringToJson") from None


def _parse_json(text: str) -> Any:
    return jsontext.loads(text)  # Jackson's rules: no NaN, Infinity or 1e400, no lone surrogates


def states_json_to_string(env: Any, value: Any) -> str:
    return java_json_text(value)


def states_array(env: Any, *values: Any) -> list:
    return list(values)


def states_array_partition(env: Any, array: Any, size: Any) -> list:
    array = _array("States.ArrayPartition", array)
    size = _integer("States.ArrayPartition", size)
    if size < 1:
        raise _invalid("States.ArrayPartition")
    return [array[i : i + size] for i in range(0, len(array), size)]


def states_array_contains(env: Any, array: Any, wanted: Any) -> bool:
    wanted = jackson_identity(wanted)
    return any(jackson_identity(item) == wanted for item in _array("States.ArrayContains", array))


def states_array_range(env: Any, first: Any, last: Any, step: Any) -> list:
    first, last, step = (_integer("States.ArrayRange", v) for v in (first, last, step))
    if step == 0:
        raise _invalid("States.ArrayRange")
    # A step pointing away from `last` gives an empty array, not an error.
    count = max(0, (last - first) // step + 1)
    if count > MAX_ARRAY_RANGE_ITEMS:
        raise _invalid("States.ArrayRange")
    return [first + i * step for i in range(count)]


def states_array_get_item(env: Any, array: Any, index: Any) -> Any:
    array = _array("States.ArrayGetItem", array)
    index = _integer("States.ArrayGetItem", index)  # AWS: index 1.2 reads item 1
    if index < 0:
        raise _invalid("States.ArrayGetItem")
    if index >= len(array):
        if not array:
            return None  # AWS answers null for any index into an empty array
        raise _invalid("States.ArrayGetItem")
    return array[index]


def states_array_length(env: Any, array: Any) -> int:
    return len(_array("States.ArrayLength", array))


def states_array_unique(env: Any, array: Any) -> list:
    seen: set = set()
    unique = []
    for item in _array("States.ArrayUnique", array):
        key = jackson_identity(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def states_base64_encode(env: Any, text: Any) -> str:
    text = _limited("States.Base64Encode", _string("States.Base64Encode", text))
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def states_base64_decode(env: Any, text: Any) -> str:
    text = _limited("States.Base64Decode", _string("States.Base64Decode", text))
    # AWS decodes leniently (observed: 'abc', ' YWJjZA== ', '!!!invalid!!!' and 'ab==cd' all decode):
    # characters outside the alphabet are skipped, the first '=' ends the data, and a last group
    # of a single character carries no whole byte and is dropped.
    symbols = []
    for char in text:
        if char == "=":
            break
        if char in _BASE64_ALPHABET:
            symbols.append(char)
    if len(symbols) % 4 == 1:
        symbols.pop()
    data = "".join(symbols).replace("-", "+").replace("_", "/")
    raw = base64.b64decode(data + "=" * (-len(data) % 4))
    return raw.decode("utf-8", "replace")


HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def states_hash(env: Any, data: Any, algorithm: Any) -> str:
    name = HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        raise _invalid("States.Hash")
    # AWS hashes a number or an object by its text instead of refusing it.
    text = _limited("States.Hash", data if isinstance(data, str) else java_json_text(data))
    return hashlib.new(name, text.encode("utf-8", "surrogatepass")).hexdigest()


def states_json_merge(env: Any, first: Any, second: Any, deep: Any) -> dict:
    # Only the shallow merge exists: the third argument must be the boolean false.
    if not isinstance(first, dict) or not isinstance(second, dict) or deep is not False:
        raise _invalid("States.JsonMerge")
    return {**first, **second}


def states_math_random(env: Any, start: Any, end: Any, *seed: Any) -> int:
    start, end = _integer("States.MathRandom", start), _integer("States.MathRandom", end)
    if start >= end or start < INT_MIN or end > INT_MAX:
        raise _invalid("States.MathRandom")
    if seed:
        # A seed makes the draw repeatable, as java.util.Random(seed).nextInt(end - start) does.
        return start + JavaRandom(_integer("States.MathRandom", seed[0])).next_int(end - start)
    return start + min(int(env.random() * (end - start)), end - start - 1)


def states_math_add(env: Any, first: Any, second: Any) -> int:
    first, second = _rounded("States.MathAdd", first), _rounded("States.MathAdd", second)
    if not (INT_MIN <= first <= INT_MAX and INT_MIN <= second <= INT_MAX):
        raise _invalid("States.MathAdd")
    return first + second


def states_string_split(env: Any, text: Any, delimiters: Any) -> list[str]:
    text = _string("States.StringSplit", text)
    delimiters = _string("States.StringSplit", delimiters)
    # Java's StringTokenizer: every character of the second argument separates, empty tokens vanish
    # (AWS splits ", , ," on "," into [" ", " "]).
    if not delimiters:
        return [text] if text else []
    return [token for token in re.split("[" + re.escape(delimiters) + "]", text) if token]


def states_uuid(env: Any) -> str:
    return env.uuid()


@dataclass(frozen=True)
class Intrinsic:
    function: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number


FUNCTIONS: dict[str, Intrinsic] = {
    "States.Format": Intrinsic(states_format, 1, None),
    "States.StringToJson": Intrinsic(states_string_to_json, 1, 1),
    "States.JsonToString": Intrinsic(states_json_to_string, 1, 1),
    "States.Array": Intrinsic(states_array, 0, None),
    "States.ArrayPartition": Intrinsic(states_array_partition, 2, 2),
    "States.ArrayContains": Intrinsic(states_array_contains, 2, 2),
    "States.ArrayRange": Intrinsic(states_array_range, 3, 3),
    "States.ArrayGetItem": Intrinsic(states_array_get_item, 2, 2),
    "States.ArrayLength": Intrinsic(states_array_length, 1, 1),
    "States.ArrayUnique": Intrinsic(states_array_unique, 1, 1),
    "States.Base64Encode": Intrinsic(states_base64_encode, 1, 1),
    "States.Base64Decode": Intrinsic(states_base64_decode, 1, 1),
    "States.Hash": Intrinsic(states_hash, 2, 2),
    "States.JsonMerge": Intrinsic(states_json_merge, 3, 3),
    "States.MathRandom": Intrinsic(states_math_random, 2, 3),
    "States.MathAdd": Intrinsic(states_math_add, 2, 2),
    "States.StringSplit": Intrinsic(states_string_split, 2, 2),
    "States.UUID": Intrinsic(states_uuid, 0, 0),
}


# ---------------------------------------------------------------------------------------------
# Parsing: text → nested closures.

_CALL_SHAPE = re.compile(r"\s*States\.[A-Za-z0-9]+\s*\(.*\)\s*\Z", re.S)
_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS = {"true": True, "false": False, "null": None}
_STRING_ESCAPES = frozenset("'{}\\")


@dataclass
class _Literal:
    value: Any
    raw: str | None = None  # for a string: the text between the quotes, escapes kept


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> InvalidIntrinsic:
        return InvalidIntrinsic(f"Invalid intrinsic function {self.text!r}: {message} (position {self.pos})")

    def parse(self) -> Evaluator:
        self.skip_spaces()
        if not self.text.startswith("States.", self.pos):
            raise self.fail("expected a States.* function call")
        root = self.call(depth=1)
        self.skip_spaces()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the call")
        return root

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self, depth: int) -> Evaluator:
        if depth > MAX_NESTING:
            raise self.fail(f"more than {MAX_NESTING} nested intrinsic functions")
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a function name")
        name = match.group()
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.fail(f"unknown function {name}")
        self.pos = match.end()
        self.skip_spaces()
        if self.text[self.pos : self.pos + 1] != "(":
            raise self.fail(f"expected '(' after {name}")
        self.pos += 1
        arguments = self.arguments(depth)
        count = len(arguments)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise IntrinsicArityError(
                f"Invalid intrinsic function {self.text!r}: "
                f"{name} takes {_arity(spec)} argument(s), got {count}"
            )
        if name == "States.Format" and isinstance(arguments[0], _Literal):
            return _compile_format(arguments)
        return _compile_call(spec.function, arguments)

    def arguments(self, depth: int) -> list:
        arguments: list = []
        self.skip_spaces()
        if self.text[self.pos : self.pos + 1] == ")":
            self.pos += 1
            return arguments
        while True:
            self.skip_spaces()
            arguments.append(self.argument(depth))
            self.skip_spaces()
            char = self.text[self.pos : self.pos + 1]
            self.pos += 1
            if char == ")":
                return arguments
            if char != ",":
                self.pos -= 1
                raise self.fail("expected ',' or ')'")

    def argument(self, depth: int):
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            literal = number.group()
            return _Literal(float(literal) if any(c in literal for c in ".eE") else int(literal))
        for word, value in _KEYWORDS.items():
            if text.startswith(word, pos) and not text[pos + len(word) : pos + len(word) + 1].isalnum():
                self.pos += len(word)
                return _Literal(value)
        raise self.fail("expected a string, a number, a path or a function call")

    def string(self) -> _Literal:
        text = self.text
        start = self.pos + 1
        value: list[str] = []
        i = start
        while i < len(text):
            char = text[i]
            if char == "'":
                self.pos = i + 1
                return _Literal("".join(value), raw=text[start:i])
            if char == "\\":
                escaped = text[i + 1 : i + 2]
                if escaped not in _STRING_ESCAPES or not escaped:
                    self.pos = i
                    raise self.fail("a backslash must escape one of ' { } \\")
                value.append(escaped)
                i += 2
                continue
            value.append(char)
            i += 1
        raise self.fail("unterminated string literal")

    def path(self):
        """A path runs to the next ',' or ')' outside brackets, parentheses and quotes."""
        text, start = self.text, self.pos
        depth, quote, i = 0, None, start
        while i < len(text):
            char = text[i]
            if quote:
                if char == "\\":
                    i += 1
                elif char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            i += 1
        path_text = text[start:i].rstrip()
        self.pos = start + len(path_text)
        try:
            return compile_path(path_text)
        except InvalidPath as error:
            raise self.fail(f"invalid path {path_text!r}") from error


def _arity(spec: Intrinsic) -> str:
    if spec.max_args is None:
        return f"at least {spec.min_args}"
    if spec.min_args == spec.max_args:
        return str(spec.min_args)
    return f"{spec.min_args} to {spec.max_args}"


def _evaluator(argument) -> Evaluator:
    if isinstance(argument, _Literal):
        value = argument.value
        return lambda _value, _env: value
    if callable(argument):  # a nested call, already compiled
        return argument
    return _path_argument(argument)


def _path_argument(path) -> Evaluator:
    # AWS names a `$$` argument rewritten against the context object, and the state input.
    shown = "$" + path.text[2:] if path.root is CONTEXT else path.text

    def read(value: Any, env: Any) -> Any:
        try:
            return path.get(value, env)
        except PathNotFound:
            raise IntrinsicError(
                f"The JsonPath argument for the field '{shown}' could not be found in the input "
                f"'{java_json_text(value)}'"
            ) from None

    return read


def _compile_call(function: Callable[..., Any], arguments: list) -> Evaluator:
    # Calls of one to three arguments are spelled out, with literal arguments passed as they are:
    # intrinsics run on every state that uses them, and a call per argument is most of their cost.
    read = [_evaluator(argument) for argument in arguments]
    literal = [isinstance(argument, _Literal) for argument in arguments]
    if not arguments:
        return lambda value, env: function(env)
    if len(arguments) == 1:
        (only,) = read
        return lambda value, env: function(env, only(value, env))
    if len(arguments) == 2 and literal[1]:
        first, second = read[0], arguments[1].value
        return lambda value, env: function(env, first(value, env), second)
    if len(arguments) == 2:
        first, second = read
        return lambda value, env: function(env, first(value, env), second(value, env))
    if len(arguments) == 3 and literal[2]:
        first, second, third = read[0], read[1], arguments[2].value
        return lambda value, env: function(env, first(value, env), second(value, env), third)
    return lambda value, env: function(env, *[argument(value, env) for argument in read])


def _compile_format(arguments: list) -> Evaluator:
    """States.Format with a literal template: its escapes are read from the text as written."""
    try:
        parts = _format_parts(arguments[0].raw)
    except IntrinsicError as error:
        # AWS reports a malformed literal template when the state runs, not at definition time.
        failure = str(error)

        def fail(value: Any, env: Any) -> Any:
            raise IntrinsicError(failure)

        return fail
    values = [_evaluator(argument) for argument in arguments[1:]]
    return lambda value, env: _render_format(parts, [v(value, env) for v in values])
