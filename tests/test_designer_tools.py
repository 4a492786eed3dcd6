"""The designer's tools on the server: Test this state (the API's TestState from the page), the exports
(ASL as JSON or YAML, the graph as SVG) and Compare (two revisions: the states added, removed and changed,
nested ones too, marked on both graphs, and the JSON diff)."""

import json

import pytest
import yaml
from django.test import Client

from designer import runtime
from designer.compare_views import compare_states, line_diff, with_marks
from designer.graph import definition_svg

pytestmark = pytest.mark.django_db

TASK = {"StartAt": "Call", "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "greet", "Payload.$": "$.who"},
             "ResultSelector": {"greeting.$": "$.Payload"},
             "ResultPath": "$.result", "OutputPath": "$.result",
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}], "Next": "Done"},
    "Done": {"Type": "Succeed"}, "Oops": {"Type": "Fail", "Error": "Oops"}}}
NESTED = {"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "Next": "Each", "Branches": [
        {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
        {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "Result": 1, "End": True}}}]},
    "Each": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Item", "States": {
        "Item": {"Type": "Pass", "End": True}}}}}}


@pytest.fixture
def client(django_user_model):
    user = django_user_model.objects.create_user("tester", password="x")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def machine():
    return runtime.create_state_machine("Tools", json.dumps(TASK))


def run_test(client, body):
    body = {"definition": json.dumps(TASK), **body}
    return client.post("/machines/Tools/design/test/", json.dumps(body), content_type="application/json")


# -- Test this state -------------------------------------------------------------------------------
def test_test_this_state_with_a_mock_result_answers_every_stage_and_the_next_state(client, machine):
    answer = run_test(client, {"stateName": "Call", "input": '{"who": "Ada"}',
                               "mock": {"result": '{"Payload": "Hello Ada"}'}, "inspectionLevel": "DEBUG"})
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["status"] == "SUCCEEDED" and data["nextState"] == "Done"
    assert json.loads(data["output"]) == {"greeting": "Hello Ada"}
    stages = {key: json.loads(value) for key, value in data["inspectionData"].items()}
    assert stages["input"] == {"who": "Ada"}
    assert stages["afterInputPath"] == {"who": "Ada"}
    assert stages["afterParameters"] == {"FunctionName": "greet", "Payload": "Ada"}
    assert stages["result"] == {"Payload": "Hello Ada"}
    assert stages["afterResultSelector"] == {"greeting": "Hello Ada"}
    assert stages["afterResultPath"] == {"who": "Ada", "result": {"greeting": "Hello Ada"}}


def test_a_mocked_error_is_caught_and_names_the_catchers_next_state(client, machine):
    data = run_test(client, {"stateName": "Call", "input": '{"who": "Ada"}',
                             "mock": {"errorOutput": {"error": "Boom", "cause": "it broke"}}}).json()
    assert data["status"] == "CAUGHT_ERROR" and data["nextState"] == "Oops"
    assert data["error"] == "Boom" and data["cause"] == "it broke"


def test_info_level_has_no_inspection_data_and_variables_reach_jsonata(client, machine):
    info = run_test(client, {"stateName": "Call", "mock": {"result": "{}"}, "inspectionLevel": "INFO"}).json()
    assert "inspectionData" not in info
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $states.input.n + $bonus %}", "Assign": {"seen": "{% true %}"},
              "End": True}}}
    data = run_test(client, {"definition": json.dumps(jsonata), "stateName": "P", "input": '{"n": 2}',
                             "variables": '{"bonus": 40}'}).json()
    assert data["status"] == "SUCCEEDED" and json.loads(data["output"]) == 42
    assert json.loads(data["inspectionData"]["variables"]) == {"bonus": 40, "seen": True}


def test_a_refused_test_answers_400_with_the_aws_error(client, machine):
    bad_input = run_test(client, {"stateName": "Call", "input": "{not json"})
    assert bad_input.status_code == 400 and bad_input.json()["error"] == "InvalidExecutionInput"
    missing = run_test(client, {"stateName": "Nowhere", "input": "{}"})
    assert missing.status_code == 400 and missing.json()["error"] == "ValidationException"
    both = run_test(client, {"stateName": "Call", "mock": {"result": "1", "errorOutput": {"error": "E"}}})
    assert both.status_code == 400 and both.json()["error"] == "ValidationException"
    broken = client.post("/machines/Tools/design/test/", json.dumps({"definition": "{", "stateName": "Call"}),
                         content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"] == "InvalidDefinition"
    assert client.get("/machines/Tools/design/test/").status_code == 405


# -- Export ----------------------------------------------------------------------------------------
def test_export_json_yaml_and_svg_of_the_saved_definition(client, machine):
    as_json = client.get("/machines/Tools/export/json/")
    assert as_json["Content-Type"] == "application/json; charset=utf-8"
    assert as_json["Content-Disposition"] == 'attachment; filename="Tools-r1.json"'
    assert json.loads(as_json.content) == TASK
    as_yaml = client.get("/machines/Tools/export/yaml/")
    assert as_yaml["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(as_yaml.content) == TASK
    assert as_yaml.content.decode().startswith("StartAt: Call\nStates:\n")  # the definition's order
    as_svg = client.get("/machines/Tools/export/svg/")
    assert as_svg["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert as_svg["Content-Disposition"] == 'attachment; filename="Tools-r1.svg"'
    svg = as_svg.content.decode()
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert 'id="state&#45;Call"' in svg
    assert client.get("/machines/Tools/export/pdf/").status_code == 404


def test_export_a_posted_draft_and_an_older_revision(client, machine):
    draft = {"StartAt": "no", "States": {"no": {"Type": "Pass", "End": True}}}
    answer = client.post("/machines/Tools/export/yaml/", {"definition": json.dumps(draft)})
    assert answer["Content-Disposition"] == 'attachment; filename="Tools-draft.yaml"'
    # YAML 1.1 readers would read a bare `no` as false: the export quotes it.
    assert yaml.safe_load(answer.content) == draft and "'no'" in answer.content.decode()
    runtime.update_state_machine(machine, json.dumps(NESTED))
    old = client.get("/machines/Tools/export/json/?revision=1")
    assert json.loads(old.content) == TASK and "Tools-r1.json" in old["Content-Disposition"]
    assert json.loads(client.get("/machines/Tools/export/json/").content) == NESTED
    unreadable = client.post("/machines/Tools/export/json/", {"definition": "{oops"})
    assert unreadable.status_code == 400


# -- Compare ---------------------------------------------------------------------------------------
def test_compare_states_finds_added_removed_and_changed_at_every_depth():
    new = json.loads(json.dumps(NESTED))
    branches = new["States"]["Fan"]["Branches"]
    branches[0]["States"]["Left"]["Result"] = "changed"  # nested change
    del branches[1]["States"]["Right"]  # nested removal…
    branches[1]["States"]["Across"] = {"Type": "Pass", "End": True}  # …and addition
    branches[1]["StartAt"] = "Across"  # the branch rewired: its Parallel changed
    new["States"]["Each"]["ItemProcessor"]["States"]["Item2"] = {"Type": "Succeed"}  # in a Map
    assert compare_states(NESTED, new) == {"added": {"Across", "Item2"}, "removed": {"Right"},
                                           "changed": {"Left", "Fan"}}
    # A state edited only inside a branch leaves its Parallel unchanged.
    only_left = json.loads(json.dumps(NESTED))
    only_left["States"]["Fan"]["Branches"][0]["States"]["Left"]["Comment"] = "hi"
    assert compare_states(NESTED, only_left) == {"added": set(), "removed": set(), "changed": {"Left"}}
    # A state moved to another branch is changed (same fields, another place).
    moved = json.loads(json.dumps(NESTED))
    moved["States"]["Each"]["ItemProcessor"]["States"]["Left"] = {"Type": "Pass", "End": True}
    del moved["States"]["Fan"]["Branches"][0]["States"]["Left"]
    assert "Left" in compare_states(NESTED, moved)["changed"]
    assert compare_states(NESTED, NESTED) == {"added": set(), "removed": set(), "changed": set()}


def test_marks_go_on_the_states_nodes_and_clusters_by_their_ids():
    svg = with_marks(definition_svg(NESTED), {"Left": "changed", "Fan": "added"})
    assert '<g id="state&#45;Left" class="node state state&#45;type&#45;pass state-diff-changed"' in svg
    assert 'state-diff-added' in svg.split('id="group&#45;Fan"')[1].split(">")[0]
    assert svg.count("state-diff-changed") + svg.count("state-diff-added") == 3  # Left; Fan and its cluster
    assert '<g id="state&#45;Right" class="node state state&#45;type&#45;pass state-diff-same"' in svg


def test_line_diff_rows_side_by_side():
    rows = line_diff(["a", "b", "c"], ["a", "B", "c", "d"])
    assert [(r["kind"], r["old"], r["new"]) for r in rows] == [
        ("equal", "a", "a"), ("replace", "b", "B"), ("equal", "c", "c"), ("insert", None, "d")]
    long_rows = line_diff([str(n) for n in range(20)], [str(n) for n in range(19)] + ["x"])
    assert long_rows[0]["kind"] == "skip" and long_rows[1]["old"] == "16"


def test_the_compare_page_marks_both_graphs_and_shows_the_diff(client, machine):
    changed = json.loads(json.dumps(TASK))
    changed["States"]["Call"]["TimeoutSeconds"] = 30
    del changed["States"]["Oops"]
    del changed["States"]["Call"]["Catch"]
    changed["States"]["Later"] = {"Type": "Wait", "Seconds": 5, "Next": "Done"}
    changed["States"]["Call"]["Next"] = "Later"
    runtime.update_state_machine(machine, json.dumps(changed))
    page = client.get("/machines/Tools/compare/?a=1&b=2")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 added · 1 removed · 1 changed" in html
    old_side, new_side = html.split('data-compare-side="old"')[1].split('data-compare-side="new"')
    assert 'id="state&#45;Oops" class="node state state&#45;type&#45;fail state-diff-removed"' in old_side
    assert 'state&#45;type&#45;task state-diff-changed"' in old_side
    assert 'id="state&#45;Later" class="node state state&#45;type&#45;wait state-diff-added"' in new_side
    assert "state-diff-removed" not in new_side.split("data-diff")[0]
    table = html.split("data-diff")[1]
    assert '<tr class="diff-replace">' in table and "&quot;TimeoutSeconds&quot;: 30" in table
    assert "&quot;Next&quot;: &quot;Oops&quot;" in table and '<tr class="diff-skip">' in table
    # Defaults: the latest revision against the one before; the machine page links here.
    assert "1 added · 1 removed · 1 changed" in client.get("/machines/Tools/compare/").content.decode()
    machine_page = client.get("/machines/Tools/").content.decode()
    assert 'action="/machines/Tools/compare/"' in machine_page and "Compare revisions" in machine_page
    same = client.get("/machines/Tools/compare/?a=2&b=2").content.decode()
    assert "The two definitions are the same." in same and "No differences." in same
