"""Workflow variables (`Assign`) in both query languages: evaluation order, scopes, limits."""

from __future__ import annotations

import itertools

from engine import run
from engine.errors import DATA_LIMIT_EXCEEDED, QUERY_EVALUATION_ERROR


def machine(states: dict, start: str | None = None, language: str = "JSONata") -> dict:
    return {"QueryLanguage": language, "StartAt": start or next(iter(states)), "States": states}


def chain(*states: dict, language: str = "JSONata", prefix: str = "S") -> dict:
    """States S0, S1, … (names start with `prefix`) run one after the other."""
    named = {}
    for index, state in enumerate(states):
        state = dict(state)
        if index + 1 < len(states):
            state["Next"] = f"{prefix}{index + 1}"
        elif state["Type"] not in ("Fail", "Succeed"):
            state["End"] = True
        named[f"{prefix}{index}"] = state
    return machine(named, language=language)


def pass_state(**fields) -> dict:
    return {"Type": "Pass", **fields}


# -- when values are bound --------------------------------------------------------------------------
def test_assignments_are_evaluated_against_the_values_before_the_state():
    result = run(
        chain(
            pass_state(Assign={"a": 1, "b": 2}),
            pass_state(Assign={"a": "{% $b %}", "b": "{% $a %}"}),
            pass_state(Output={"a": "{% $a %}", "b": "{% $b %}"}),
        ),
        {},
    )
    assert result.output == {"a": 2, "b": 1}


def test_output_reads_the_variables_as_they_were_when_the_state_was_entered():
    result = run(
        chain(pass_state(Assign={"x": "old"}), pass_state(Assign={"x": "new"}, Output="{% $x %}")), {}
    )
    assert result.output == "old"


def test_assign_sees_the_result_and_the_input():
    definition = chain(
        pass_state(
            Output={"n": 2},
            Assign={"fromInput": "{% $states.input.n %}", "fromResult": "{% $states.result.n %}"},
        ),
        pass_state(Output={"i": "{% $fromInput %}", "r": "{% $fromResult %}"}),
    )
    assert run(definition, {"n": 1}).output == {"i": 1, "r": 1}


def test_jsonpath_assign_reads_the_state_result_with_dollar():
    definition = chain(
        pass_state(Result={"answer": 42}, Assign={"answer.$": "$.answer", "fixed": "x"}),
        pass_state(Parameters={"a.$": "$answer", "f.$": "$fixed"}),
        language="JSONPath",
    )
    assert run(definition, {}).output == {"a": 42, "f": "x"}


def test_a_jsonpath_machine_and_a_jsonata_state_share_variables():
    definition = chain(
        pass_state(Assign={"greeting": "hello"}),
        pass_state(QueryLanguage="JSONata", Output="{% $greeting & ' world' %}"),
        language="JSONPath",
    )
    assert run(definition, {}).output == "hello world"


# -- scopes -----------------------------------------------------------------------------------------
_branches = itertools.count()


def branch(*states: dict) -> dict:
    """A Parallel branch or Map ItemProcessor; state names are unique across the machine, as ASL requires."""
    inner = chain(*states, prefix=f"B{next(_branches)}_")
    del inner["QueryLanguage"]
    return inner


def test_a_parallel_branch_reads_outer_variables_and_keeps_its_own_to_itself():
    definition = chain(
        pass_state(Assign={"outer": "o"}),
        {
            "Type": "Parallel",
            "Branches": [
                branch(
                    pass_state(Assign={"mine": "a"}),
                    pass_state(Output={"outer": "{% $outer %}", "mine": "{% $mine %}"}),
                ),
                branch(pass_state(Output={"sees_other": "{% $exists($mine) %}"})),
            ],
        },
        pass_state(Output={"result": "{% $states.input %}", "mine_after": "{% $exists($mine) %}"}),
    )
    assert run(definition, {}).output == {
        "result": [{"outer": "o", "mine": "a"}, {"sees_other": False}],
        "mine_after": False,
    }


def test_each_map_iteration_has_a_scope_of_its_own():
    definition = chain(
        pass_state(Assign={"base": 10}),
        {
            "Type": "Map",
            "Items": [1, 2, 3],
            "MaxConcurrency": 1,
            "ItemProcessor": branch(
                pass_state(
                    Output={"seen_before": "{% $exists($last) %}"}, Assign={"last": "{% $states.input %}"}
                ),
                pass_state(
                    Output={"value": "{% $base + $last %}", "fresh": "{% $not($states.input.seen_before) %}"}
                ),
            ),
        },
    )
    assert run(definition, {}).output == [
        {"value": 11, "fresh": True},
        {"value": 12, "fresh": True},
        {"value": 13, "fresh": True},
    ]


def test_an_inner_assignment_does_not_change_the_outer_variable():
    definition = chain(
        pass_state(Assign={"x": "outer"}),
        {
            "Type": "Parallel",
            "Branches": [branch(pass_state(Assign={"x": "inner"}), pass_state(Output="{% $x %}"))],
        },
        pass_state(Output={"branch": "{% $states.input[0] %}", "after": "{% $x %}"}),
    )
    assert run(definition, {}).output == {"branch": "inner", "after": "outer"}


def test_a_map_assigns_in_the_outer_scope_from_its_result():
    definition = chain(
        {
            "Type": "Map",
            "Items": [1, 2],
            "ItemProcessor": branch(pass_state(Output="{% $states.input * 2 %}")),
            "Assign": {"doubled": "{% $states.result %}"},
        },
        pass_state(Output="{% $doubled %}"),
    )
    assert run(definition, {}).output == [2, 4]


# -- Catch ------------------------------------------------------------------------------------------
def test_a_catcher_assigns_from_the_error_output():
    definition = machine(
        {
            "Try": {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Fail", "Error": "Custom", "Cause": "why"})],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "Handled",
                        "Assign": {"failure": "{% $states.errorOutput.Error %}"},
                        "Output": {
                            "input": "{% $states.input %}",
                            "cause": "{% $states.errorOutput.Cause %}",
                        },
                    }
                ],
                "End": True,
            },
            "Handled": pass_state(
                Output={"failure": "{% $failure %}", "caught": "{% $states.input %}"}, End=True
            ),
        }
    )
    assert run(definition, {"k": 1}).output == {
        "failure": "Custom",
        "caught": {"input": {"k": 1}, "cause": "why"},
    }


def test_a_jsonpath_catcher_assigns_from_the_error_output_with_dollar():
    definition = machine(
        {
            "Try": {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Fail", "Error": "Custom", "Cause": "why"})],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "Handled",
                        "Assign": {"error.$": "$.Error"},
                        "ResultPath": "$.caught",
                    }
                ],
                "End": True,
            },
            "Handled": pass_state(Parameters={"error.$": "$error"}, End=True),
        },
        language="JSONPath",
    )
    assert run(definition, {}).output == {"error": "Custom"}


# -- failures ---------------------------------------------------------------------------------------
def test_an_undefined_assignment_fails_the_state_with_an_evaluation_failed_event():
    definition = chain(pass_state(Assign={"x": "{% $states.input.absent %}"}))
    result = run(definition, {})
    assert (result.status, result.error) == ("FAILED", QUERY_EVALUATION_ERROR)
    assert result.cause == (
        "An error occurred while executing the state 'S0' (entered at the event id #2). "
        "The JSONata expression '$states.input.absent' specified for the field 'Assign/x' "
        "returned nothing (undefined)."
    )
    assert [event["type"] for event in result.events][-2:] == ["EvaluationFailed", "ExecutionFailed"]


def test_an_evaluation_error_can_be_caught():
    definition = machine(
        {
            "Map": {
                "Type": "Map",
                "Items": "{% $states.input.absent %}",
                "ItemProcessor": branch(pass_state()),
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Next": "Handled",
                        "Output": "{% $states.errorOutput.Error %}",
                    }
                ],
                "End": True,
            },
            "Handled": pass_state(End=True),
        }
    )
    assert run(definition, {}).output == QUERY_EVALUATION_ERROR


# -- limits -----------------------------------------------------------------------------------------
KIB = 1024


def test_one_assign_may_write_at_most_256_kib():
    big = "x" * (200 * KIB)
    result = run(
        chain(pass_state(Assign={"a": "{% $states.input.big %}", "b": "{% $states.input.big %}"})),
        {"big": big},
    )
    assert (result.status, result.error) == ("FAILED", DATA_LIMIT_EXCEEDED)
    excess = 2 * (len(big) + 2) - 256 * KIB
    assert result.cause == f"The Assign field exceeds the maximum variable assignment size by {excess} bytes."


def test_an_execution_may_hold_at_most_10_mib_of_variables():
    value = "x" * (250 * KIB)
    states = [pass_state(Assign={f"v{index}": "{% $states.input %}"}) for index in range(42)]
    result = run(chain(*states), value)
    assert (result.status, result.error) == ("FAILED", DATA_LIMIT_EXCEEDED)
    assert result.cause.startswith(
        "Execution total variable size limit exceeded. State 'S40' assigned variables"
    )


def test_reassigning_a_variable_replaces_its_size():
    value = "x" * (250 * KIB)
    states = [pass_state(Assign={"same": "{% $states.input %}"}) for _ in range(50)]
    assert run(chain(*states), value).status == "SUCCEEDED"


def test_the_variables_of_finished_iterations_no_longer_count():
    value = "x" * (250 * KIB)
    definition = chain(
        {
            "Type": "Map",
            "Items": "{% [1..60] %}",
            "MaxConcurrency": 1,
            "ItemSelector": {"big": value},
            "ItemProcessor": branch(pass_state(Assign={"big": "{% $states.input.big %}"}, Output=1)),
        }
    )
    result = run(definition, {})
    assert result.status == "SUCCEEDED" and len(result.output) == 60


def test_a_distributed_map_iteration_cannot_read_the_parent_variables():
    processor = branch(pass_state(Output={"sees_outer": "{% $exists($outer) %}"}))
    processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    definition = chain(
        pass_state(Assign={"outer": 1}),
        {"Type": "Map", "Items": [1], "ItemSelector": {"outer": "{% $outer %}"}, "ItemProcessor": processor},
    )
    assert run(definition, {}).output == [{"sees_outer": False}]
