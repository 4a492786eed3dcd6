"""The text of a Jayway path, read character by character: what the path reader (jayway.py) and the
filter reader (jayway_filter.py) share. Kept apart so that neither of those imports the other's
internals: a path holds filters and a filter holds paths, so the filter reader is handed the path
compiler by its caller instead of importing it."""

from __future__ import annotations

BLANKS = " \t\r\n"


class JaywayError(ValueError):
    """The text is not a path Jayway compiles."""


class NotFound(Exception):
    """A definite path selected nothing."""


def quoted(text: str, pos: int, quote: str) -> tuple[str | None, int]:
    """The quoted string starting at `pos` (unescaped) and the position after its closing quote."""
    chars = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            chars.append(_ESCAPES.get(text[pos + 1], text[pos + 1]))
            pos += 2
            continue
        if char == quote:
            return "".join(chars), pos + 1
        chars.append(char)
        pos += 1
    return None, pos


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def closing(text: str, pos: int, opener: str, closer: str) -> int:
    """Index of the bracket closing the one at `pos`, skipping quoted strings; -1 if there is none."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            _, pos = quoted(text, pos, char)
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return -1


def split_top_level(text: str) -> list[str]:
    parts, depth, start, pos = [], 0, 0, 0
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            _, pos = quoted(text, pos, char)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:pos])
            start = pos + 1
        pos += 1
    parts.append(text[start:])
    return parts
