"""An approval's message, rendered safely: everything is escaped first, then only paragraphs (a blank
line), line breaks, **bold** and [links](https://...) are made into HTML. The message carries values
from the execution's input, so it is untrusted: no raw HTML, no other URL schemes than http(s) and
mailto."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
# Escaped text: a link's URL may not contain a quote (escaped to &quot;/&#x27;), space or angle bracket.
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()&<>\"']*(?:&amp;[^\s()&<>\"']*)*)\)")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")


def _inline(text: str) -> str:
    text = _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', text)
    return _BOLD.sub(r"<strong>\1</strong>", text)


def render_message(text: str) -> SafeString:
    escaped = escape(text.replace("\r\n", "\n").strip())
    paragraphs = [part for part in _PARAGRAPHS.split(escaped) if part.strip()]
    return mark_safe("".join(f"<p>{_inline(part).replace(chr(10), '<br>')}</p>" for part in paragraphs))


def plain_message(text: str) -> str:
    """The text email's version: links as "text (url)", bold marks dropped."""
    text = re.sub(r"\[([^\]\n]+)\]\(([^)\s]+)\)", r"\1 (\2)", text)
    return _BOLD.sub(r"\1", text.replace("\r\n", "\n").strip())
