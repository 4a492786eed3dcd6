"""JSONata fields of each state type, run through the engine: where `$states` parts exist, and how a
failing expression names its field."""

from __future__ import annotations

from engine import run
from engine.errors import QUERY_EVALUATION_ERROR


def machine(states: dict) -> dict:
    return {"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states}


def cause_of(definition: dict, execution_input=None) -> str:
    result = run(definition, {} if execution_input is None else execution_input)
    assert (result.status, result.error) == ("FAILED", QUERY_EVALUATION_ERROR)
    return result.cause


def test_item_selector_reads_the_map_item_from_the_context():
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {
                    "value": "{% $states.context.Map.Item.Value %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                    "tag": "{% $states.input.tag %}",
                },
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert run(definition, {"xs": ["a", "b"], "tag": "t"}).output == [
        {"value": "a", "index": 0, "tag": "t"},
        {"value": "b", "index": 1, "tag": "t"},
    ]


def test_parallel_output_reads_the_branch_results_as_states_result():
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.n + 1 %}"},
                "Branches": [
                    {
                        "StartAt": "B",
                        "States": {
                            "B": {"Type": "Pass", "Output": "{% $states.input.n * 10 %}", "End": True}
                        },
                    }
                ],
                "Output": {"results": "{% $states.result %}", "input": "{% $states.input %}"},
                "End": True,
            }
        }
    )
    assert run(definition, {"n": 1}).output == {"results": [20], "input": {"n": 1}}


def test_choice_conditions_and_rule_outputs():
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.n > 5 %}", "Next": "Big", "Output": {"size": "big"}},
                ],
                "Default": "Small",
            },
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Pass", "Output": {"size": "small"}, "End": True},
        }
    )
    assert run(definition, {"n": 9}).output == {"size": "big"}
    assert run(definition, {"n": 1}).output == {"size": "small"}


def test_wait_seconds_may_be_an_expression():
    definition = machine({"W": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "End": True}})
    assert run(definition, {"delay": 3}).status == "SUCCEEDED"


def test_fail_error_and_cause_may_be_expressions():
    definition = machine(
        {
            "F": {
                "Type": "Fail",
                "Error": "{% 'Custom.' & $states.input.kind %}",
                "Cause": "{% $string($states.input.code) %}",
            }
        }
    )
    result = run(definition, {"kind": "Bad", "code": 7})
    assert (result.error, result.cause) == ("Custom.Bad", "7")


def test_failing_fields_are_named_as_aws_names_them():
    prefix = "An error occurred while executing the state"
    cases = {
        "Choices[0]/Condition": machine(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.absent %}", "Next": "D"}],
                    "Default": "D",
                },
                "D": {"Type": "Succeed"},
            }
        ),
        "Seconds": machine({"W": {"Type": "Wait", "Seconds": "{% $states.input.absent %}", "End": True}}),
        "Arguments/a[1]": machine(
            {
                "P": {
                    "Type": "Parallel",
                    "Arguments": {"a": [1, "{% $states.input.absent %}"]},
                    "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                    "End": True,
                }
            }
        ),
        "Catch[0]/Output": machine(
            {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Fail"}}}],
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "Next": "D", "Output": "{% $states.input.absent %}"}
                    ],
                    "End": True,
                },
                "D": {"Type": "Succeed"},
            }
        ),
    }
    for field, definition in cases.items():
        cause = cause_of(definition)
        assert cause.startswith(prefix), field
        assert cause.endswith(
            f"The JSONata expression '$states.input.absent' specified for the field '{field}' "
            "returned nothing (undefined)."
        ), cause


def test_a_failing_expression_records_an_evaluation_failed_event():
    definition = machine({"P": {"Type": "Pass", "Output": "{% $states.input.absent %}", "End": True}})
    events = run(definition, {}).events
    failed = [event for event in events if event["type"] == "EvaluationFailed"]
    assert len(failed) == 1


def test_the_evaluation_failed_event_names_the_field():
    definition = machine({"P": {"Type": "Pass", "Output": {"v": "{% $states.input.absent %}"}, "End": True}})
    [failed] = [event for event in run(definition, {}).events if event["type"] == "EvaluationFailed"]
    details = failed["evaluationFailedEventDetails"]
    assert (details["location"], details["state"]) == ("Output/v", "P")


def test_task_timeouts_given_as_expressions_must_be_positive_integers():
    definition = machine({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                "TimeoutSeconds": "{% $states.input.timeout %}", "End": True}})
    cause = cause_of(definition, {"timeout": "soon"})
    assert cause.endswith('The TimeoutSeconds field must evaluate to a positive integer, but was: "soon"')
