"""How the pages show the JSON documents an execution holds (input, output, event details, definitions).

A document may be 256 KiB (a definition 1 MiB) and, if it was stored before the API refused deep
nesting, thousands of levels deep. Indenting repeats up to two spaces per level on every line, so a
10 KB `[[[…]]]` 5,000 levels deep became 50 MB of spaces: pages indent only small, shallow documents,
show at most SHOWN_CHARS of any document and link to the whole one, served as stored.
"""

import json
import re
from dataclasses import dataclass

from django.http import HttpResponse
from django.utils.http import content_disposition_header

SHOWN_CHARS = 64 * 1024  # of a document on a page; the download link gives the rest
PRETTY_MAX_CHARS = 64 * 1024  # larger documents are shown as stored (no indentation)
PRETTY_MAX_DEPTH = 20  # deeper documents too: indentation would outgrow the text itself
DETAILS_SHOWN_CHARS = 300  # of a history event's details, in its table row

_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Shown:
    """The part of a document a page shows."""

    text: str
    total_chars: int
    truncated: bool

    @property
    def total_kb(self) -> int:
        return max(1, round(self.total_chars / 1024))


def printable(text: str) -> str:
    """`text` with lone surrogates written as JSON escapes (\\ud800): they cannot be encoded in
    UTF-8, so a page or download holding one would fail; inside a JSON string the escape means the
    same thing."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _depth(json_text: str) -> int:
    """How deeply the arrays and objects of valid JSON text nest (counted in the text: walking the
    parsed value would recurse)."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", json_text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _pretty(text: str) -> str:
    if len(text) > PRETTY_MAX_CHARS:
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON (stored before validation) or too deep to parse
        return text
    if _depth(text) > PRETTY_MAX_DEPTH:
        return text
    return json.dumps(value, indent=2, ensure_ascii=False)


def show(text: str | None, limit: int = SHOWN_CHARS) -> Shown | None:
    """The document as a page shows it: indented if small and shallow, cut after `limit` characters."""
    if text is None:
        return None
    shown = printable(_pretty(text))
    return Shown(text=shown[:limit], total_chars=len(text), truncated=len(shown) > limit)


def show_details(details: dict | None) -> Shown:
    """A history event's details on one line of the history table (its name and the `…Details`
    flags have columns or mean nothing there)."""
    shown = {key: value for key, value in (details or {}).items()
             if key != "name" and not key.endswith("Details")}
    text = json.dumps(shown, ensure_ascii=False) if shown else ""
    cut = printable(text[:DETAILS_SHOWN_CHARS])
    return Shown(text=cut + ("…" if len(text) > DETAILS_SHOWN_CHARS else ""), total_chars=len(text),
                 truncated=len(text) > DETAILS_SHOWN_CHARS)


def attachment(text: str, filename: str) -> HttpResponse:
    """The whole document as a JSON download."""
    return HttpResponse(printable(text).encode(), content_type="application/json; charset=utf-8",
                        headers={"Content-Disposition": content_disposition_header(True, filename),
                                 "X-Content-Type-Options": "nosniff"})
