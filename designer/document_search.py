"""Searching executions by a value inside their input or output: `$.order.id = 42` (AWS cannot).

The documents are stored as text (Execution.input/output are TextFields, kept byte for byte as the
API received them), so the search casts them to JSON in the query — `::jsonb` on PostgreSQL, SQLite's
JSON functions on SQLite — and compares with Django's JSONField key lookups, which speak each
database's dialect (`#>` on PostgreSQL, json_extract on SQLite). The value after `=` is read as JSON
(42, "x", true, null, {"a": 1}); a value that is not JSON is a string, as people type it (`= alice`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db.models import JSONField, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast

# $.a.b, $.a[0], $['a b'], $["a"]: the JSONPath subset that names one value (no wildcards, filters).
_STEP = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")
_QUERY = re.compile(r"^\s*(?:(input|output)\s*:\s*)?(\$\S*?)\s*(?:=\s*(.*?))?\s*$", re.DOTALL)
MAX_STEPS = 32


class SearchError(ValueError):
    """What is wrong with a document search, said so that it can be shown at the search box."""


@dataclass(frozen=True)
class DocumentQuery:
    keys: tuple[str | int, ...]
    value: object
    where: str  # "input", "output" or "either"

    def condition(self) -> Q:
        fields = ("input", "output") if self.where == "either" else (self.where,)
        condition = Q()
        for field in fields:
            condition |= Q(**{f"_doc_{field}": self.value})
        return condition

    def annotations(self) -> dict:
        fields = ("input", "output") if self.where == "either" else (self.where,)
        return {f"_doc_{field}": self._path(Cast(field, JSONField())) for field in fields}

    def _path(self, expression):
        for key in self.keys:
            # Django's key transform reads a whole-number key as an array index on every database.
            expression = KeyTransform(str(key), expression)
        return expression


def looks_like_document_query(text: str) -> bool:
    return text.lstrip().startswith("$") or re.match(r"^\s*(input|output)\s*:", text) is not None


def parse(text: str) -> DocumentQuery:
    """`[input:|output:]$.path = value` → a DocumentQuery, or SearchError saying what is wrong."""
    match = _QUERY.match(text)
    if match is None:
        raise SearchError("Search a value as $.path = value, for example $.order.id = 42")
    where, path, value_text = match.group(1) or "either", match.group(2), match.group(3)
    if value_text is None or value_text == "":
        raise SearchError(f"Say which value {path} should have: {path} = 42, or {path} = \"text\"")
    keys = parse_path(path)
    try:
        value = json.loads(value_text)
    except ValueError:
        value = value_text  # a bare word is the string people mean
    return DocumentQuery(keys=keys, value=value, where=where)


def parse_path(path: str) -> tuple[str | int, ...]:
    if not path.startswith("$"):
        raise SearchError(f"A path starts with $, as in $.order.id (not {path[:40]!r})")
    keys: list[str | int] = []
    position = 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise SearchError(f"Invalid path {path[:80]!r} at character {position + 1}: write fields as "
                              f".name or ['name'] and array items as [0] (no wildcards or filters)")
        name, index, single, double = step.groups()
        if index is not None:
            keys.append(int(index))
        else:
            key = name if name is not None else (single if single is not None else double)
            if re.fullmatch(r"\d+", key):
                # Django's key lookups would take it for an array index.
                raise SearchError(f"Fields named by digits ({key!r}) cannot be searched")
            keys.append(key.replace("\\'", "'").replace('\\"', '"'))
        position = step.end()
    if not keys:
        raise SearchError("Name a field inside the document: $.order.id, not $ alone")
    if len(keys) > MAX_STEPS:
        raise SearchError(f"A path has at most {MAX_STEPS} steps")
    return tuple(keys)


def filter_executions(executions, query: DocumentQuery):
    return executions.alias(**query.annotations()).filter(query.condition())
