"""`$$.State.RetryCount` exists only in the states that take a Retry field: Task, Parallel and Map.

AWS's context object page lists `State.RetryCount`; its recordings (conformance corpus,
express/*query_runtime_memory) show a Pass state's `$$.State` as just Name and EnteredTime, and so do
Choice, Wait, Succeed and Fail, which cannot retry. Task, Parallel and Map carry it from 0 up, in
Standard and Express executions alike, wherever the context object is read: JSONPath `$$` in InputPath,
Parameters, ResultSelector, OutputPath, Assign, a Map's ItemSelector, and JSONata `$states.context`.
"""

from __future__ import annotations

import pytest

from engine import Execution, ExecutionOptions, compile_definition, run

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
STATE_ONLY = {"Name", "EnteredTime"}
WITH_RETRY_COUNT = {"Name", "EnteredTime", "RetryCount"}


def finished(definition, execution_input=None, machine_type="STANDARD", task_handler=None):
    machine = compile_definition(definition, machine_type=machine_type)
    result = run(machine, {} if execution_input is None else execution_input, task_handler,
                 options=ExecutionOptions(machine_type=machine_type))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result.output


def echo(suspension, execution):
    return suspension.parameters


def one(name, state, **more):
    return {"StartAt": name, "States": {name: {**state, "End": True}, **more}}


@pytest.mark.parametrize("machine_type", ["STANDARD", "EXPRESS"])
@pytest.mark.parametrize("reading", [
    {"Parameters": {"s.$": "$$.State"}},
    {"InputPath": "$$.State", "ResultPath": "$.s"},
    {"Parameters": {"c.$": "$$"}, "OutputPath": "$.c.State"},
    {"Result": {}, "ResultPath": "$.s", "OutputPath": "$$.State"},
])
def test_a_pass_state_sees_only_name_and_entered_time(machine_type, reading):
    output = finished(one("P", {"Type": "Pass", **reading}), machine_type=machine_type)
    state = output.get("s") or output.get("c", {}).get("State") or output
    assert set(state) == STATE_ONLY


def test_a_pass_state_reading_the_whole_context_object_as_input_path():
    output = finished(one("P", {"Type": "Pass", "InputPath": "$$"}))
    assert set(output["State"]) == STATE_ONLY


def test_assign_in_a_pass_state_sees_no_retry_count():
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Assign": {"s.$": "$$.State"}, "Next": "Q"},
        "Q": {"Type": "Pass", "Parameters": {"s.$": "$s"}, "End": True}}}
    assert set(finished(definition)["s"]) == STATE_ONLY


def test_jsonata_states_context_in_a_pass_state_has_no_retry_count():
    definition = one("P", {"Type": "Pass", "QueryLanguage": "JSONata",
                           "Output": "{% $states.context.State %}"})
    assert set(finished(definition)) == STATE_ONLY


def test_choice_wait_and_succeed_see_no_retry_count():
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "W",
              "Choices": [{"Variable": "$$.State.RetryCount", "IsPresent": True, "Next": "Bad"}]},
        "W": {"Type": "Wait", "Seconds": 0, "InputPath": "$$.State", "Next": "S"},
        "S": {"Type": "Succeed"},
        "Bad": {"Type": "Fail", "Error": "SawRetryCount"}}}
    assert set(finished(definition)) == STATE_ONLY


def test_fail_reads_no_retry_count():
    definition = one("F", {"Type": "Fail", "ErrorPath": "$$.State.Name",
                           "CausePath": "States.JsonToString($$.State)"})
    del definition["States"]["F"]["End"]
    result = run(compile_definition(definition), {})
    assert (result.status, result.error) == ("FAILED", "F")
    assert "RetryCount" not in result.cause


@pytest.mark.parametrize("machine_type", ["STANDARD", "EXPRESS"])
def test_a_task_sees_retry_count_zero_on_its_first_attempt(machine_type):
    definition = one("T", {"Type": "Task", "Resource": LAMBDA, "Parameters": {"s.$": "$$.State"}})
    state = finished(definition, machine_type=machine_type, task_handler=echo)["s"]
    assert set(state) == WITH_RETRY_COUNT and state["RetryCount"] == 0


def test_a_task_counts_its_retries_in_the_context_object():
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}]
    definition = one("T", {"Type": "Task", "Resource": LAMBDA, "Parameters": {"n.$": "$$.State.RetryCount"},
                           "Retry": retry})
    execution = Execution(compile_definition(definition), {}, ExecutionOptions())
    seen = []
    while execution.status == "RUNNING":
        for suspension in execution.run():
            if suspension.kind == "task":
                seen.append(suspension.parameters["n"])
                if len(seen) < 3:
                    execution.resume_task(suspension.frame, error="Flaky")
                else:
                    execution.resume_task(suspension.frame, result=suspension.parameters)
            else:
                execution.resume_wait(suspension.frame)
    assert seen == [0, 1, 2] and execution.output == {"n": 2}


def test_a_task_sees_retry_count_in_result_selector_and_output_path():
    definition = one("T", {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.s", "OutputPath": "$$.State",
                           "ResultSelector": {"r.$": "$$.State.RetryCount"}})
    assert set(finished(definition, task_handler=echo)) == WITH_RETRY_COUNT


def test_a_jsonata_task_sees_retry_count_in_states_context():
    definition = one("T", {"Type": "Task", "QueryLanguage": "JSONata", "Resource": LAMBDA,
                           "Arguments": {"n": "{% $states.context.State.RetryCount %}"},
                           "Output": "{% $states.result %}"})
    assert finished(definition, task_handler=echo) == {"n": 0}


def test_parallel_and_map_carry_retry_count_and_their_inner_pass_states_do_not():
    def inner(name):
        return {"StartAt": name,
                "States": {name: {"Type": "Pass", "Parameters": {"s.$": "$$.State"}, "End": True}}}
    selector = {"outer.$": "$$.State", "inner.$": "$[0].s"}
    definition = {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [inner("InBranch")], "ResultSelector": selector,
                "ResultPath": "$.par", "Next": "Map"},
        "Map": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": inner("InItem"),
                "ResultSelector": selector, "ResultPath": "$.map", "End": True}}}
    output = finished(definition, {"items": [1]})
    assert set(output["par"]["outer"]) == WITH_RETRY_COUNT and output["par"]["outer"]["Name"] == "Par"
    assert set(output["par"]["inner"]) == STATE_ONLY
    assert set(output["map"]["outer"]) == WITH_RETRY_COUNT and output["map"]["outer"]["Name"] == "Map"
    assert set(output["map"]["inner"]) == STATE_ONLY


def test_a_map_item_selector_sees_the_map_states_retry_count():
    definition = one("M", {"Type": "Map", "ItemSelector": {"s.$": "$$.State", "v.$": "$$.Map.Item.Value"},
                           "ItemProcessor": {"StartAt": "In",
                                             "States": {"In": {"Type": "Pass", "End": True}}}})
    (item,) = finished(definition, [7])
    assert item["v"] == 7 and set(item["s"]) == WITH_RETRY_COUNT
