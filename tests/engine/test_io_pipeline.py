"""The JSONPath I/O pipeline in spec order: InputPath → Parameters → the work → ResultSelector →
ResultPath → OutputPath, through whole executions.

Null semantics are AWS-documented ("Input and Output Processing": InputPath null passes {}, ResultPath
null discards the result and keeps the input, OutputPath null sends {}).
"""

from __future__ import annotations

import pytest

from engine import run

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


def one_state(state: dict) -> dict:
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}


def run_pass(input_value, **fields):
    return run(one_state({"Type": "Pass", **fields}), input_value)


def run_task(input_value, result, **fields):
    seen = []

    def handler(suspension, execution):
        seen.append(suspension.parameters)
        return result

    outcome = run(one_state({"Type": "Task", "Resource": LAMBDA, **fields}), input_value, handler)
    return outcome, seen


# -- InputPath ---------------------------------------------------------------------------------------
def test_input_path_selects_the_part_of_the_input_the_state_works_on():
    assert run_pass({"a": {"b": 1}, "c": 2}, InputPath="$.a").output == {"b": 1}


def test_input_path_null_gives_the_state_an_empty_object():
    assert run_pass({"a": 1}, InputPath=None).output == {}


def test_a_missing_input_path_fails_with_states_runtime_and_aws_wording():
    result = run_pass({"a": 1}, InputPath="$.nope")
    assert result.error == "States.Runtime"
    assert result.cause == ("An error occurred while executing the state 'S' (entered at the event id #2). "
                            "Invalid path '$.nope' : No results for path: $['nope']")


# -- Parameters --------------------------------------------------------------------------------------
def test_parameters_see_the_input_after_input_path():
    result = run_pass({"outer": {"x": 5}}, InputPath="$.outer", Parameters={"y.$": "$.x", "fixed": "v"})
    assert result.output == {"y": 5, "fixed": "v"}


def test_parameters_can_read_the_context_object():
    result = run_pass({}, Parameters={"state.$": "$$.State.Name", "name.$": "$$.Execution.Name"})
    assert result.output == {"state": "S", "name": "execution"}


def test_task_parameters_are_what_the_task_is_called_with():
    _, seen = run_task({"id": 7, "noise": "x"}, "done", Parameters={"Payload": {"id.$": "$.id"}})
    assert seen == [{"Payload": {"id": 7}}]


# -- ResultSelector ----------------------------------------------------------------------------------
def test_result_selector_reshapes_the_task_result_not_the_input():
    result, _ = run_task({"keep": 1}, {"Payload": {"value": 3}, "StatusCode": 200},
                         ResultSelector={"value.$": "$.Payload.value"}, ResultPath="$.out")
    assert result.output == {"keep": 1, "out": {"value": 3}}


# -- ResultPath --------------------------------------------------------------------------------------
def test_result_path_default_replaces_the_input_with_the_result():
    assert run_task({"keep": 1}, {"r": 2})[0].output == {"r": 2}


def test_result_path_dollar_replaces_the_input_with_the_result():
    assert run_task({"keep": 1}, {"r": 2}, ResultPath="$")[0].output == {"r": 2}


def test_result_path_merges_the_result_into_the_original_input_not_the_effective_input():
    result, seen = run_task({"a": {"x": 1}, "b": 2}, "R", InputPath="$.a", ResultPath="$.a.result")
    assert seen == [{"x": 1}]
    assert result.output == {"a": {"x": 1, "result": "R"}, "b": 2}


def test_result_path_null_discards_the_result_and_keeps_the_input():
    assert run_task({"keep": 1}, {"r": 2}, ResultPath=None)[0].output == {"keep": 1}


def test_result_path_creates_missing_objects():
    assert run_pass({"a": 1}, Result="r", ResultPath="$.x.y.z").output == {"a": 1, "x": {"y": {"z": "r"}}}


def test_result_path_into_a_string_fails_with_result_path_match_failure():
    result = run_pass({"a": "text"}, Result="r", ResultPath="$.a.b")
    assert result.error == "States.ResultPathMatchFailure"
    assert "$.a.b" in result.cause


def test_result_path_match_failure_can_be_caught():
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.a.b", "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "Done",
                         "ResultPath": "$.caught"}]},
        "Done": {"Type": "Succeed"}}}
    result = run(definition, {"a": 1}, lambda s, e: "r")
    assert result.status == "SUCCEEDED"
    assert result.output["caught"]["Error"] == "States.ResultPathMatchFailure"


# -- OutputPath --------------------------------------------------------------------------------------
def test_output_path_selects_from_the_merged_document():
    result, _ = run_task({"a": 1}, {"r": 2}, ResultPath="$.res", OutputPath="$.res.r")
    assert result.output == 2


def test_output_path_null_sends_an_empty_object():
    assert run_pass({"a": 1}, OutputPath=None).output == {}


def test_a_missing_output_path_fails_with_states_runtime():
    result = run_pass({"a": 1}, OutputPath="$.nope")
    assert result.error == "States.Runtime"
    assert result.cause.endswith("Invalid path '$.nope' : No results for path: $['nope']")


def test_a_missing_middle_key_is_reported_as_jayway_missing_property():
    result = run_pass({"a": {}}, InputPath="$.a.b.c")
    assert result.cause.endswith("Invalid path '$.a.b.c' : Missing property in path $['a']['b']")


# -- the whole pipeline ------------------------------------------------------------------------------
def test_the_whole_pipeline_runs_in_spec_order():
    document = {"order": {"id": 9, "lines": [1, 2]}, "user": "ada"}
    result, seen = run_task(
        document, {"Payload": {"total": 3}, "Meta": "drop"},
        InputPath="$.order", Parameters={"orderId.$": "$.id"},
        ResultSelector={"total.$": "$.Payload.total"}, ResultPath="$.billing", OutputPath="$.billing")
    assert seen == [{"orderId": 9}]
    assert result.output == {"total": 3}


def test_an_unchanged_input_is_passed_on_without_copying():
    document = {"large": list(range(1000))}
    assert run_pass(document).output is document


def test_result_path_shares_the_unchanged_parts_of_the_input():
    document = {"large": list(range(1000)), "small": {}}
    output = run_pass(document, Result=1, ResultPath="$.small.n").output
    assert output["large"] is document["large"]
    assert document == {"large": list(range(1000)), "small": {}}


@pytest.mark.parametrize("value", [None, 0, "s", [1, 2], True])
def test_a_pass_state_passes_any_json_value_through(value):
    assert run_pass(value).output == value
