"""Every path form Jayway JsonPath (the library AWS evaluates JSONPath with) accepts, read as Jayway reads it.

paths.py keeps its fast regex for the canonical definite paths; anything else comes here. `parse(rest)`
reads what follows the root (`$`, `$$`, `$name` or a filter's `@`) into tokens, with Jayway's
PathCompiler rules, which are looser than the JSONPath drafts:

- a dot property runs to the next `.`, `[` or `(`: `$.detail-type`, `$.a:b`, `$.é` are plain keys;
- brackets allow blanks and either quote, and several names: `$[ 'a' ]`, `$.["a"]`, `$['a','b']`;
- indexes, unions and slices: `[0]`, `[-1]`, `[0,2]`, `[1:]`, `[-2:]`, `[:3]`; wildcards `.*`, `[*]`;
  deep scan `..`; filters `[?(...)]` (jayway_filter.py); a trailing function `.length()`
  (jsonpath_functions.py).

When every token is one key or one index the path is definite and paths.py walks it as a key tuple.
Otherwise `JaywayPath.evaluate` answers as Jayway does with AWS's options: a definite path (single keys,
single indexes, a leaf `['a','b']` that merges those keys into an object, a function) yields its value
or raises NotFound; an indefinite one yields the list of its matches, missing branches skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from engine.jayway_filter import compile_filter
from engine.jayway_text import BLANKS, JaywayError, NotFound, closing, quoted, split_top_level
from engine.jsonpath_functions import FUNCTIONS, FunctionError


# -- tokens: each maps one node to the nodes it selects ------------------------------------------------
class Property:
    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.definite = len(names) == 1

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is dict:
            for name in self.names:
                if name in node:
                    yield node[name]


class MergedProperties(Property):
    """`['a','b']` as the last token: one object holding those of the keys that are present."""

    def __init__(self, names: tuple[str, ...]):
        super().__init__(names)
        self.definite = True

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is dict:
            yield {name: node[name] for name in self.names if name in node}


class Index:
    def __init__(self, indexes: tuple[int, ...]):
        self.indexes = indexes
        self.definite = len(indexes) == 1

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is list:
            for index in self.indexes:
                if -len(node) <= index < len(node):
                    yield node[index]


class Slice:
    definite = False

    def __init__(self, start: int | None, stop: int | None):
        self.start, self.stop = start, stop

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is list:
            yield from node[self.start:self.stop]


class Wildcard:
    definite = False

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is dict:
            yield from node.values()
        elif type(node) is list:
            yield from node


class Scan:
    """`..`: the next token applies to the node and to every object and array below it."""

    definite = False

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        yield node
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        for child in children:
            if type(child) in (dict, list):
                yield from self.select(child, root)


class Filter:
    """`[?(...)]`: an object is tested itself, an array's items one by one (as Jayway does)."""

    definite = False

    def __init__(self, predicate):
        self.predicate = predicate

    def select(self, node: Any, root: Any) -> Iterator[Any]:
        if type(node) is dict:
            if self.predicate(node, root):
                yield node
        elif type(node) is list:
            yield from (item for item in node if self.predicate(item, root))


class Function:
    definite = True

    def __init__(self, name: str, arguments: list):
        self.name = name
        self.apply = FUNCTIONS[name]
        self.arguments = arguments  # ("json", value) or ("path", JaywayPath read from the root)


class JaywayPath:
    def __init__(self, tokens: list, function: Function | None):
        self.tokens = tokens
        self.function = function
        self.definite = all(token.definite for token in tokens)
        self.keys = None
        if function is None and all(type(token) in (Property, Index) and token.definite for token in tokens):
            self.keys = tuple(token.names[0] if type(token) is Property else token.indexes[0]
                              for token in tokens)

    def matches(self, node: Any, root: Any) -> list:
        nodes = [node]
        for token in self.tokens:
            nodes = [found for current in nodes for found in token.select(current, root)]
        return nodes

    def evaluate(self, node: Any, root: Any = None) -> Any:
        root = node if root is None else root
        found = self.matches(node, root)
        if self.definite:
            if not found:
                raise NotFound
            value = found[0]
        else:
            value = found
        if self.function is None:
            return value
        if self.function.name in ("length", "size") and self.tokens and type(self.tokens[0]) is Scan:
            # Jayway reads `$..book.length()` as `$.length($..book.*)`: the number of books found.
            value = [child for match in found for child in Wildcard().select(match, root)]
        arguments = [argument if kind == "json" else argument.evaluate(root, root)
                     for kind, argument in self.function.arguments]
        try:
            return self.function.apply(value, arguments)
        except FunctionError:
            raise NotFound from None


# -- the compiler: PathCompiler.readNextToken and friends ---------------------------------------------
class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.tokens: list = []
        self.function: Function | None = None

    def fail(self, message: str):
        raise JaywayError(f"{message} at position {self.pos} in {self.text!r}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def significant(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in BLANKS:
            pos += 1
        return pos

    def read_all(self) -> None:
        if self.at_end():
            return
        if self.text[0] not in ".[":
            self.fail("Illegal character, expected '.' or '['")
        if self.text.endswith("."):
            self.fail("Path must not end with a '.' or '..'")
        while not self.at_end():
            if self.function is not None:
                self.fail("A function must end the path")
            char = self.text[self.pos]
            if char == "[":
                self.read_bracket()
            elif char == ".":
                self.read_dot()
            elif char == "*":
                self.pos += 1
                self.tokens.append(Wildcard())
            else:
                self.read_property_or_function()

    def read_dot(self) -> None:
        if self.text.startswith("..", self.pos):
            self.tokens.append(Scan())
            self.pos += 2
        else:
            self.pos += 1
        if self.at_end() or self.text[self.pos] == ".":
            self.fail("Character '.' is not valid")
        if self.text[self.pos] == " ":
            self.fail("Could not parse token")

    def read_property_or_function(self) -> None:
        start = self.pos
        end = start
        while end < len(self.text) and self.text[end] not in ".[(":
            if self.text[end] == " ":
                self.fail("Use bracket notation ['my prop'] if your property contains blank characters")
            end += 1
        name = self.text[start:end]
        if end < len(self.text) and self.text[end] == "(":
            close = closing(self.text, end, "(", ")")
            if close < 0:
                self.fail(f"Arguments to function: '{name}' are not closed properly")
            if name not in FUNCTIONS:
                self.fail(f"Function with name: {name} does not exist")
            self.function = Function(name, _arguments(self.text[end + 1:close]))
            self.pos = close + 1
        else:
            self.tokens.append(Property((name,)))
            self.pos = end

    def read_bracket(self) -> None:
        first = self.significant(self.pos + 1)
        if first >= len(self.text):
            self.fail("Could not parse token")
        opener = self.text[first]
        if opener in "'\"":
            self.read_names(first, opener)
        elif opener.isdigit() or opener in "-:":
            self.read_indexes()
        elif opener == "*":
            close = self.significant(first + 1)
            if close >= len(self.text) or self.text[close] != "]":
                self.fail("Expected wildcard token to end with ']'")
            self.tokens.append(Wildcard())
            self.pos = close + 1
        elif opener == "?":
            self.read_filter(first)
        else:
            self.fail("Could not parse token, expected ?, ', 0-9, *")

    def read_names(self, pos: int, quote: str) -> None:
        names = []
        while True:
            value, pos = quoted(self.text, pos, quote)
            if value is None:
                self.fail(f"Property has not been closed - missing closing {quote}")
            names.append(value)
            pos = self.significant(pos)
            if pos < len(self.text) and self.text[pos] == "]":
                break
            if pos >= len(self.text) or self.text[pos] != ",":
                self.fail("Property must be separated by comma or terminated by a close square bracket")
            pos = self.significant(pos + 1)
            if pos >= len(self.text) or self.text[pos] != quote:
                self.fail("Found empty property")
        self.pos = pos + 1
        last = self.at_end() or self.text[self.pos:].strip() == ""
        merged = len(names) > 1 and last
        self.tokens.append(MergedProperties(tuple(names)) if merged else Property(tuple(names)))

    def read_indexes(self) -> None:
        close = self.text.find("]", self.pos)
        body = self.text[self.pos + 1:close].strip() if close > 0 else ""
        if close < 0 or not body or any(char not in "0123456789,-: " for char in body):
            self.fail("Could not parse array index or slice")
        try:
            if ":" in body:
                start, _, stop = body.partition(":")
                if ":" in stop:
                    raise ValueError(body)
                self.tokens.append(Slice(int(start) if start.strip() else None,
                                         int(stop) if stop.strip() else None))
            else:
                self.tokens.append(Index(tuple(int(part) for part in body.split(","))))
        except ValueError:
            self.fail(f"Failed to parse array index or slice [{body}]")
        self.pos = close + 1

    def read_filter(self, question: int) -> None:
        open_paren = self.significant(question + 1)
        if open_paren >= len(self.text) or self.text[open_paren] != "(":
            self.fail("Filter must start with '[?(' (predicate placeholders are not supported)")
        close_paren = closing(self.text, open_paren, "(", ")")
        close = self.significant(close_paren + 1) if close_paren > 0 else -1
        if close < 0 or close >= len(self.text) or self.text[close] != "]":
            self.fail("Filter must end with ')]'")
        predicate = compile_filter(self.text[open_paren + 1:close_paren], self.text, compile_jayway)
        self.tokens.append(Filter(predicate))
        self.pos = close + 1


def _arguments(text: str) -> list:
    """Jayway's parseFunctionParameters: a path argument starts with `$` or `@`, a JSON one with `{`,
    a digit or `"`; anything else (a single-quoted string, a minus sign) Jayway silently drops."""
    arguments = []
    for part in split_top_level(text) if text.strip() else []:
        part = part.strip()
        if part[:1] in ("$", "@"):
            arguments.append(("path", compile_jayway(part[1:])))
        elif part[:1] == "{" or part[:1] == '"' or part[:1].isdigit():
            try:
                arguments.append(("json", json.loads(part)))
            except ValueError:
                raise JaywayError(f"Invalid function argument: {part}") from None
    return arguments


def compile_jayway(rest: str) -> JaywayPath:
    """Compile what follows a root (`$`, `$$`, `$name`, `@`); raises JaywayError where Jayway throws
    InvalidPathException."""
    reader = _Reader(rest.strip())
    reader.read_all()
    tokens = reader.tokens
    if tokens and type(tokens[-1]) is MergedProperties and reader.function is not None:
        tokens[-1] = Property(tokens[-1].names)
    return JaywayPath(tokens, reader.function)
