"""Compare two revisions of a machine (/machines/<name>/compare/?a=N&b=M): both graphs side by side with
the added, removed and changed states marked, and a line diff of the two definitions' JSON.

Which states differ is decided here, on the definitions (not on the drawings): state names are unique
across a whole machine, branches and processors included, so a state is the same state in both when
its name is. A state is changed when its own fields differ, or when it moved to another branch; a
Parallel or Map whose nested states changed is not changed itself (those states are marked instead).
"""

from __future__ import annotations

import difflib
import json
import re
from html import unescape
from typing import Any

from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from designer import graph
from designer.models import StateMachine
from engine import jsontext

SUB_MACHINE_KEYS = ("ItemProcessor", "Iterator")


def _own_fields(state: Any) -> Any:
    """A state without its nested states (they are compared one by one): a branch keeps its StartAt
    and other settings, so rewiring a branch changes its Parallel."""
    if not isinstance(state, dict):
        return state
    own = dict(state)
    if isinstance(own.get("Branches"), list):
        own["Branches"] = [{k: v for k, v in b.items() if k != "States"} if isinstance(b, dict) else b
                           for b in own["Branches"]]
    for key in SUB_MACHINE_KEYS:
        if isinstance(own.get(key), dict):
            own[key] = {k: v for k, v in own[key].items() if k != "States"}
    return own


def flatten_states(machine: Any, where: str = "") -> dict[str, tuple[str, Any]]:
    """name → (where it lives, its own fields), for every state at every depth."""
    found: dict[str, tuple[str, Any]] = {}
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return found
    for name, state in states.items():
        found[name] = (where, _own_fields(state))
        if not isinstance(state, dict):
            continue
        branches = state.get("Branches") if state.get("Type") == "Parallel" else None
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            found.update(flatten_states(branch, f"{where}/{name}/Branches[{index}]"))
        for key in SUB_MACHINE_KEYS:
            if state.get("Type") == "Map" and isinstance(state.get(key), dict):
                found.update(flatten_states(state[key], f"{where}/{name}/{key}"))
    return found


def compare_states(old: Any, new: Any) -> dict[str, set[str]]:
    """The states added, removed and changed from `old` to `new` (two definitions), nested ones too."""
    before, after = flatten_states(old), flatten_states(new)
    return {
        "added": set(after) - set(before),
        "removed": set(before) - set(after),
        "changed": {name for name in set(before) & set(after) if before[name] != after[name]},
    }


_GROUP = re.compile(r'<g id="([^"]*)" class="([^"]*)"')


def with_marks(svg: str, marks: dict[str, str]) -> str:
    """The drawing with `state-diff-<kind>` on each marked state's node and cluster (`kind`: added,
    removed or changed) and `state-diff-same` on the others (dimmed, so that a Succeed's own green is
    not read as "added"), found by the stable ids graph.py gives them."""
    def mark(match: re.Match) -> str:
        element_id, classes = unescape(match.group(1)), unescape(match.group(2)).split()
        for prefix, kind in (("state-", "state"), ("group-", "state-group")):
            if element_id.startswith(prefix) and kind in classes:
                return f'{match.group(0)[:-1]} state-diff-{marks.get(element_id[len(prefix):], "same")}"'
        return match.group(0)

    return _GROUP.sub(mark, svg)


def pretty(definition: Any) -> list[str]:
    return json.dumps(definition, indent=2, ensure_ascii=False).splitlines()


def line_diff(old_lines: list[str], new_lines: list[str], context: int = 3) -> list[dict]:
    """Side-by-side rows of a line diff: {kind, old_number, old, new_number, new}; kind is equal,
    delete, insert, replace or skip (a run of unchanged lines left out, `old` says how many)."""
    rows: list[dict] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if rows or group[0][1] > 0:
            rows.append({"kind": "skip"})
        for tag, i1, i2, j1, j2 in group:
            for offset in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + offset, j1 + offset
                row = {"kind": tag, "old_number": None, "old": None, "new_number": None, "new": None}
                if i < i2 and tag != "insert":
                    row.update(old_number=i + 1, old=old_lines[i])
                if j < j2 and tag != "delete":
                    row.update(new_number=j + 1, new=new_lines[j])
                rows.append(row)
    return rows


def _read(text: str) -> Any:
    try:
        return jsontext.loads(text)
    except jsontext.JsonTextError:
        return None


def compare(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    revisions = list(machine.revisions.order_by("number").prefetch_related("versions"))
    numbers = [revision.number for revision in revisions]

    def chosen(key: str, default: int) -> int:
        value = request.GET.get(key, "")
        return int(value) if value.isdigit() and int(value) in numbers else default

    new_number = chosen("b", numbers[-1])
    old_number = chosen("a", numbers[-2] if len(numbers) > 1 else numbers[-1])
    by_number = {revision.number: revision for revision in revisions}
    old, new = by_number[old_number], by_number[new_number]
    old_definition, new_definition = _read(old.definition), _read(new.definition)
    changes = compare_states(old_definition, new_definition)
    old_marks = dict.fromkeys(changes["removed"], "removed") | dict.fromkeys(changes["changed"], "changed")
    new_marks = dict.fromkeys(changes["added"], "added") | dict.fromkeys(changes["changed"], "changed")
    old_svg, new_svg = graph.definition_svg(old.definition), graph.definition_svg(new.definition)
    diff = line_diff(pretty(old_definition) if old_definition is not None else old.definition.splitlines(),
                     pretty(new_definition) if new_definition is not None else new.definition.splitlines())
    return render(request, "designer/compare.html", {
        "machine": machine, "revisions": revisions, "old": old, "new": new,
        "added": sorted(changes["added"]), "removed": sorted(changes["removed"]),
        "changed": sorted(changes["changed"]),
        "old_graph": mark_safe(with_marks(old_svg, old_marks)) if old_svg else None,
        "new_graph": mark_safe(with_marks(new_svg, new_marks)) if new_svg else None,
        "diff": diff, "identical": old.definition == new.definition,
    })
