"""A Fail state's ErrorPath and CausePath take a reference path or a string-valued intrinsic.

AWS's Fail state page: "You can also specify CausePath using an intrinsic function that returns a
string. These intrinsics are: States.Format, States.JsonToString, States.ArrayGetItem,
States.Base64Encode, States.Base64Decode, States.Hash, and States.UUID" (ErrorPath likewise), and the
path form is a reference path. The validator accepts exactly those forms; the run evaluates them as a
Parameters field is evaluated, and the value must be a string.
"""

from __future__ import annotations

import pytest

from engine import compile_definition, run
from engine.compile import InvalidDefinition
from engine.validate import iter_problems


def fail_machine(**fields):
    return {"StartAt": "F", "States": {"F": {"Type": "Fail", **fields}}}


def failed(definition, execution_input):
    result = run(compile_definition(definition), execution_input)
    assert result.status == "FAILED"
    return result.error, result.cause


def problems(definition):
    return [str(problem) for problem in iter_problems(definition)]


def test_cause_path_formats_the_cause_with_states_format():
    definition = fail_machine(Error="Failed",
                              CausePath="States.Format('It failed: {} because {}', $.Error, $.Cause)")
    assert failed(definition, {"Error": "Boom", "Cause": "it broke"}) == (
        "Failed", "It failed: Boom because it broke")


def test_error_path_takes_an_intrinsic_too():
    definition = fail_machine(ErrorPath="States.Format('{}.{}', $.service, $.code)", Cause="c")
    assert failed(definition, {"service": "Orders", "code": "Missing"}) == ("Orders.Missing", "c")


@pytest.mark.parametrize("cause_path, execution_input, cause", [
    ("States.JsonToString($.detail)", {"detail": {"a": 1}}, '{"a":1}'),
    ("States.ArrayGetItem($.causes, 1)", {"causes": ["x", "y"]}, "y"),
    ("States.Base64Encode($.text)", {"text": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.text)", {"text": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    ("States.Hash($.text, 'SHA-1')", {"text": "input data"}, "aaff4a450a104cd177d28d18d74485e8cae074b7"),
])
def test_every_string_valued_intrinsic_gives_the_cause(cause_path, execution_input, cause):
    definition = fail_machine(Error="E", CausePath=cause_path)
    assert problems(definition) == []
    assert failed(definition, execution_input) == ("E", cause)


def test_states_uuid_gives_a_fresh_uuid_as_cause():
    _, cause = failed(fail_machine(Error="E", CausePath="States.UUID()"), {})
    assert len(cause) == 36 and cause.count("-") == 4


def test_paths_may_read_the_context_object_and_variables():
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Assign": {"why": "out of stock"}, "Next": "F"},
        "F": {"Type": "Fail", "ErrorPath": "$$.State.Name",
              "CausePath": "States.Format('because {}', $why)"}}}
    assert failed(definition, {}) == ("F", "because out of stock")


def test_a_formatted_error_is_caught_by_name_around_the_fail_state():
    definition = {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "End": True,
                "Branches": [{"StartAt": "F", "States": {"F": {
                    "Type": "Fail", "ErrorPath": "States.Format('Custom.{}', $.kind)",
                    "CausePath": "States.Format('kind {}', $.kind)"}}}],
                "Catch": [{"ErrorEquals": ["Custom.Timeout"], "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "End": True}}}
    result = run(compile_definition(definition), {"kind": "Timeout"})
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": "Custom.Timeout", "Cause": "kind Timeout"}


def test_an_intrinsic_that_does_not_give_a_string_fails_with_states_runtime():
    definition = fail_machine(Error="E", CausePath="States.ArrayGetItem($.codes, 0)")
    error, cause = failed(definition, {"codes": [7]})
    assert error == "States.Runtime"
    assert "CausePath" in cause and "string" in cause


def test_an_intrinsic_failing_at_run_time_fails_with_states_runtime():
    error, cause = failed(fail_machine(Error="E", CausePath="States.Base64Encode($.n)"), {"n": 5})
    assert error == "States.Runtime"
    assert "States.Base64Encode($.n)" in cause


def test_a_missing_path_keeps_awss_wording():
    error, cause = failed(fail_machine(ErrorPath="$.ErrorX"), {"Error": "E"})
    assert error == "States.Runtime"
    assert cause.endswith("The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found "
                          "in the input '{\"Error\":\"E\"}'")


@pytest.mark.parametrize("field", ["ErrorPath", "CausePath"])
@pytest.mark.parametrize("text", ["States.Array($.a)", "States.MathAdd($.a, 1)", "States.StringToJson($.a)",
                                  "States.ArrayLength($.a)", "States.JsonMerge($.a, $.b, false)"])
def test_intrinsics_that_do_not_give_a_string_are_rejected_at_the_field(field, text):
    assert problems(fail_machine(**{field: text})) == [
        f"SCHEMA_VALIDATION_FAILED: The value for the field '{field}' must be a valid JSONPath or a valid "
        f"intrinsic function call at /States/F/{field}"]
    with pytest.raises(InvalidDefinition):
        compile_definition(fail_machine(**{field: text}))


@pytest.mark.parametrize("field", ["ErrorPath", "CausePath"])
@pytest.mark.parametrize("text", ["$.errors[*]", "$..cause", "$.list[?(@.a)]"])
def test_paths_that_select_more_than_one_node_are_not_reference_paths(field, text):
    assert problems(fail_machine(**{field: text})) == [
        f"SCHEMA_VALIDATION_FAILED: Value is not a Reference Path at /States/F/{field}"]


@pytest.mark.parametrize("field", ["ErrorPath", "CausePath"])
def test_text_that_is_neither_a_path_nor_an_intrinsic_is_rejected(field):
    assert problems(fail_machine(**{field: "plain text"})) == [
        f"SCHEMA_VALIDATION_FAILED: The value for the field '{field}' must be a valid JSONPath or a valid "
        f"intrinsic function call at /States/F/{field}"]
