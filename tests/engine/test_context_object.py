"""The context object `$$` as AWS fills it for Standard and Express (sync and async) executions.

The shape per type is as recorded on AWS (conformance corpus: express/*query_runtime_memory and
context_object/*): Standard and async Express carry Execution.RedriveCount, synchronous Express does
not. A Pass state's State has no RetryCount in either (tests/engine/test_fidelity_retry_count.py).
"""

from __future__ import annotations

import pytest

from engine import ExecutionOptions, compile_definition, run

START = 1_700_000_000.123  # 2023-11-14T22:13:20.123Z
EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:orders:run-7"
MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"
ROLE_ARN = "arn:aws:iam::123456789012:role/orders-role"


def options(machine_type="STANDARD", sync=False, **fields):
    return ExecutionOptions(execution_arn=EXECUTION_ARN, execution_name="run-7",
                            state_machine_arn=MACHINE_ARN, state_machine_name="orders", role_arn=ROLE_ARN,
                            machine_type=machine_type, sync=sync, start_time=START, **fields)


def context_seen(machine_type="STANDARD", sync=False, execution_input=None, **fields):
    definition = {"StartAt": "Look", "States": {"Look": {"Type": "Pass", "Parameters": {"ctx.$": "$$"},
                                                         "End": True}}}
    machine = compile_definition(definition, machine_type=machine_type)
    result = run(machine, {"message": "hi"} if execution_input is None else execution_input,
                 options=options(machine_type, sync, **fields))
    return result.output["ctx"]


def test_a_standard_execution_sees_the_whole_context_object():
    assert context_seen("STANDARD") == {
        "Execution": {"Id": EXECUTION_ARN, "Input": {"message": "hi"}, "Name": "run-7",
                      "RoleArn": ROLE_ARN, "StartTime": "2023-11-14T22:13:20.123Z", "RedriveCount": 0},
        "StateMachine": {"Id": MACHINE_ARN, "Name": "orders"},
        "State": {"EnteredTime": "2023-11-14T22:13:20.123Z", "Name": "Look"},
    }


def test_an_async_express_execution_has_redrive_count_but_no_retry_count():
    context = context_seen("EXPRESS", sync=False)
    assert context["Execution"]["RedriveCount"] == 0
    assert context["State"] == {"EnteredTime": "2023-11-14T22:13:20.123Z", "Name": "Look"}


def test_a_sync_express_execution_has_neither_redrive_count_nor_retry_count():
    context = context_seen("EXPRESS", sync=True)
    assert context["Execution"] == {"Id": EXECUTION_ARN, "Input": {"message": "hi"}, "Name": "run-7",
                                    "RoleArn": ROLE_ARN, "StartTime": "2023-11-14T22:13:20.123Z"}
    assert "RetryCount" not in context["State"]


def test_there_is_no_task_or_map_part_outside_callback_tasks_and_item_selectors():
    assert set(context_seen()) == {"Execution", "StateMachine", "State"}


def test_redrive_count_comes_from_the_options():
    assert context_seen(redrive_count=2)["Execution"]["RedriveCount"] == 2


@pytest.mark.parametrize("start, text", [
    (1_700_000_000.0009, "2023-11-14T22:13:20.000Z"),  # milliseconds are truncated, not rounded
    (1_700_000_000.9999, "2023-11-14T22:13:20.999Z"),
    (1_893_456_000.5, "2030-01-01T00:00:00.500Z"),
])
def test_timestamps_are_utc_with_milliseconds_and_a_z(start, text):
    look = {"Type": "Pass", "Parameters": {"t.$": "$$.Execution.StartTime"}, "End": True}
    assert run({"StartAt": "Look", "States": {"Look": look}}, {},
               options=ExecutionOptions(start_time=start)).output["t"] == text


def test_entered_time_is_when_the_state_was_entered_on_the_injected_clock():
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 90, "Next": "Look"},
        "Look": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime",
                                                "started.$": "$$.Execution.StartTime"}, "End": True}}}
    output = run(definition, {}, options=options()).output
    assert output == {"entered": "2023-11-14T22:14:50.123Z", "started": "2023-11-14T22:13:20.123Z"}


def test_execution_input_stays_the_original_input_as_states_change_the_data():
    definition = {"StartAt": "Change", "States": {
        "Change": {"Type": "Pass", "Result": {"changed": True}, "Next": "Look"},
        "Look": {"Type": "Pass", "OutputPath": "$$.Execution.Input", "End": True}}}
    assert run(definition, {"original": 1}).output == {"original": 1}


def test_state_name_inside_a_parallel_branch_is_the_branch_state():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Parameters": {"name.$": "$$.State.Name"},
                                                  "End": True}}}]}}}
    assert run(definition, {}).output == [{"name": "Inner"}]


def test_a_choice_can_test_the_context_object():
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$$.Execution.Name", "StringEquals": "run-7",
                                             "Next": "Yes"}], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True}}}
    assert run(definition, {}, options=options()).output == "yes"


def test_a_missing_context_path_fails_with_states_runtime():
    look = {"Type": "Pass", "Parameters": {"t.$": "$$.Task.Token"}, "End": True}
    definition = {"StartAt": "Look", "States": {"Look": look}}
    result = run(definition, {})
    assert result.error == "States.Runtime"
    assert "'$$.Task.Token'" in result.cause
