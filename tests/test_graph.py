"""designer/graph.py: definitions drawn by the real `dot`, escaped, capped, timed out and cached."""

import re
import shutil
import time
import xml.etree.ElementTree as ET

import pytest

from designer import graph
from engine import run
from engine.runner import TaskFailed

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<img src=x onerror=alert(1)>"

EVERY_TYPE = {
    "StartAt": "Decide",
    "States": {
        "Decide": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "NumericGreaterThan": 5, "Next": "Work"},
            {"Condition": "{% $states.input.kind = 'fan' %}", "Next": "Fan"},
        ], "Default": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Shape"},
        "Shape": {"Type": "Pass", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Fan",
                 "Catch": [{"ErrorEquals": ["States.Timeout", "Oops"], "Next": "Broke"}]},
        "Fan": {"Type": "Parallel", "Next": "Spread",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Broke"}],
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Inner", "States": {"Inner": {
                        "Type": "Map", "End": True,
                        "ItemProcessor": {"StartAt": "Deep", "States": {"Deep": {
                            "Type": "Parallel", "End": True, "Branches": [
                                {"StartAt": "Deepest", "States": {"Deepest": {"Type": "Succeed"}}}]}}}}}},
                ]},
        "Spread": {"Type": "Map", "Next": "Done", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}},
        "Done": {"Type": "Succeed"},
        "Broke": {"Type": "Fail", "Error": "Broke"},
    },
}


@pytest.fixture(autouse=True)
def empty_cache():
    graph.clear_cache()
    yield
    graph.clear_cache()


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("id"): g for g in root.iter(SVG + "g") if g.get("id")}


def text_of(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(SVG + "text")]


def test_every_state_type_is_a_node_with_its_type_class():
    root = parse(graph.definition_svg(EVERY_TYPE))
    nodes = groups(root)
    expected = {"Decide": "choice", "Nap": "wait", "Shape": "pass", "Work": "task", "Fan": "parallel",
                "Left": "pass", "Inner": "map", "Deep": "parallel", "Deepest": "succeed", "Spread": "map",
                "Each": "pass", "Done": "succeed", "Broke": "fail"}
    for name, kind in expected.items():
        classes = nodes[f"state-{name}"].get("class").split()
        assert f"state-type-{kind}" in classes and "state" in classes, name
        assert name in text_of(nodes[f"state-{name}"])
    assert "state-map-distributed" in nodes["state-Spread"].get("class").split()
    assert "Distributed map" in text_of(nodes["state-Spread"])
    assert "state-map-distributed" not in nodes["state-Inner"].get("class").split()
    assert "Wait · 3 s" in text_of(nodes["state-Nap"])
    assert text_of(nodes["graph-start"]) == ["Start"] and text_of(nodes["graph-end"]) == ["End"]
    assert "edge-start-Decide-start" in nodes
    assert {"edge-Done-end-end", "edge-Broke-end-end"} <= set(nodes)


def test_parallel_and_map_are_clusters_nested_to_any_depth():
    source = graph.definition_dot(EVERY_TYPE)
    depth = {}
    for line in source.splitlines():
        match = re.search(r'id="(group-[^"]+)"', line)
        if match:
            depth[match.group(1)] = len(line) - len(line.lstrip("\t"))
    # Fan (top) > its second branch > Inner (Map) > its processor > Deep (Parallel)
    assert depth["group-Fan"] < depth["group-Inner"] < depth["group-Deep"]
    assert depth["group-Spread"] == depth["group-Fan"]
    nodes = groups(parse(graph.definition_svg(EVERY_TYPE)))
    for group in ("group-Fan", "group-Inner", "group-Deep", "group-Spread"):
        assert "cluster" in nodes[group].get("class").split()
    assert "branch-Fan-0" in nodes and "branch-Fan-1" in nodes and "branch-Inner-0" in nodes
    # Into the branches from the state's head, out of them to its join point, then on by Next.
    assert {"edge-Fan-Left-branch", "edge-Fan-Inner-branch", "edge-Left-Fan-join", "edge-Inner-Fan-join",
            "edge-Inner-Deep-branch", "edge-Deepest-Deep-join", "edge-Fan-Spread-next"} <= set(nodes)


def test_choice_rules_default_and_catch_edges_are_labelled():
    nodes = groups(parse(graph.definition_svg(EVERY_TYPE)))
    assert text_of(nodes["edge-Decide-Work-choice"]) == ["$.x > 5"]
    assert text_of(nodes["edge-Decide-Fan-choice"]) == ["$states.input.kind = 'fan'"]
    assert text_of(nodes["edge-Decide-Nap-default"]) == ["Default"]
    assert text_of(nodes["edge-Work-Broke-catch"]) == ["States.Timeout, Oops"]
    assert text_of(nodes["edge-Fan-Broke-catch"]) == ["States.ALL"]
    catch_path = nodes["edge-Work-Broke-catch"].find(SVG + "path")
    assert catch_path.get("stroke-dasharray")
    assert nodes["edge-Nap-Shape-next"].find(SVG + "path").get("stroke-dasharray") is None
    assert text_of(nodes["edge-Nap-Shape-next"]) == []


@pytest.mark.parametrize(("rule", "text"), [
    ({"Variable": "$.name", "StringEquals": "Ann"}, '$.name == "Ann"'),
    ({"Variable": "$.n", "NumericLessThanEqualsPath": "$.max"}, "$.n <= $.max"),
    ({"Variable": "$.t", "TimestampGreaterThan": "2024-01-01T00:00:00Z"}, '$.t > "2024-01-01T00:00:00Z"'),
    ({"Variable": "$.ok", "BooleanEquals": True}, "$.ok == true"),
    ({"Variable": "$.f", "StringMatches": "*.csv"}, '$.f matches "*.csv"'),
    ({"Variable": "$.v", "IsPresent": False}, "$.v is absent"),
    ({"Variable": "$.v", "IsNull": True}, "$.v is null"),
    ({"Not": {"Variable": "$.done", "BooleanEquals": True}}, "not ($.done == true)"),
    ({"And": [{"Variable": "$.a", "NumericGreaterThan": 1},
              {"Or": [{"Variable": "$.b", "IsString": True}, {"Variable": "$.c", "NumericEquals": 0}]}]},
     "$.a > 1 and ($.b is a string or $.c == 0)"),
    ({"Condition": "{%  $count   > 10 %}"}, "$count   > 10"),
])
def test_rule_text_reads_like_the_rule(rule, text):
    assert graph.rule_text(rule) == text


def test_long_rule_labels_are_cut_short():
    rule = {"Condition": "{% " + " and ".join(f"$x{i} > {i}" for i in range(30)) + " %}", "Next": "B"}
    definition = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule], "Default": "B"},
                                             "B": {"Type": "Succeed"}}}
    [label] = text_of(groups(parse(graph.definition_svg(definition)))["edge-C-B-choice"])
    assert len(label) == graph.LABEL_CHARS and label.endswith("…")


def test_ids_are_stable_and_unique():
    first = graph.definition_svg(EVERY_TYPE)
    graph.clear_cache()
    assert graph.definition_svg(EVERY_TYPE) == first
    ids = [g.get("id") for g in parse(first).iter(SVG + "g") if g.get("id")]
    assert len(ids) == len(set(ids))


def test_a_name_repeated_in_an_invalid_draft_gets_a_qualified_id():
    draft = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Same", "Branches": [
            {"StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": True}}},
            {"StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": True}}}]},
        "Same": {"Type": "Pass", "Next": "Nowhere"}}}
    nodes = groups(parse(graph.definition_svg(draft)))
    # The first drawn keeps the bare id; the others say where they sit (branch 1 of P), or are numbered.
    assert {"state-Same", "state-P/1/Same", "state-Same-2"} <= set(nodes)
    assert "missing-Nowhere" in nodes and "Missing state" in text_of(nodes["missing-Nowhere"])
    assert "edge-Same-Nowhere-next" in nodes


@pytest.mark.parametrize("name", [HOSTILE, '<b>"quoted"</b> & \\N \\G \\l', "ends with a backslash\\",
                                  "<<table><tr><td><img src='/etc/passwd'/></td></tr></table>>"])
def test_hostile_state_names_render_as_text(name):
    definition = {"StartAt": name, "States": {name: {"Type": "Pass", "Next": "After"},
                                              "After": {"Type": "Pass", "End": True,
                                                        "Catch": [{"ErrorEquals": [name], "Next": name}]}}}
    source = graph.definition_dot(definition)
    assert "label=<" not in source  # never an HTML-like label
    svg = graph.definition_svg(definition)
    root = parse(svg)
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "g", "path", "polygon", "ellipse", "text"}
    assert not any(a.startswith("on") or "href" in a for e in root.iter() for a in e.attrib)
    node = groups(root)[f"state-{name}"]
    wrapped = text_of(node)[:-1]  # the name on its lines (whitespace breaks them), then the type
    assert "".join(wrapped).replace(" ", "") == name.replace(" ", "")
    assert text_of(groups(root)[f"edge-After-{name}-catch"]) == [graph._cut(name)]


def test_hostile_name_as_inline_html_is_text():
    svg = graph.definition_svg({"StartAt": HOSTILE, "States": {HOSTILE: {"Type": "Succeed"}}})
    assert "<img" not in svg and "&lt;img src=x" in svg


def test_every_element_of_the_drawing_is_checked():
    with pytest.raises(graph.GraphError, match="unexpected <image>"):
        graph._checked('<svg xmlns="http://www.w3.org/2000/svg"><image href="x.png"/></svg>')
    with pytest.raises(graph.GraphError, match="onload"):
        graph._checked('<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"/></svg>')


def chain(count: int) -> dict:
    names = [f"Step {i}" for i in range(count)]
    states = {name: {"Type": "Pass", "Next": after} for name, after in zip(names, names[1:], strict=False)}
    states[names[-1]] = {"Type": "Pass", "End": True}
    return {"StartAt": names[0], "States": states}


def test_a_definition_over_the_state_cap_gets_a_placeholder_without_running_dot():
    big = chain(graph.MAX_STATES + 1)
    started = time.perf_counter()
    svg = graph.definition_svg(big)
    assert time.perf_counter() - started < 0.5
    root = parse(svg)
    assert "graph-placeholder" in root.get("class")
    assert f"This machine has {graph.MAX_STATES + 1} states" in " ".join(text_of(root))


def test_a_drawing_over_the_size_cap_gets_a_placeholder(monkeypatch):
    monkeypatch.setattr(graph, "MAX_SVG_BYTES", 20_000)
    root = parse(graph.definition_svg(chain(60)))  # a real dot run: about 40 KB of SVG
    assert "graph-placeholder" in root.get("class")
    assert "too big to show" in " ".join(text_of(root))


def test_dot_that_takes_too_long_is_killed_and_a_placeholder_says_so(tmp_path):
    slow_dot = tmp_path / "dot"
    slow_dot.write_text("#!/bin/sh\nexec sleep 30\n")
    slow_dot.chmod(0o755)
    started = time.perf_counter()
    svg = graph.definition_svg(chain(3), dot=str(slow_dot), timeout=0.5)
    assert time.perf_counter() - started < 3
    assert "Graphviz took longer than 0.5 s" in " ".join(text_of(parse(svg)))


def test_a_real_layout_over_its_time_limit_is_stopped():
    # 400 states with a Choice fanning out to all of them: more than 50 ms of real layout work.
    definition = chain(400)
    definition["States"]["Step 0"] = {"Type": "Choice", "Default": "Step 1", "Choices": [
        {"Variable": "$.n", "NumericEquals": i, "Next": f"Step {i}"} for i in range(2, 400)]}
    svg = graph.definition_svg(definition, timeout=0.05)
    assert "Graphviz took longer than 0.05 s" in " ".join(text_of(parse(svg)))


def test_no_dot_means_no_graph(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert graph.definition_svg(chain(2)) is None


def test_not_json_gets_a_placeholder():
    assert "not valid JSON" in graph.definition_svg("{nope")


def test_drawings_are_cached_by_definition(tmp_path):
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    first = graph.definition_svg(text)
    started = time.perf_counter()
    again = graph.definition_svg(text)
    assert time.perf_counter() - started < 0.005
    assert again is first
    # The same definition as a dict is hashed the same way each time (sorted keys).
    as_dict = graph.definition_svg({"States": {"A": {"End": True, "Type": "Pass"}}, "StartAt": "A"})
    assert graph.definition_svg({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}) is as_dict


def test_the_cache_keeps_the_most_recent_drawings(monkeypatch):
    monkeypatch.setattr(graph, "CACHE_SIZE", 2)
    first = graph.definition_svg(chain(1))
    graph.definition_svg(chain(2))
    assert graph.definition_svg(chain(1)) is first  # touched: now the most recent
    graph.definition_svg(chain(3))  # evicts chain(2)
    assert graph.definition_svg(chain(1)) is first
    assert len(graph._cache) == 2


# -- an execution's path -----------------------------------------------------------------------------
def statuses(definition, execution_input=None, handler=None, status=None):
    result = run(definition, execution_input or {}, handler)
    def name(event):
        details = [v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)]
        return details[0].get("name") if details else None

    events = [(e["id"], e["type"], e["previousEventId"], name(e)) for e in result.events]
    return graph.state_statuses(events, status or result.status)


def failing(suspension, execution):
    raise TaskFailed("Oops", "it broke")


def test_statuses_show_caught_failed_and_not_entered_states():
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Skipped",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fan"}]},
        "Skipped": {"Type": "Pass", "End": True},
        "Fan": {"Type": "Parallel", "Next": "Skipped",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stop"}],
                "Branches": [{"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": True}}},
                             {"StartAt": "Call", "States": {"Call": {
                                 "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                 "End": True}}}]},
        "Stop": {"Type": "Fail", "Error": "Stopped"}}}
    assert statuses(definition, handler=failing) == {
        "Work": "caught", "Fan": "caught", "Fine": "succeeded", "Call": "failed", "Stop": "failed"}


def test_a_state_retried_into_success_succeeded_and_an_open_one_is_running():
    calls = []

    def flaky(suspension, execution):
        calls.append(1)
        if len(calls) == 1:
            raise TaskFailed("Flaky")
        return {}

    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                 "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1}]}}}
    assert statuses(definition, handler=flaky) == {"Work": "succeeded"}
    events = [(1, "ExecutionStarted", 0, None), (2, "TaskStateEntered", 1, "Work"),
              (3, "TaskScheduled", 2, None), (4, "TaskFailed", 3, None)]
    assert graph.state_statuses(events, "RUNNING") == {"Work": "running"}
    assert graph.state_statuses(events, "FAILED") == {"Work": "failed"}
    assert graph.state_statuses(events[:3], "ABORTED") == {"Work": "aborted"}


def test_map_iterations_show_the_most_telling_outcome():
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Check", "States": {"Check": {
            "Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 1, "Next": "Bad"}],
            "Default": "Good"}, "Good": {"Type": "Succeed"}, "Bad": {"Type": "Fail", "Error": "TooBig"}}}}}}
    assert statuses(definition, [1, 2]) == {"Each": "failed", "Check": "succeeded", "Good": "succeeded",
                                            "Bad": "failed"}


def test_statuses_become_classes_on_nodes_and_groups():
    svg = graph.with_statuses(graph.definition_svg(EVERY_TYPE),
                              {"Decide": "succeeded", "Work": "caught", "Fan": "running", "Broke": "failed"})
    nodes = groups(parse(svg))
    assert "state-status-succeeded" in nodes["state-Decide"].get("class").split()
    assert "state-status-caught" in nodes["state-Work"].get("class").split()
    assert "state-status-running" in nodes["state-Fan"].get("class").split()
    assert "state-status-running" in nodes["group-Fan"].get("class").split()
    assert "state-status-failed" in nodes["state-Broke"].get("class").split()
    assert "state-status-not-entered" in nodes["state-Deepest"].get("class").split()
    assert "state-status" not in nodes["edge-Decide-Work-choice"].get("class")
    assert "state-status" not in nodes["graph-start"].get("class")
    hostile = graph.definition_svg({"StartAt": HOSTILE, "States": {HOSTILE: {"Type": "Succeed"}}})
    marked = groups(parse(graph.with_statuses(hostile, {HOSTILE: "succeeded"})))
    assert "state-status-succeeded" in marked[f"state-{HOSTILE}"].get("class").split()
