"""Jayway JsonPath filters, `[?(...)]`, read with the grammar of Jayway's FilterCompiler:

    or      = and { '||' and }
    and     = operand { '&&' operand }
    operand = '!' operand | '(' or ')' | value [ operator value ]

A value is a path (`@...` on the item, `$...` on the document), a literal ('text', "text", numbers,
true, false, null, a JSON array or object, /regex/flags), or `!path`. A path alone tests existence.
Comparisons follow Jayway's value nodes rather than Python's: a number equals a string holding that
number, `true` never equals 1, `<` compares only two numbers or two strings, and a missing value
equals nothing (so `!=` holds for it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.jayway_text import BLANKS, JaywayError, NotFound, closing, quoted

UNDEFINED = object()
_OPERATOR_CHARS = "<>=~!"
_NUMBER_CHARS = "0123456789-.Ee"


class _Pattern:
    __slots__ = ("regex",)

    def __init__(self, regex: re.Pattern):
        self.regex = regex


# -- value semantics ---------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> Decimal | None:
    if _is_number(value):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _equals(left: Any, right: Any) -> bool:
    if left is UNDEFINED or right is UNDEFINED or isinstance(left, _Pattern) or isinstance(right, _Pattern):
        return False
    if _is_number(left) or _is_number(right):
        # Jayway's NumberNode and StringNode compare equal when the string holds the same number.
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        left_number, right_number = _as_number(left), _as_number(right)
        return left_number is not None and right_number is not None and left_number == right_number
    if type(left) is not type(right):
        return False
    return _json_equal(left, right) if type(left) in (list, dict) else left == right


def _json_equal(left: Any, right: Any) -> bool:
    if type(left) is dict and type(right) is dict:
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if type(left) is list and type(right) is list:
        return len(left) == len(right) and all(map(_json_equal, left, right))
    return _equals(left, right)


def _compare(check: Callable[[Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if _is_number(left) and _is_number(right) or isinstance(left, str) and isinstance(right, str):
            return check((left > right) - (left < right))
        return False

    return compare


def _contained(item: Any, values: list) -> bool:
    return any(_equals(item, value) for value in values)


def _regex(left: Any, right: Any) -> bool:
    if isinstance(left, _Pattern) == isinstance(right, _Pattern):
        return False
    pattern, subject = (left, right) if isinstance(left, _Pattern) else (right, left)
    if isinstance(subject, bool):
        text = "true" if subject else "false"
    elif isinstance(subject, str) or _is_number(subject):
        text = str(subject)
    else:
        text = ""
    return pattern.regex.fullmatch(text) is not None  # Java's Matcher.matches(): the whole string


def _size(left: Any, right: Any) -> bool:
    return _is_number(right) and isinstance(left, str | list | dict) and len(left) == int(right)


def _empty(left: Any, right: Any) -> bool:
    return isinstance(right, bool) and isinstance(left, str | list | dict) and (len(left) == 0) == right


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return right in left
    return type(left) is list and _contained(right, left)


def _all(left: Any, right: Any) -> bool:
    if type(left) is dict:
        return True  # Jayway: an object cannot be read as a list, and ALL then holds
    return type(left) is list and type(right) is list and all(_contained(item, left) for item in right)


def _lists(check: Callable[[list, list], bool]) -> Callable[[Any, Any], bool]:
    return lambda left, right: type(left) is list and type(right) is list and check(left, right)


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equals,
    "!=": lambda left, right: not _equals(left, right),
    "===": lambda left, right: type(left) is type(right) and _equals(left, right),
    "!==": lambda left, right: not (type(left) is type(right) and _equals(left, right)),
    "<": _compare(lambda order: order < 0),
    "<=": _compare(lambda order: order <= 0),
    ">": _compare(lambda order: order > 0),
    ">=": _compare(lambda order: order >= 0),
    "=~": _regex,
    "IN": lambda left, right: type(right) is list and _contained(left, right),
    "NIN": lambda left, right: not (type(right) is list and _contained(left, right)),
    "CONTAINS": _contains,
    "ALL": _all,
    "SIZE": _size,
    "EMPTY": _empty,
    "SUBSETOF": _lists(lambda left, right: all(_contained(item, right) for item in left)),
    "ANYOF": _lists(lambda left, right: any(_contained(item, right) for item in left)),
    "NONEOF": _lists(lambda left, right: not any(_contained(item, right) for item in left)),
}

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


# -- compiled nodes: callables of (item, root) --------------------------------------------------------
def _path_value(root_char: str, path) -> Callable[[Any, Any], Any]:
    def value(item: Any, root: Any) -> Any:
        try:
            return path.evaluate(item if root_char == "@" else root, root)
        except NotFound:
            return UNDEFINED

    return value


def _exists(value: Callable[[Any, Any], Any], expected: bool) -> Callable[[Any, Any], bool]:
    return lambda item, root: (value(item, root) is not UNDEFINED) == expected


class _FilterReader:
    def __init__(self, text: str, whole_path: str, compile_path: Callable[[str], Any]):
        self.text = text
        self.whole_path = whole_path
        self.compile_path = compile_path
        self.pos = 0

    def fail(self, message: str):
        raise JaywayError(f"{message} in filter of {self.whole_path!r}")

    def skip(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in BLANKS:
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, literal: str) -> bool:
        self.skip()
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def read_or(self):
        operands = [self.read_and()]
        while self.take("||"):
            operands.append(self.read_and())
        if len(operands) == 1:
            return operands[0]
        return lambda item, root: any(operand(item, root) for operand in operands)

    def read_and(self):
        operands = [self.read_operand()]
        while self.take("&&"):
            operands.append(self.read_operand())
        if len(operands) == 1:
            return operands[0]
        return lambda item, root: all(operand(item, root) for operand in operands)

    def read_operand(self):
        start = self.pos
        if self.skip() == "!":
            self.pos += 1
            if self.skip() not in ("$", "@"):
                operand = self.read_operand()
                return lambda item, root: not operand(item, root)
            self.pos = start
        if self.skip() == "(":
            self.pos += 1
            inner = self.read_or()
            if not self.take(")"):
                self.fail("Expected ')'")
            return inner
        return self.read_relation()

    def read_relation(self):
        left, left_path = self.read_value()
        save = self.pos
        operator = self.read_operator()
        if operator is not None:
            right, _ = self.read_value()
            compare = OPERATORS[operator]
            return lambda item, root: compare(left(item, root), right(item, root))
        self.pos = save
        if left_path is None:
            self.fail("A literal alone is not a filter")
        return _exists(left, left_path)

    def read_operator(self) -> str | None:
        self.skip()
        begin = self.pos
        if self.pos < len(self.text) and self.text[self.pos] in _OPERATOR_CHARS:
            while self.pos < len(self.text) and self.text[self.pos] in _OPERATOR_CHARS:
                self.pos += 1
        else:
            while self.pos < len(self.text) and self.text[self.pos] != " ":
                self.pos += 1
        operator = self.text[begin:self.pos].upper()
        if operator in ("TYPE", "MATCHES"):
            self.fail(f"Filter operator {operator} needs a Java class or predicate")
        return operator if operator in OPERATORS else None

    def read_value(self) -> tuple[Callable[[Any, Any], Any], bool | None]:
        """The value and, for a path, whether it should exist (False after '!')."""
        char = self.skip()
        should_exist = True
        if char == "!":
            self.pos += 1
            char = self.skip()
            should_exist = False
            if char not in ("$", "@"):
                self.fail("Unexpected character: !")
        if char in ("$", "@"):
            return self.read_path(), should_exist
        return self.read_literal(char), None

    def read_path(self) -> Callable[[Any, Any], Any]:
        begin = self.pos
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "[":
                close = closing(self.text, self.pos, "[", "]")
                if close < 0:
                    self.fail("Square brackets do not match")
                self.pos = close + 1
                continue
            if char == "(":
                close = closing(self.text, self.pos, "(", ")")
                if close < 0:
                    self.fail("Parentheses do not match")
                self.pos = close + 1
                continue
            if char in _OPERATOR_CHARS or char in BLANKS or char == ")":
                break
            self.pos += 1
        text = self.text[begin:self.pos]
        return _path_value(text[0], self.compile_path(text[1:]))

    def read_literal(self, char: str) -> Callable[[Any, Any], Any]:
        value = self._literal(char)
        return lambda item, root: value

    def _literal(self, char: str) -> Any:
        if char in ("'", '"'):
            value, end = quoted(self.text, self.pos, char)
            if value is None:
                self.fail("String literal does not have matching quotes")
            self.pos = end
            return value
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        if char in "[{":
            close = closing(self.text, self.pos, char, "]" if char == "[" else "}")
            if close < 0:
                self.fail("JSON literal is not closed")
            literal = self.text[self.pos:close + 1]
            self.pos = close + 1
            return _json_literal(literal, self)
        if char == "/":
            return self._pattern()
        end = self.pos
        while end < len(self.text) and self.text[end] in _NUMBER_CHARS:
            end += 1
        number = self.text[self.pos:end]
        try:
            value = Decimal(number)
        except InvalidOperation:
            self.fail(f"Could not read a value at {self.text[self.pos:]!r}")
        self.pos = end
        return int(value) if value == value.to_integral_value() and "." not in number else float(value)

    def _pattern(self) -> _Pattern:
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != "/":
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            self.fail("Pattern not closed")
        source = self.text[self.pos + 1:end]
        self.pos = end + 1
        flags = 0
        while self.pos < len(self.text) and self.text[self.pos].isalpha():
            flags |= _REGEX_FLAGS.get(self.text[self.pos], 0)
            self.pos += 1
        try:
            return _Pattern(re.compile(source, flags))
        except re.error:
            self.fail(f"Invalid regular expression /{source}/")


def _json_literal(text: str, reader: _FilterReader) -> Any:
    """Jayway reads JSON literals with json-smart, which also takes single-quoted strings: ['a','b']."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    parts, pos = [], 0
    while pos < len(text):
        if text[pos] in "'\"":
            value, end = quoted(text, pos, text[pos])
            parts.append(json.dumps(value))
            pos = end
        else:
            parts.append(text[pos])
            pos += 1
    try:
        return json.loads("".join(parts))
    except ValueError:
        reader.fail(f"Invalid JSON literal {text}")


def compile_filter(expression: str, whole_path: str,
                   compile_path: Callable[[str], Any]) -> Callable[[Any, Any], bool]:
    """The predicate of `[?(expression)]`, a callable of (item, root); `compile_path` compiles the
    `@…`/`$…` paths inside it (jayway.compile_jayway, which calls this for the filters of a path)."""
    reader = _FilterReader(expression, whole_path, compile_path)
    predicate = reader.read_or()
    if reader.skip():
        reader.fail(f"Expected end of filter expression instead of {expression[reader.pos:]!r}")
    return predicate
