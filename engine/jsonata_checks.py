"""JSONata in a definition, checked as AWS checks it when a machine is created: a `{% %}` that does not
parse (INVALID_JSONATA_EXPRESSION), a bare name read at the top level, `$$`, and `$states.errorOutput`
outside a Catch (UNSUPPORTED_JSONATA_EXPRESSION)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from engine import jsonata as jsonata_support
from engine.problems import INVALID_JSONATA_EXPRESSION, UNSUPPORTED_JSONATA_EXPRESSION, Problem, Walk


@functools.lru_cache(maxsize=512)
def _jsonata_error(expression: str) -> str | None:
    """The parser's message for a `{% %}` string that does not parse, else None."""
    try:
        # Compiled once: the engine's compiler reuses what validation parsed (jsonata.parse is cached).
        jsonata_support.parse(jsonata_support.expression_text(expression))
    except jsonata_support.InvalidExpression as exc:
        # jsonatapy says "Parse error: S0202: Expected ..."; AWS quotes the message only.
        return re.sub(r"^(Parse error:\s*)?(S\d{4}:\s*)?", "", exc.message)
    return None


def expression_problems(walk: Walk, value: str, path: str) -> Iterator[Problem]:
    message = _jsonata_error(value)
    if message is not None:
        yield Problem(path, INVALID_JSONATA_EXPRESSION, message)
        return
    for name in top_level_references(value[2:-2]):
        yield Problem(path, UNSUPPORTED_JSONATA_EXPRESSION,
                      f"Reference to '{name}' at the top level is not supported.")
    in_catcher = _CATCHER_FIELD.search(path) is not None
    for message in unsupported_states_references(value[2:-2], in_catcher):
        yield Problem(path, UNSUPPORTED_JSONATA_EXPRESSION, message)


# `$states.errorOutput` exists only in a Catch entry's own Output and Assign.
_CATCHER_FIELD = re.compile(r"/Catch\[\d+\]/(Output|Assign)(?:/|\[|$)")


def unsupported_states_references(source: str, in_catcher: bool) -> list[str]:
    """`$$` (JSONata states have no context path: `$states.context` replaces it) and
    `$states.errorOutput` outside a catcher, both refused by AWS when the definition is created."""
    messages: list[str] = []
    tokens = [t.group() for t in _JSONATA_TOKEN.finditer(source) if not t.group().isspace()]
    for index, token in enumerate(tokens):
        if token.startswith("$$"):
            message = "Reference to '$$' is not supported."
        elif token == "$states" and tokens[index + 1:index + 3] == [".", "errorOutput"] and not in_catcher:
            message = "Reference to '$states.errorOutput' is not supported outside of a Catch."
        else:
            continue
        if message not in messages:
            messages.append(message)
    return messages


# A JSONata token: a string, a backquoted name, a number, a variable, a name, or one punctuation mark
# (two-character operators do not matter here, regular expressions are skipped after the fact).
_JSONATA_TOKEN = re.compile(
    r"""\s+|/\*.*?\*/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"""
    r"""|\$\$?\w*|[^\W\d]\w*|.""",
    re.DOTALL,
)
_OPERATOR_WORDS = frozenset({"and", "or", "in"})
_LITERAL_WORDS = frozenset({"true", "false", "null", "function", "λ"})


def top_level_references(source: str) -> list[str]:
    """Names read from the context item at the top of a JSONata expression (`{% phone %}`).

    AWS evaluates every expression without a context item, so such a name can only mean a
    forgotten `$states.input.`: AWS refuses the definition (UNSUPPORTED_JSONATA_EXPRESSION).
    A name is top-level unless it is a path step (after `.`) or inside something that moves the
    context: a predicate or group-by after an operand (`x[price > 1]`, `x{k: v}`), a sort
    (`^(...)`), a step in parentheses (`.(...)`), or a function body. Where unsure, a name is
    not reported.
    """
    names: list[str] = []
    stack: list[bool] = []  # for each open bracket: does its inside still see the top context?
    top, previous = True, ""
    position = 0
    for match in _JSONATA_TOKEN.finditer(source):
        token = match.group()
        if match.start() < position or token.isspace() or token.startswith("/*"):
            continue
        follows_operand = bool(previous) and previous not in _OPERATOR_WORDS and (
            previous[0].isalnum() or previous[0] in "$'\"`_)]}")
        if token == "/" and not follows_operand:  # a regular expression literal: skip to its end
            end = re.compile(r"(?:[^/\\]|\\.)*/[a-z]*").match(source, match.end())
            position = end.end() if end else len(source)
            previous = ")"
            continue
        if token in "([{":
            moves = (token != "(" and follows_operand) or (token == "(" and previous in (".", "^"))
            stack.append(top)
            top = top and not moves
        elif token in ")]}":
            top = stack.pop() if stack else True
        elif (top and (token[0].isalpha() or token[0] in "_`") and previous != "."
              and token not in _OPERATOR_WORDS | _LITERAL_WORDS):
            name = token.strip("`")
            if name not in names:
                names.append(name)
        previous = token
    return names


