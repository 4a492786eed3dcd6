"""Choice rules in the JSONPath query language, compiled once into predicates `(value, env) -> bool`.

A rule is either a Boolean expression (`And`, `Or`, `Not`, nested at will) or a data test: a
`Variable` path and exactly one comparison operator. Every operator is a row in a table below; the
`…Path` variants are not written out but derived from the comparison table, reading the right-hand
side from a path (`$.x`, `$$.x` or `$var.x`) at evaluation time instead of from a literal.

What AWS does, where the spec is silent or Python would do otherwise:

- A value of the wrong type makes a test false, never an error: `NumericEquals` on `"1"`, on `true`
  (Python's `True == 1` does not apply: booleans are not numbers), `StringEquals` on `null`, ...
- A `Variable` (or a `…Path` operand) that selects nothing fails the state with `States.Runtime`,
  except for `IsPresent`, whose whole job is to ask. A JSON `null` is present.
- Strings order as Java's `String.compareTo` does: by UTF-16 code units, not by code points, so a
  character outside the BMP sorts below U+E000…U+FFFF.
- Timestamps are RFC 3339 with an uppercase `T` and `Z` (or a `±hh:mm` offset), optional fraction
  of up to 9 digits (nanoseconds, Java's precision); instants compare, not strings.
- `1` equals `1.0`; ints and floats compare exactly.

Checking a rule is separate from compiling it: `rule_problems(rule, at)` lists every problem as
`(json_path, message)` for the definition validator, in AWS's `/States/Name/Choices/0/...` form;
`compile_choice_rule` raises `InvalidChoiceRule` with the first one.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from engine.errors import RUNTIME, StatesError
from engine.paths import InvalidPath, Path, PathNotFound, compile_path

Predicate = Callable[[Any, Any], bool]

# Fields of a top-level rule that belong to the Choice state, not to the condition.
TRANSITION_FIELDS = frozenset({"Next", "Comment", "Assign", "Output"})
BOOLEAN_OPERATORS = ("And", "Or", "Not")


class InvalidChoiceRule(ValueError):
    """A rule AWS would reject when the state machine is created. `path` points at the bad field."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{message} at {path}")
        self.path = path
        self.message = message


# --- types -------------------------------------------------------------------------------------
# `type(x) is …` and not isinstance: bool is a subclass of int, and JSON booleans are not numbers.


def is_null(value: Any) -> bool:
    return value is None


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def is_string(value: Any) -> bool:
    return type(value) is str


def is_boolean(value: Any) -> bool:
    return type(value) is bool


_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()
_MAX_OFFSET_SECONDS = 18 * 3600  # java.time.ZoneOffset's range


def parse_timestamp(text: str) -> tuple[int, int] | None:
    """`(seconds since the epoch, nanoseconds)` of an RFC 3339 timestamp as ASL allows it, else None.

    The ASL spec demands an uppercase `T` and `Z`, so `2016-03-14t01:59:00z`, a missing offset
    (`2016-03-14T01:59:00`) and a space for `T` are not timestamps. Calendar checks (month 13,
    February 30, hour 24, second 60) reject as well.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    offset = 0
    if sign is not None:
        if int(off_minutes) > 59:
            return None
        offset = int(off_hours) * 3600 + int(off_minutes) * 60
        if offset > _MAX_OFFSET_SECONDS:
            return None
        if sign == "-":
            offset = -offset
    seconds = (
        (moment.toordinal() - _EPOCH_ORDINAL) * 86400 + moment.hour * 3600 + moment.minute * 60
        + moment.second - offset
    )
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return seconds, nanos


def is_timestamp(value: Any) -> bool:
    return type(value) is str and parse_timestamp(value) is not None


# --- operand kinds: which values a comparison accepts, and the form in which they compare ------


class Operand(NamedTuple):
    """`read(value)` returns the comparable form of a value of this kind, or None for any other value."""

    type_name: str  # as AWS names the type a literal must have
    read: Callable[[Any], Any]


def _number_key(value: Any) -> Any:
    return value if is_number(value) else None


def _string_key(value: Any) -> Any:
    # Big-endian UTF-16 bytes order exactly as Java compares chars (unsigned 16-bit code units).
    # 'surrogatepass' because JSON text may carry a lone surrogate ("\ud800").
    return value.encode("utf-16-be", "surrogatepass") if type(value) is str else None


def _boolean_key(value: Any) -> Any:
    return value if type(value) is bool else None


def _timestamp_key(value: Any) -> Any:
    return parse_timestamp(value) if type(value) is str else None


NUMBER = Operand("NUMBER", _number_key)
STRING = Operand("STRING", _string_key)
BOOLEAN = Operand("BOOLEAN", _boolean_key)
TIMESTAMP = Operand("TIMESTAMP", _timestamp_key)

# --- the operator tables -------------------------------------------------------------------------

COMPARISONS: Mapping[str, tuple[Operand, Callable[[Any, Any], bool]]] = {
    "StringEquals": (STRING, operator.eq),
    "StringLessThan": (STRING, operator.lt),
    "StringGreaterThan": (STRING, operator.gt),
    "StringLessThanEquals": (STRING, operator.le),
    "StringGreaterThanEquals": (STRING, operator.ge),
    "NumericEquals": (NUMBER, operator.eq),
    "NumericLessThan": (NUMBER, operator.lt),
    "NumericGreaterThan": (NUMBER, operator.gt),
    "NumericLessThanEquals": (NUMBER, operator.le),
    "NumericGreaterThanEquals": (NUMBER, operator.ge),
    "BooleanEquals": (BOOLEAN, operator.eq),
    "TimestampEquals": (TIMESTAMP, operator.eq),
    "TimestampLessThan": (TIMESTAMP, operator.lt),
    "TimestampGreaterThan": (TIMESTAMP, operator.gt),
    "TimestampLessThanEquals": (TIMESTAMP, operator.le),
    "TimestampGreaterThanEquals": (TIMESTAMP, operator.ge),
}

# Every comparison has a variant whose right-hand side is a path. StringMatches and the Is* tests
# have none in AWS.
PATH_COMPARISONS: Mapping[str, str] = {name + "Path": name for name in COMPARISONS}

# Is* tests take a boolean literal: true asks "is it?", false asks "is it not?".
TYPE_TESTS: Mapping[str, Callable[[Any], bool]] = {
    "IsNull": is_null,
    "IsNumeric": is_number,
    "IsString": is_string,
    "IsBoolean": is_boolean,
    "IsTimestamp": is_timestamp,
}

DATA_TEST_OPERATORS = frozenset(
    {*COMPARISONS, *PATH_COMPARISONS, *TYPE_TESTS, "IsPresent", "StringMatches"}
)


# --- StringMatches -------------------------------------------------------------------------------

_WILDCARD_TOKENS = re.compile(r"\\\*|\\\\|\*|[^\\*]+|\\")


def wildcard_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile a StringMatches pattern. `*` matches any run of characters, newlines included.

    `\*` is a literal star and `\\` a literal backslash (in JSON text: "\\*" and "\\\\"); no
    other character is special, so a backslash before anything else stands for itself.
    """
    parts = []
    for token in _WILDCARD_TOKENS.findall(pattern):
        if token == "*":
            parts.append(".*")
        elif token in ("\\*", "\\\\"):
            parts.append(re.escape(token[1]))
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.DOTALL)


# --- checking ------------------------------------------------------------------------------------


def rule_problems(rule: Any, at: str, *, top_level: bool = True) -> list[tuple[str, str]]:
    """Every reason AWS would reject this Choice rule, as `(json_path, message)` pairs.

    `at` is the rule's own location, e.g. `/States/Check/Choices/0`. A top-level rule must carry a
    `Next` (a string); a rule nested in And/Or/Not must not. Whether `Next` names an existing state
    is a graph check, left to the validator.
    """
    problems: list[tuple[str, str]] = []
    _check(rule, at, top_level, problems, require_next=top_level)
    return problems


def _check(
    rule: Any, at: str, top_level: bool, problems: list[tuple[str, str]], *, require_next: bool = False
) -> None:
    if not isinstance(rule, dict):
        problems.append((at, "Expected value of type: OBJECT"))
        return
    allowed = DATA_TEST_OPERATORS | {"Variable", "Comment", *BOOLEAN_OPERATORS}
    if top_level:
        allowed = allowed | TRANSITION_FIELDS
        if "Next" not in rule:
            if require_next:
                problems.append((at, "The field 'Next' is required but was missing"))
        elif not isinstance(rule["Next"], str):
            problems.append((f"{at}/Next", "Expected value of type: STRING"))
        if "Assign" in rule and not isinstance(rule["Assign"], dict):
            problems.append((f"{at}/Assign", "Expected value of type: OBJECT"))
    for field in rule:
        if field not in allowed:
            where = "a nested Choice Rule" if field == "Next" else "a Choice Rule"
            problems.append((f"{at}/{field}", f"Field '{field}' is not supported in {where}"))

    operators = [field for field in rule if field in DATA_TEST_OPERATORS or field in BOOLEAN_OPERATORS]
    if len(operators) != 1:
        found = ", ".join(operators) if operators else "none"
        problems.append(
            (at, f"A Choice Rule must have exactly one comparison operator or And/Or/Not (found: {found})")
        )
        return
    name = operators[0]
    operand = rule[name]
    if name in BOOLEAN_OPERATORS:
        if "Variable" in rule:
            problems.append((f"{at}/Variable", f"Field 'Variable' is not supported next to '{name}'"))
        if name == "Not":
            _check(operand, f"{at}/Not", False, problems)
        elif not isinstance(operand, list) or not operand:
            problems.append((f"{at}/{name}", f"'{name}' must be a non-empty array of Choice Rules"))
        else:
            for index, sub in enumerate(operand):
                _check(sub, f"{at}/{name}/{index}", False, problems)
        return

    if "Variable" not in rule:
        problems.append((at, "The field 'Variable' is required but was missing"))
    else:
        _check_path(rule["Variable"], f"{at}/Variable", problems)
    where = f"{at}/{name}"
    if name in PATH_COMPARISONS:
        _check_path(operand, where, problems)
    elif name in TYPE_TESTS or name == "IsPresent":
        if type(operand) is not bool:
            problems.append((where, "Expected value of type: BOOLEAN"))
    elif name == "StringMatches":
        if type(operand) is not str:
            problems.append((where, "Expected value of type: STRING"))
    else:
        kind = COMPARISONS[name][0]
        if kind is TIMESTAMP:
            if type(operand) is not str:
                problems.append((where, "Expected value of type: STRING"))
            elif parse_timestamp(operand) is None:
                problems.append((where, "String does not match RFC3339 timestamp"))
        elif kind.read(operand) is None:
            problems.append((where, f"Expected value of type: {kind.type_name}"))


def _check_path(text: Any, where: str, problems: list[tuple[str, str]]) -> None:
    field = where.rsplit("/", 1)[-1]
    if type(text) is not str:
        problems.append((where, "Expected value of type: STRING"))
        return
    try:
        compile_path(text)
    except InvalidPath:
        problems.append((where, f"The value for the field '{field}' must be a valid JSONPath"))


# --- compiling -----------------------------------------------------------------------------------


def compile_choice_rule(rule: dict) -> Predicate:
    """Compile one entry of `Choices` into `predicate(value, env) -> bool`.

    `value` is the Choice state's effective input; `env` supplies `$$` and variables (see paths.py).
    The predicate raises `StatesError(States.Runtime, …)` when a path it must read selects nothing.
    `Next`, `Comment`, `Assign` and `Output` are ignored: they are the interpreter's. Raises
    `InvalidChoiceRule` for a rule `rule_problems` would report.
    """
    problems: list[tuple[str, str]] = []
    _check(rule, "", True, problems)  # top-level fields allowed, but Next not required
    if problems:
        path, message = problems[0]
        raise InvalidChoiceRule(path or "/", message)
    return _compile(rule)


def _compile(rule: dict) -> Predicate:
    if "And" in rule:
        return _all_of(tuple(_compile(sub) for sub in rule["And"]))
    if "Or" in rule:
        return _any_of(tuple(_compile(sub) for sub in rule["Or"]))
    if "Not" in rule:
        return _none_of(_compile(rule["Not"]))
    name = next(field for field in rule if field in DATA_TEST_OPERATORS)
    variable = compile_path(rule["Variable"])
    operand = rule[name]
    if name == "IsPresent":
        return _is_present(variable, operand)
    read_variable = _reader(variable)
    if name in TYPE_TESTS:
        return _type_test(read_variable, TYPE_TESTS[name], operand)
    if name == "StringMatches":
        return _string_matches(read_variable, wildcard_pattern(operand))
    if name in PATH_COMPARISONS:
        kind, compare = COMPARISONS[PATH_COMPARISONS[name]]
        return _compare_paths(read_variable, _reader(compile_path(operand)), kind.read, compare)
    kind, compare = COMPARISONS[name]
    return _compare_literal(read_variable, kind.read(operand), kind.read, compare)


# Boolean expressions evaluate left to right and stop early: AWS documents
# `And: [{IsPresent: true}, {StringEquals: …}]` as the way to test a key that may be missing.


def _all_of(rules: tuple[Predicate, ...]) -> Predicate:
    def all_of(value: Any, env: Any) -> bool:
        for rule in rules:
            if not rule(value, env):
                return False
        return True

    return all_of


def _any_of(rules: tuple[Predicate, ...]) -> Predicate:
    def any_of(value: Any, env: Any) -> bool:
        for rule in rules:
            if rule(value, env):
                return True
        return False

    return any_of


def _none_of(rule: Predicate) -> Predicate:
    def none_of(value: Any, env: Any) -> bool:
        return not rule(value, env)

    return none_of


def invalid_path_error(path: Path) -> StatesError:
    # AWS quotes the path as written in the definition, not in Jayway's normalised form.
    return StatesError(
        RUNTIME, f"Invalid path '{path.text}': The choice state's condition path references an invalid value."
    )


def _reader(path: Path) -> Callable[[Any, Any], Any]:
    get = path.get

    def read(value: Any, env: Any) -> Any:
        try:
            return get(value, env)
        except PathNotFound:
            raise invalid_path_error(path) from None

    return read


def _is_present(path: Path, expected: bool) -> Predicate:
    get = path.get

    def is_present(value: Any, env: Any) -> bool:
        try:
            get(value, env)
        except PathNotFound:
            return not expected
        return expected

    return is_present


def _type_test(read: Callable, has_type: Callable[[Any], bool], expected: bool) -> Predicate:
    def type_test(value: Any, env: Any) -> bool:
        return has_type(read(value, env)) is expected

    return type_test


def _string_matches(read: Callable, pattern: re.Pattern[str]) -> Predicate:
    fullmatch = pattern.fullmatch

    def string_matches(value: Any, env: Any) -> bool:
        left = read(value, env)
        return type(left) is str and fullmatch(left) is not None

    return string_matches


def _compare_literal(read: Callable, right: Any, key: Callable, compare: Callable) -> Predicate:
    def compare_literal(value: Any, env: Any) -> bool:
        left = key(read(value, env))
        return left is not None and compare(left, right)

    return compare_literal


def _compare_paths(read_left: Callable, read_right: Callable, key: Callable, compare: Callable) -> Predicate:
    def compare_paths(value: Any, env: Any) -> bool:
        # Both paths are read before either type is looked at, so a missing right-hand side fails
        # the state even when the left-hand value could never have matched.
        left = key(read_left(value, env))
        right = key(read_right(value, env))
        return left is not None and right is not None and compare(left, right)

    return compare_paths
