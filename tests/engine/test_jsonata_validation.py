"""JSONata and variables checked when the definition is created, as AWS refuses them."""

from __future__ import annotations

import pytest

from engine import InvalidDefinition, compile_definition, iter_problems
from engine import jsonata as jsonata_support


def jsonata_pass(**fields) -> dict:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": True, **fields}},
    }


def problems(definition: dict) -> list[tuple[str, str, str]]:
    return [(p.code, p.path, p.message) for p in iter_problems(definition) if p.severity == "ERROR"]


def test_an_expression_that_does_not_parse_is_refused_where_it_is():
    [(code, path, _)] = problems(jsonata_pass(Output={"v": "{% $states.input.[ %}"}))
    assert (code, path) == ("INVALID_JSONATA_EXPRESSION", "/States/P/Output/v")


def test_compiling_a_definition_refuses_a_syntax_error():
    with pytest.raises(InvalidDefinition):
        compile_definition(jsonata_pass(Output="{% 1 + %}"))


def test_the_root_context_is_refused():
    assert problems(jsonata_pass(Output="{% $$.Execution.Id %}")) == [
        ("UNSUPPORTED_JSONATA_EXPRESSION", "/States/P/Output", "Reference to '$$' is not supported.")
    ]


def test_a_bare_name_at_the_top_is_refused():
    assert problems(jsonata_pass(Output={"v": "{% phone %}"})) == [
        (
            "UNSUPPORTED_JSONATA_EXPRESSION",
            "/States/P/Output/v",
            "Reference to 'phone' at the top level is not supported.",
        )
    ]


def test_error_output_is_refused_outside_a_catcher():
    [(code, path, message)] = problems(jsonata_pass(Assign={"e": "{% $states.errorOutput %}"}))
    assert (code, path) == ("UNSUPPORTED_JSONATA_EXPRESSION", "/States/P/Assign/e")
    assert "$states.errorOutput" in message


def test_error_output_is_accepted_in_a_catchers_output_and_assign():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": [1],
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "Done",
                        "Output": {"e": "{% $states.errorOutput.Error %}"},
                        "Assign": {"cause": "{% $states.errorOutput.Cause %}"},
                    }
                ],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    assert problems(definition) == []


def test_strings_and_later_path_steps_are_not_references():
    assert problems(jsonata_pass(Output="{% [$states.input.items[price > 1], '$$', 'phone'] %}")) == []


@pytest.mark.parametrize("name", ["states", "1abc", "a-b"])
def test_reserved_and_malformed_variable_names_are_refused(name):
    [(code, path, _)] = problems(jsonata_pass(Assign={name: 1}))
    assert (code, path) == ("SCHEMA_VALIDATION_FAILED", f"/States/P/Assign/{name}")


def test_validation_and_compilation_parse_each_expression_once():
    jsonata_support.parse.cache_clear()
    compile_definition(jsonata_pass(Output={"a": "{% $states.input.a %}", "b": "{% $states.input.a %}"}))
    info = jsonata_support.parse.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
