"""Payload templates: `.$` fields, literals shared not copied, AWS's errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.errors import RUNTIME, StatesError
from engine.payload import (
    InvalidTemplate,
    compile_field,
    compile_template,
    template_is_constant,
    template_problems,
)


def make_env(context=None, variables=None):
    return SimpleNamespace(
        context=context or {}, variables=variables or {}, random=lambda: 0.5, uuid=lambda: "uuid-1"
    )


def evaluate(template, value, env=None):
    return compile_template(template)(value, env or make_env())


def test_a_dollar_key_takes_its_value_from_the_input_and_drops_the_suffix():
    assert evaluate({"name.$": "$.user.name", "kind": "person"}, {"user": {"name": "Ada"}}) == {
        "name": "Ada",
        "kind": "person",
    }


def test_output_keeps_the_template_key_order():
    result = evaluate({"z": 1, "a.$": "$.a", "m": 2}, {"a": 0})
    assert list(result) == ["z", "a", "m"]


def test_nested_objects_and_arrays_are_templates_too():
    template = {"outer": {"inner.$": "$.x", "list": [1, {"deep.$": "$.y"}, [{"deeper.$": "$.x"}]]}}
    assert evaluate(template, {"x": "X", "y": [1, 2]}) == {
        "outer": {"inner": "X", "list": [1, {"deep": [1, 2]}, [{"deeper": "X"}]]}
    }


def test_context_object_and_variables_are_read_with_double_dollar_and_names():
    env = make_env(context={"Map": {"Item": {"Index": 3}}}, variables={"limits": {"max": 10}})
    template = {"index.$": "$$.Map.Item.Index", "max.$": "$limits.max", "all.$": "$limits"}
    assert evaluate(template, {}, env) == {"index": 3, "max": 10, "all": {"max": 10}}


def test_the_whole_input_and_the_whole_context():
    env = make_env(context={"State": {"Name": "S"}})
    assert evaluate({"input.$": "$", "context.$": "$$"}, [1], env) == {
        "input": [1],
        "context": {"State": {"Name": "S"}},
    }


def test_an_intrinsic_function_computes_a_field():
    template = {"greeting.$": "States.Format('Hello {}', $.name)", "id.$": "States.UUID()"}
    assert evaluate(template, {"name": "Ada"}) == {"greeting": "Hello Ada", "id": "uuid-1"}


def test_an_indefinite_path_yields_the_list_of_matches():
    assert evaluate({"ids.$": "$.items[*].id"}, {"items": [{"id": 1}, {"id": 2}, {}]}) == {"ids": [1, 2]}


def test_a_template_without_dollar_keys_is_returned_itself_not_a_copy():
    template = {"a": [1, {"b": "$.not_a_path"}], "States.Format('{}', $.x)": "literal"}
    assert template_is_constant(template)
    assert evaluate(template, {"x": 1}) is template


def test_literal_parts_of_a_dynamic_template_are_shared():
    template = {"fixed": {"deep": [1, 2]}, "list": [{"k": 1}, {"v.$": "$.v"}], "v.$": "$.v"}
    result = evaluate(template, {"v": 1})
    assert result["fixed"] is template["fixed"]
    assert result["list"][0] is template["list"][0]
    assert result is not template


def test_values_read_from_the_input_are_shared_not_copied():
    value = {"big": {"nested": [1, 2, 3]}}
    assert evaluate({"big.$": "$.big"}, value)["big"] is value["big"]


def test_evaluating_never_changes_the_template_or_the_input():
    template = {"a.$": "$.a", "b": {"c.$": "$.a"}}
    value = {"a": [1]}
    function = compile_template(template)
    function(value, make_env())
    function(value, make_env())
    assert template == {"a.$": "$.a", "b": {"c.$": "$.a"}}
    assert value == {"a": [1]}


@pytest.mark.parametrize("template", [None, 1, "text", "$.looks_like_a_path", [1, "$"], True])
def test_scalar_and_list_templates_are_literals(template):
    assert evaluate(template, {"looks_like_a_path": 1}) == template


def test_a_missing_path_fails_with_aws_cause_without_the_state_prefix():
    with pytest.raises(StatesError) as caught:
        evaluate({"value.$": "$.no_such_jsonpath"}, {"int-literal": 0})
    assert caught.value.name == RUNTIME
    assert caught.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' "
        "could not be found in the input '{\"int-literal\":0}'"
    )


def test_a_missing_context_path_quotes_the_context_object():
    env = make_env(context={"Execution": {"Input": {"int-literal": 0}}})
    with pytest.raises(StatesError) as caught:
        evaluate({"value.$": "$$.Execution.Input.no_such_jsonpath"}, {}, env)
    assert caught.value.cause == (
        "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' "
        'could not be found in the input \'{"Execution":{"Input":{"int-literal":0}}}\''
    )


def test_the_input_in_the_cause_is_written_as_aws_writes_json():
    with pytest.raises(StatesError) as caught:
        evaluate({"v.$": "$.missing"}, {"f": 1e20, "s": "é"})
    assert caught.value.cause.endswith('in the input \'{"f":1.0E20,"s":"é"}\'')


def test_an_index_past_the_end_of_an_array_is_null_in_a_plain_path():
    # AWS: "v.$": "$.items[5]" on {"items": [1, 2]} succeeds with {"v": null}.
    assert evaluate({"v.$": "$.items[5]"}, {"items": [1, 2]}) == {"v": None}


@pytest.mark.parametrize("path", ["$.items[5].x", "$.other[0]", "$.nope[0]"])
def test_other_misses_through_an_index_still_fail(path):
    with pytest.raises(StatesError):
        evaluate({"v.$": path}, {"items": [1], "other": 1})


def test_an_intrinsic_failure_propagates_as_states_runtime():
    with pytest.raises(StatesError) as caught:
        evaluate({"v.$": "States.ArrayLength($.s)"}, {"s": "text"})
    assert caught.value.name == RUNTIME
    assert "Invalid arguments in States.ArrayLength" in caught.value.cause


@pytest.mark.parametrize(
    "template, pointer",
    [
        ({"a.$": 5}, "/States/P/Parameters/a.$"),
        ({"a.$": {"b": 1}}, "/States/P/Parameters/a.$"),
        ({"a.$": "no dollar"}, "/States/P/Parameters/a.$"),
        ({"x": {"y/z.$": "path"}}, "/States/P/Parameters/x/y~1z.$"),
        ({"list": [0, {"a.$": None}]}, "/States/P/Parameters/list/1/a.$"),
    ],
)
def test_a_dollar_field_that_is_not_a_path_or_intrinsic_is_refused_with_its_location(template, pointer):
    with pytest.raises(InvalidTemplate) as caught:
        compile_template(template, "/States/P/Parameters")
    assert caught.value.pointer == pointer
    assert "must be a valid JSONPath or a valid intrinsic function call" in caught.value.message


@pytest.mark.parametrize(
    "text", ["States.Nope($.a)", "States.Format('{}', $.a", "States.ArrayLength()", "$.a[?(@.b ==", "$$$"]
)
def test_a_broken_path_or_intrinsic_is_refused_at_compile_time(text):
    with pytest.raises(InvalidTemplate) as caught:
        compile_template({"f.$": text}, "/Parameters")
    assert caught.value.pointer == "/Parameters/f.$"
    assert isinstance(caught.value, ValueError)


def test_template_is_constant_looks_at_every_level():
    assert template_is_constant({"a": [{"b": 1}]})
    assert not template_is_constant({"a": [{"b.$": "$"}]})
    assert not template_is_constant([{"x.$": "$"}])


def test_template_problems_lists_every_bad_field_with_its_location():
    template = {"ok.$": "$.a", "bad.$": 1, "nested": [{"worse.$": "States.Nope()"}], "fine": {"x": 1}}
    problems = template_problems(template, "/States/P/Parameters")
    assert [problem.pointer for problem in problems] == [
        "/States/P/Parameters/bad.$",
        "/States/P/Parameters/nested/0/worse.$",
    ]
    assert template_problems({"ok.$": "$.a"}) == []


def test_a_field_compiled_alone_names_its_key_in_the_cause():
    # Fail states' ErrorPath/CausePath take a path or an intrinsic, with the same wording.
    read = compile_field("ErrorPath", "$.ErrorX")
    with pytest.raises(StatesError) as caught:
        read({"a": 1}, make_env())
    assert caught.value.cause == (
        "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' "
        "could not be found in the input '{\"a\":1}'"
    )
