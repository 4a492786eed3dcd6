"""A state machine drawn as a graph: definition → DOT → SVG with Graphviz, as AWS's console draws it.

Start and End markers, one box per state with a class per type (`state-type-task`…), Parallel
branches and Map processors as clusters nested to any depth, Choice rules and Catch edges labelled.
Every node and edge has a stable id (`state-<name>`, `edge-<from>-<to>-<kind>`), so a live view
toggles status classes on the drawing and never lays it out again.

Safety: state names, rules and error names are user data. Every label goes through
`graphviz.escape` (backslashes literal, never an HTML-like label: Graphviz's HTML labels may load
image files), DOT node names are generated (`n0`, `n1`…), no URL/href/tooltip/image attribute is ever
set, and the SVG that comes back is checked element by element before it is served inline.
`dot` runs as a subprocess under a time-out; big definitions and big drawings are refused with a
placeholder drawing that says why. Drawings are cached in process memory by definition hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Iterable
from html import escape as xml_escape
from html import unescape

import graphviz

DOT_TIMEOUT_SECONDS = 5.0
MAX_STATES = 500  # ~2.5 s of layout; a bigger machine is a list, not a picture
MAX_SVG_BYTES = 4 * 1024 * 1024
CACHE_SIZE = 256
NAME_WIDTH = 26  # characters per line of a state's name in its box
LABEL_CHARS = 44  # edge labels (rules, error names) are cut to this

FONT = "Helvetica,Arial,sans-serif"
# Fill and border per state type; the page's stylesheet may override them (dark mode, statuses).
TYPE_STYLE = {
    "Task": ("#eef4ff", "#4f6fd8"),
    "Pass": ("#f6f7f9", "#8d96a8"),
    "Choice": ("#fff6e5", "#d08a16"),
    "Wait": ("#f3f0ff", "#7c5cd6"),
    "Succeed": ("#ecfdf3", "#1b8a4b"),
    "Fail": ("#fef3f2", "#c4320a"),
    "Parallel": ("#ffffff", "#5b6478"),
    "Map": ("#ffffff", "#5b6478"),
}
UNKNOWN_STYLE = ("#ffffff", "#8d96a8")
EDGE_COLOR = "#6b7489"
TERMINAL_TYPES = {"Succeed", "Fail"}

# Choice rule operators, shown as a short comparison ("$.x > 5").
_COMPARISON = {"Equals": "==", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "<=",
               "GreaterThanEquals": ">="}
OPERATORS = {f"{kind}{name}": sign for kind in ("String", "Numeric", "Timestamp")
             for name, sign in _COMPARISON.items()}
OPERATORS.update({"BooleanEquals": "==", "StringMatches": "matches"})
TYPE_TESTS = {"IsNull": ("is null", "is not null"), "IsPresent": ("is present", "is absent"),
              "IsNumeric": ("is numeric", "is not numeric"), "IsString": ("is a string", "is not a string"),
              "IsBoolean": ("is a boolean", "is not a boolean"),
              "IsTimestamp": ("is a timestamp", "is not a timestamp")}


# -- definition → DOT ----------------------------------------------------------------------------------
def count_states(states: object) -> int:
    """States in a `States` object, nested branches and processors included."""
    if not isinstance(states, dict):
        return 0
    total = 0
    for state in states.values():
        total += 1
        if isinstance(state, dict):
            for machine in _sub_machines(state):
                total += count_states(machine.get("States"))
    return total


def _sub_machines(state: dict) -> list[dict]:
    if state.get("Type") == "Parallel":
        branches = state.get("Branches")
        return [b for b in branches if isinstance(b, dict)] if isinstance(branches, list) else []
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor", state.get("Iterator"))
        return [processor] if isinstance(processor, dict) else []
    return []


def _is_distributed(state: dict) -> bool:
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    return isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"


def _cut(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(*lines: str) -> graphviz.quoting.NoHtml:
    """A plain-text label: each line escaped on its own (backslashes literal), joined by DOT's \\n, and
    marked as never HTML-like even when the whole text looks like `<…>`."""
    return graphviz.nohtml(r"\n".join(graphviz.escape(line) for line in lines))


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else json.dumps(value)[:80]


def rule_text(rule: object) -> str:
    """A Choice rule as a short readable comparison: `$.x > 5`, `not ($.done == true)`, or the JSONata
    Condition without its `{% %}`."""
    if not isinstance(rule, dict):
        return "?"
    condition = rule.get("Condition")
    if isinstance(condition, str):
        text = condition.strip()
        if text.startswith("{%") and text.endswith("%}"):
            text = text[2:-2].strip()
        return text
    for combinator, joiner in (("And", " and "), ("Or", " or ")):
        if isinstance(rule.get(combinator), list):
            parts = [rule_text(inner) for inner in rule[combinator]]
            return joiner.join(f"({part})" if " and " in part or " or " in part else part for part in parts)
    if "Not" in rule:
        return f"not ({rule_text(rule['Not'])})"
    variable = str(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in OPERATORS:
            return f"{variable} {OPERATORS[key]} {_value(value)}"
        if key.endswith("Path") and key[:-4] in OPERATORS:
            return f"{variable} {OPERATORS[key[:-4]]} {value}"
        if key in TYPE_TESTS:
            return f"{variable} {TYPE_TESTS[key][0 if value is True else 1]}"
    return "rule"


def _type_line(state: dict) -> str:
    kind = state.get("Type")
    if kind == "Map":
        return "Distributed map" if _is_distributed(state) else "Map"
    if kind == "Task" and isinstance(state.get("Resource"), str):
        resource = state["Resource"]
        short = resource.removeprefix("arn:aws:states:::").rsplit(":function:", 1)[-1]
        return _cut(f"Task · {short}", NAME_WIDTH + 4)
    if kind == "Wait":
        for field, unit in (("Seconds", " s"), ("SecondsPath", ""), ("Timestamp", ""), ("TimestampPath", "")):
            if field in state:
                return _cut(f"Wait · {state[field]}{unit}", NAME_WIDTH + 4)
    return str(kind) if isinstance(kind, str) else "?"


class _Builder:
    """Walks a definition once and writes DOT through python-graphviz."""

    def __init__(self):
        self.dot = graphviz.Digraph("stepwise", strict=False)
        self.dot.attr("graph", rankdir="TB", nodesep="0.3", ranksep="0.42", fontname=FONT, fontsize="10",
                      bgcolor="transparent", compound="true", id="graph", pad="0.15")
        self.dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="11",
                      height="0.42", margin="0.16,0.06", penwidth="1.2")
        self.dot.attr("edge", color=EDGE_COLOR, fontname=FONT, fontsize="9", fontcolor="#4b5263",
                      arrowsize="0.6", penwidth="1.1")
        self.serial = 0
        self.ids: set[str] = set()

    def _name(self, prefix: str = "n") -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def unique_id(self, wanted: str) -> str:
        """Ids are unique in the drawing: a second edge between the same states of the same kind, or a
        state name repeated in an invalid draft, gets `-2`, `-3`…"""
        candidate, n = wanted, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{wanted}-{n}"
        self.ids.add(candidate)
        return candidate

    def edge(self, graph, tail: str, head: str, source: str, target: str, kind: str, *,
             label: str | None = None, dashed: bool = False, **attrs):
        attrs = {"id": graphviz.escape(self.unique_id(f"edge-{source}-{target}-{kind}")),
                 "class": f"edge-{kind}", **attrs}
        if label:
            attrs["label"] = _label(_cut(label))
        if dashed:
            attrs["style"] = "dashed"
        graph.edge(tail, head, **attrs)

    def machine(self, graph, machine: dict, scope: str) -> tuple[str | None, list[tuple[str, str]]]:
        """Draws one machine (the top level, a branch or a processor) into `graph`. Returns the DOT
        name of its start state and its terminal (DOT name, state name) pairs."""
        states = machine.get("States") if isinstance(machine.get("States"), dict) else {}
        nodes: dict[str, tuple[str, str]] = {}  # state name → (DOT name to enter, DOT name to leave)
        for name, state in states.items():
            nodes[name] = self.state(graph, str(name), state if isinstance(state, dict) else {}, scope)
        missing: dict[str, str] = {}

        def target(name: object) -> tuple[str, str]:
            if isinstance(name, str) and name in nodes:
                return nodes[name][0], name
            text = str(name)
            if text not in missing:  # a Next to nowhere (an invalid draft): drawn so it can be fixed
                missing[text] = self._name("m")
                graph.node(missing[text], _label("Missing state", _cut(text, NAME_WIDTH)),
                           id=graphviz.escape(self.unique_id(f"missing-{text}")),
                           **{"class": "state-missing"}, fillcolor="#fff1f0", color="#c4320a",
                           style="rounded,filled,dashed")
            return missing[text], text

        terminals = []
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            leave = nodes[name][1]
            kind = state.get("Type")
            if kind == "Choice":
                for rule in state.get("Choices") or []:
                    if isinstance(rule, dict) and "Next" in rule:
                        head, head_name = target(rule["Next"])
                        self.edge(graph, leave, head, name, head_name, "choice", label=rule_text(rule))
                if "Default" in state:
                    head, head_name = target(state["Default"])
                    self.edge(graph, leave, head, name, head_name, "default", label="Default")
            elif "Next" in state:
                head, head_name = target(state["Next"])
                self.edge(graph, leave, head, name, head_name, "next")
            if state.get("End") is True or kind in TERMINAL_TYPES:
                terminals.append((leave, name))
            for catcher in state.get("Catch") or []:
                if isinstance(catcher, dict) and "Next" in catcher:
                    errors = catcher.get("ErrorEquals")
                    text = ", ".join(map(str, errors)) if isinstance(errors, list) else "?"
                    head, head_name = target(catcher["Next"])
                    self.edge(graph, leave, head, name, head_name, "catch", label=text, dashed=True,
                              color="#c4320a", fontcolor="#b42318")
        start = machine.get("StartAt")
        return (nodes[start][0] if isinstance(start, str) and start in nodes else None), terminals

    def state(self, graph, name: str, state: dict, scope: str) -> tuple[str, str]:
        kind = state.get("Type") if isinstance(state.get("Type"), str) else "Unknown"
        fill, border = TYPE_STYLE.get(kind, UNKNOWN_STYLE)
        # Names are unique across a valid machine (AWS and engine/validate.py insist), so the id is
        # the bare name; a repeated name in an invalid draft is qualified by where it sits.
        wanted = f"state-{name}"
        node_id = self.unique_id(wanted if wanted not in self.ids else f"state-{scope}{name}")
        classes = f"state state-type-{kind.lower()}"
        if kind == "Map" and _is_distributed(state):
            classes += " state-map-distributed"
        dot_name = self._name()
        lines = textwrap.wrap(name, NAME_WIDTH, break_long_words=True, replace_whitespace=True) or [""]
        node = {"id": graphviz.escape(node_id), "class": classes, "fillcolor": fill, "color": border}
        sub_machines = _sub_machines(state)
        if kind not in ("Parallel", "Map"):
            graph.node(dot_name, _label(*lines, _type_line(state)), **node)
            return dot_name, dot_name
        # Parallel and Map: a cluster holding the state's head, its branches or processor, and a join
        # point the state's Next and Catch edges leave from.
        distributed = kind == "Map" and _is_distributed(state)
        with graph.subgraph(name=f"cluster_{dot_name}") as cluster:
            cluster.attr(id=graphviz.escape(self.unique_id(f"group-{node_id.removeprefix('state-')}")),
                         **{"class": f"state-group {classes.removeprefix('state ')}"}, label="",
                         style="rounded,bold" if distributed else "rounded,dashed", color=border,
                         penwidth="1.2", margin="10")
            cluster.node(dot_name, _label(*lines, _type_line(state)), **node)
            join = self._name("j")
            cluster.node(join, "", shape="point", width="0.07", height="0.07", color=border,
                         id=graphviz.escape(self.unique_id(f"join-{name}")), **{"class": "join"})
            for index, sub in enumerate(sub_machines):
                with cluster.subgraph(name=f"cluster_{dot_name}_{index}") as inner:
                    inner.attr(label="", style="rounded,dotted" if kind == "Parallel" else "rounded",
                               color="#b6bdcb", bgcolor="#fafbfc" if kind == "Map" else "transparent",
                               id=graphviz.escape(self.unique_id(f"branch-{name}-{index}")),
                               **{"class": "state-branch"})
                    start, terminals = self.machine(inner, sub, f"{scope}{name}/{index}/")
                if start:
                    start_name = sub.get("StartAt")
                    self.edge(cluster, dot_name, start, name, start_name, "branch")
                for tail, terminal in terminals:
                    self.edge(cluster, tail, join, terminal, name, "join")
            if not sub_machines:
                cluster.edge(dot_name, join, style="invis")
        return dot_name, join


def definition_dot(definition: dict) -> str:
    """The DOT source of a definition (a dict, valid or not: drafts are drawn as far as they go)."""
    builder = _Builder()
    graph = builder.dot
    graph.node("start", _label("Start"), shape="box", style="rounded,filled", fillcolor="#1d2433",
               fontcolor="#ffffff", color="#1d2433", height="0.3", fontsize="10",
               id="graph-start", **{"class": "graph-marker graph-start"})
    start, terminals = builder.machine(graph, definition, "")
    graph.node("end", _label("End"), shape="box", style="rounded,filled", fillcolor="#1d2433",
               fontcolor="#ffffff", color="#1d2433", height="0.3", fontsize="10",
               id="graph-end", **{"class": "graph-marker graph-end"})
    if start:
        builder.edge(graph, "start", start, "start", definition.get("StartAt"), "start")
    for tail, name in terminals:
        builder.edge(graph, tail, "end", name, "end", "end")
    return graph.source


# -- DOT → SVG -----------------------------------------------------------------------------------------
class GraphError(Exception):
    """Graphviz could not draw this one; the message says why, in words for the page."""


def run_dot(source: str, *, dot: str, timeout: float = DOT_TIMEOUT_SECONDS) -> str:
    """`dot -Tsvg` in its own process group, killed with its children when it takes too long
    (python-graphviz's `pipe` has no time-out)."""
    process = subprocess.Popen([dot, "-Tsvg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise GraphError(f"Graphviz took longer than {timeout:g} s to lay this graph out.") from None
    if process.returncode != 0:
        raise GraphError("Graphviz could not draw this graph: " + _cut(err.decode("utf-8", "replace"), 200))
    if len(out) > MAX_SVG_BYTES:
        raise GraphError(f"The drawing is over {MAX_SVG_BYTES // 1024 // 1024} MB: too big to show.")
    return out.decode("utf-8")


SVG_TAGS = {"svg", "g", "path", "polygon", "polyline", "ellipse", "text", "title"}
SVG_ATTRIBUTES = {"id", "class", "width", "height", "viewBox", "transform", "fill", "stroke", "points", "d",
                  "cx", "cy", "rx", "ry", "x", "y", "text-anchor", "font-family", "font-size", "font-weight",
                  "font-style", "stroke-width", "stroke-dasharray", "stroke-opacity", "fill-opacity",
                  "version", "xmlns", "xmlns:xlink", "role", "aria-label", "preserveAspectRatio"}
_SVG_NS = "{http://www.w3.org/2000/svg}"


def _checked(svg: str) -> str:
    """Graphviz's SVG, cut to the `<svg>` element (no prolog, doctype, comments or titles: the titles
    would be our generated node names), and refused unless every element and attribute is one a plain
    drawing uses: no script, image, link, foreignObject or event handler can reach the page."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    root = ET.fromstring(svg)
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in SVG_TAGS:
            raise GraphError(f"The drawing has an unexpected <{tag}> element.")
        for attribute in element.attrib:
            if attribute.split("}")[-1] not in SVG_ATTRIBUTES:
                raise GraphError(f"The drawing has an unexpected {attribute} attribute.")
    return svg.replace("<svg ", '<svg class="graph-svg" role="img" aria-label="State machine graph" ', 1)


def placeholder_svg(message: str) -> str:
    """A small drawing that says why there is no graph, so a page keeps its shape."""
    lines = textwrap.wrap(message, 60) or [""]
    height = 36 + 20 * len(lines)
    texts = "".join(f'<text x="240" y="{34 + 20 * i}" text-anchor="middle" font-family="{FONT}" '
                    f'font-size="13" fill="#5d6678">{xml_escape(line)}</text>'
                    for i, line in enumerate(lines))
    return (f'<svg class="graph-svg graph-placeholder" role="img" aria-label="{xml_escape(message)}" '
            f'xmlns="http://www.w3.org/2000/svg" width="480" height="{height}" viewBox="0 0 480 {height}">'
            f'<rect x="1" y="1" width="478" height="{height - 2}" rx="10" fill="none" stroke="#b6bdcb" '
            f'stroke-dasharray="4 3"/>{texts}</svg>')


_cache: OrderedDict[tuple[str, str], str] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def find_dot() -> str | None:
    return shutil.which("dot")


def definition_svg(definition: str | dict, *, dot: str | None = None,
                   timeout: float = DOT_TIMEOUT_SECONDS) -> str | None:
    """The definition (JSON text or a dict) drawn as an inline-safe SVG string; None when Graphviz is
    not installed. A definition that cannot be drawn (not JSON, too many states, dot too slow, a
    drawing too big) gets a placeholder drawing saying why. Results are cached by the definition's
    hash, placeholders too: a definition that timed out once is not laid out again on every view."""
    dot = dot or find_dot()
    if dot is None:
        return None
    text = definition if isinstance(definition, str) else json.dumps(definition, sort_keys=True)
    key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), dot)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    svg = _draw(definition, dot=dot, timeout=timeout)
    with _cache_lock:
        _cache[key] = svg
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return svg


def _draw(definition: str | dict, *, dot: str, timeout: float) -> str:
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError:
            return placeholder_svg("The definition is not valid JSON, so there is no graph.")
    if not isinstance(definition, dict):
        return placeholder_svg("The definition is not a JSON object, so there is no graph.")
    states = count_states(definition.get("States"))
    if states > MAX_STATES:
        return placeholder_svg(f"This machine has {states} states: graphs are drawn for up to {MAX_STATES}.")
    try:
        return _checked(run_dot(definition_dot(definition), dot=dot, timeout=timeout))
    except (GraphError, ET.ParseError, ValueError) as error:
        return placeholder_svg(str(error))


# -- an execution's path through the graph ------------------------------------------------------------
STATUS_CLASSES = ("succeeded", "failed", "caught", "running", "aborted", "not-entered")
# When a state was entered more than once (a loop, Map iterations), the most telling outcome wins.
_PRIORITY = {"failed": 5, "running": 4, "caught": 3, "aborted": 2, "succeeded": 1}
_STATE_EVENT = re.compile(r"^(Task|Pass|Choice|Wait|Succeed|Fail|Parallel|Map)State(Entered|Exited|Aborted)$")


def _is_failure(event_type: str) -> bool:
    return (event_type.endswith(("Failed", "TimedOut")) and not event_type.startswith("Execution")
            and event_type != "MapIterationFailed")


Event = tuple[int, str, int, str | None]  # id, type, previous id, state name


def state_statuses(events: Iterable[Event], execution_status: str) -> dict[str, str]:
    """Each entered state's status from the history, as (id, type, previous id, state name) tuples:
    succeeded, caught (it failed and a Catch moved on), failed, running, or aborted."""
    tracker = StatusTracker()
    tracker.feed(events)
    return tracker.statuses(execution_status)


class StatusTracker:
    """`state_statuses` fed a few events at a time: the live view (designer/live.py) keeps one per
    watched execution and feeds it each new batch instead of reading the whole history again.

    Events carry no state name except Entered/Exited, so a failure is pinned to a state by following
    previousEventId back (AWS chains each event to the one before it on the same branch)."""

    def __init__(self):
        self.owner: dict[int, int] = {}  # event id → index of the state entry it belongs to
        self.entries: list[dict] = []  # {"name", "open", "failing", "outcome"}

    def feed(self, events: Iterable[Event]) -> None:
        owner, entries = self.owner, self.entries
        for seq, event_type, previous, name in events:
            match = _STATE_EVENT.match(event_type)
            entry_index = owner.get(previous)
            if match and match.group(2) == "Entered":
                entries.append({"name": name, "open": True, "failing": match.group(1) == "Fail",
                                "outcome": None})
                owner[seq] = len(entries) - 1
                continue
            if match and name is not None and (entry_index is None or entries[entry_index]["name"] != name):
                entry_index = next((i for i in range(len(entries) - 1, -1, -1)
                                    if entries[i]["name"] == name and entries[i]["open"]), entry_index)
            if entry_index is None:
                continue
            owner[seq] = entry_index
            entry = entries[entry_index]
            if match:  # Exited or Aborted closes the entry
                if entry["open"]:
                    entry["open"] = False
                    if match.group(2) == "Exited":
                        entry["outcome"] = "caught" if entry["failing"] else "succeeded"
                    else:
                        entry["outcome"] = "failed" if entry["failing"] else "aborted"
            elif _is_failure(event_type):
                entry["failing"] = True
            elif event_type.endswith("Succeeded"):  # a retry that worked
                entry["failing"] = False

    def statuses(self, execution_status: str) -> dict[str, str]:
        running = execution_status == "RUNNING"
        statuses: dict[str, str] = {}
        for entry in self.entries:
            if entry["open"]:
                if entry["failing"] and not running:
                    outcome = "failed"
                elif running:
                    outcome = "running"
                else:
                    outcome = "aborted" if execution_status == "ABORTED" else "failed"
            else:
                outcome = entry["outcome"]
            name = entry["name"]
            if name is not None and _PRIORITY[outcome] > _PRIORITY.get(statuses.get(name), 0):
                statuses[name] = outcome
        return statuses


_GROUP = re.compile(r'<g id="([^"]*)" class="([^"]*)"')


def with_statuses(svg: str, statuses: dict[str, str]) -> str:
    """The drawing with a `state-status-<outcome>` class on each state's node and group (a Parallel's or
    Map's cluster), and `state-status-not-entered` on the others: the same classes the live view toggles."""
    def mark(match: re.Match) -> str:
        element_id, classes = unescape(match.group(1)), unescape(match.group(2)).split()
        for prefix, kind in (("state-", "state"), ("group-", "state-group")):
            if element_id.startswith(prefix) and kind in classes:
                status = statuses.get(element_id[len(prefix):], "not-entered")
                return f'{match.group(0)[:-1]} state-status-{status}"'
        return match.group(0)

    return _GROUP.sub(mark, svg)
