"""Running one state on its own (engine/inspection.py, the engine side of TestState): what it answers,
and what each stage of its pipeline made of the data (AWS's InspectionData names)."""

from __future__ import annotations

import pytest

from engine import ExecutionOptions, TaskFailed
from engine.inspection import ERROR, RESULT, InvalidTestRequest, Mock, run_state_test

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def no_tasks(suspension, execution):
    raise AssertionError(f"no task should run, but {suspension.resource} was called")


def test_a_pass_state_shows_every_stage_of_its_pipeline():
    state = {"Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id", "fixed": 1},
             "ResultPath": "$.copy", "OutputPath": "$.copy", "Next": "Ship"}
    outcome = run_state_test(state, {"order": {"id": 7, "x": True}}, no_tasks)
    assert (outcome.status, outcome.next_state) == ("SUCCEEDED", "Ship")
    assert outcome.output == {"id": 7, "fixed": 1}
    assert outcome.inspection == {
        "input": {"order": {"id": 7, "x": True}},
        "afterInputPath": {"id": 7, "x": True},
        "afterParameters": {"id": 7, "fixed": 1},
        "result": {"id": 7, "fixed": 1},
        "afterResultPath": {"order": {"id": 7, "x": True}, "copy": {"id": 7, "fixed": 1}},
    }


def test_a_task_shows_what_the_function_got_returned_and_how_the_result_was_shaped():
    calls = []

    def handler(suspension, execution):
        calls.append(suspension.parameters)
        return {"total": suspension.parameters["n"] * 2, "noise": "x"}

    state = {"Type": "Task", "Resource": LAMBDA + "double", "Parameters": {"n.$": "$.n"},
             "ResultSelector": {"total.$": "$.total"}, "ResultPath": "$.doubled", "End": True}
    outcome = run_state_test(state, {"n": 21}, handler)
    assert calls == [{"n": 21}]
    assert (outcome.status, outcome.next_state) == ("SUCCEEDED", None)
    assert outcome.output == {"n": 21, "doubled": {"total": 42}}
    inspection = outcome.inspection
    assert inspection["afterParameters"] == {"n": 21}
    assert inspection["result"] == {"total": 42, "noise": "x"}
    assert inspection["afterResultSelector"] == {"total": 42}
    assert inspection["afterResultPath"] == {"n": 21, "doubled": {"total": 42}}


def test_a_mocked_task_result_stands_in_for_the_function():
    state = {"Type": "Task", "Resource": LAMBDA + "never", "ResultPath": "$.r", "End": True}
    outcome = run_state_test(state, {"a": 1}, no_tasks, mock=Mock(RESULT, result={"ok": True}))
    assert outcome.output == {"a": 1, "r": {"ok": True}}
    assert outcome.inspection["result"] == {"ok": True}


RETRYING_TASK = {"Type": "Task", "Resource": LAMBDA + "flaky", "End": True,
                 "Retry": [{"ErrorEquals": ["Other"]},
                           {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2,
                            "MaxDelaySeconds": 10}],
                 "Catch": [{"ErrorEquals": ["Nope"], "Next": "Elsewhere"},
                           {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}]}


def test_an_error_a_retrier_would_retry_is_retriable_with_its_index_and_back_off():
    outcome = run_state_test(RETRYING_TASK, {}, no_tasks, mock=Mock(ERROR, error="Boom", cause="first"))
    assert (outcome.status, outcome.error, outcome.cause) == ("RETRIABLE", "Boom", "first")
    assert outcome.inspection["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 2}


def test_the_back_off_grows_with_the_retries_already_made_and_stops_at_max_delay():
    after_one = run_state_test(RETRYING_TASK, {}, no_tasks, mock=Mock(ERROR, error="Boom"),
                               retrier_retry_count=1)
    assert after_one.inspection["errorDetails"]["retryBackoffIntervalSeconds"] == 6
    capped = dict(RETRYING_TASK, Retry=[dict(RETRYING_TASK["Retry"][1], MaxAttempts=5)])
    after_three = run_state_test(capped, {}, no_tasks, mock=Mock(ERROR, error="Boom"), retrier_retry_count=3)
    assert after_three.inspection["errorDetails"]["retryBackoffIntervalSeconds"] == 10  # 2·3³ = 54, capped


def test_when_the_retries_are_spent_the_catcher_takes_the_error():
    outcome = run_state_test(RETRYING_TASK, {"a": 1}, no_tasks, mock=Mock(ERROR, error="Boom", cause="c"),
                             retrier_retry_count=2)
    assert (outcome.status, outcome.next_state, outcome.error, outcome.cause) == (
        "CAUGHT_ERROR", "Recover", "Boom", "c")
    assert outcome.output == {"a": 1, "error": {"Error": "Boom", "Cause": "c"}}
    assert outcome.inspection["errorDetails"] == {"catchIndex": 1}


def test_an_error_nothing_handles_fails_the_test():
    state = {"Type": "Task", "Resource": LAMBDA + "f", "End": True}

    def failing(suspension, execution):
        raise TaskFailed("ValueError", "bad")

    outcome = run_state_test(state, {}, failing)
    assert (outcome.status, outcome.error, outcome.cause) == ("FAILED", "ValueError", "bad")


def test_a_state_error_that_is_not_a_task_failure_is_retriable_too():
    state = {"Type": "Parallel", "End": True, "Retry": [{"ErrorEquals": ["Boom"]}],
             "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}}]}
    outcome = run_state_test(state, {"a": 1}, no_tasks)
    assert (outcome.status, outcome.error, outcome.cause) == ("RETRIABLE", "Boom", "c")
    assert outcome.inspection["errorDetails"]["retryIndex"] == 0


def test_a_state_that_goes_to_itself_runs_once():
    state = {"Type": "Pass", "Result": 1, "ResultPath": "$.n", "Next": "Loop"}
    outcome = run_state_test({"StartAt": "Loop", "States": {"Loop": state}}, {}, no_tasks, state_name="Loop")
    assert (outcome.status, outcome.next_state, outcome.output) == ("SUCCEEDED", "Loop", {"n": 1})


def test_a_choice_names_the_state_it_chose():
    state = {"Type": "Choice", "Default": "Small", "InputPath": "$.order",
             "Choices": [{"Variable": "$.total", "NumericGreaterThan": 100, "Next": "Big"}]}
    outcome = run_state_test(state, {"order": {"total": 500}}, no_tasks)
    assert (outcome.next_state, outcome.output) == ("Big", {"total": 500})
    assert outcome.inspection["afterInputPath"] == {"total": 500}


def test_a_jsonata_task_shows_its_arguments_result_and_the_variables_it_assigned():
    state = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": LAMBDA + "add",
             "Arguments": {"sum": "{% $states.input.a + $base %}"},
             "Output": "{% $states.result.value %}", "Assign": {"last": "{% $states.result.value %}"},
             "End": True}

    def handler(suspension, execution):
        return {"value": suspension.parameters["sum"] * 10}

    outcome = run_state_test(state, {"a": 2}, handler, variables={"base": 1})
    assert (outcome.status, outcome.output) == ("SUCCEEDED", 30)
    assert outcome.inspection == {"input": {"a": 2}, "afterArguments": {"sum": 3}, "result": {"value": 30},
                                  "variables": {"base": 1, "last": 30}}


def test_given_variables_are_read_by_a_whole_machine_state():
    machine = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $x + 1 %}", "End": True}}}
    assert run_state_test(machine, {}, no_tasks, state_name="A", variables={"x": 41}).output == 42


def test_a_map_shows_its_items_their_inputs_and_its_settings():
    state = {"Type": "Map", "ItemsPath": "$.orders", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
             "ItemSelector": {"id.$": "$$.Map.Item.Value.id", "at.$": "$$.Map.Item.Index"},
             "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
             "ResultPath": "$.done", "End": True}
    outcome = run_state_test(state, {"orders": [{"id": "a"}, {"id": "b"}]}, no_tasks)
    expected_items = [{"id": "a", "at": 0}, {"id": "b", "at": 1}]
    assert outcome.output == {"orders": [{"id": "a"}, {"id": "b"}], "done": expected_items}
    inspection = outcome.inspection
    assert inspection["afterItemsPath"] == [{"id": "a"}, {"id": "b"}]
    assert inspection["afterItemSelector"] == expected_items
    assert (inspection["maxConcurrency"], inspection["toleratedFailureCount"]) == (2, 1)
    assert inspection["result"] == expected_items


def test_a_mocked_map_does_not_run_its_iterations():
    state = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": LAMBDA + "never", "End": True}}}, "End": True}
    outcome = run_state_test(state, {"items": [1, 2, 3]}, no_tasks, mock=Mock(RESULT, result=["x", "y", "z"]))
    assert (outcome.status, outcome.output) == ("SUCCEEDED", ["x", "y", "z"])
    assert outcome.inspection["afterItemSelector"] == [1, 2, 3]


def test_map_iteration_failures_beyond_the_tolerance_fail_the_map():
    state = {"Type": "Map", "ToleratedFailurePercentage": 50, "End": True,
             "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}}
    within = run_state_test(state, [1, 2, 3, 4], no_tasks, mock=Mock(RESULT, result=[1, 2, 3, 4]),
                            map_iteration_failure_count=2)
    assert within.status == "SUCCEEDED"
    beyond = run_state_test(state, [1, 2, 3, 4], no_tasks, mock=Mock(RESULT, result=[1, 2, 3, 4]),
                            map_iteration_failure_count=3)
    assert (beyond.status, beyond.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_a_mocked_parallel_error_is_caught():
    state = {"Type": "Parallel", "End": True,
             "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": LAMBDA + "never",
                                                            "End": True}}}],
             "Catch": [{"ErrorEquals": ["Broken"], "Next": "Fallback"}]}
    outcome = run_state_test(state, {}, no_tasks, mock=Mock(ERROR, error="Broken", cause="why"))
    assert (outcome.status, outcome.next_state, outcome.output) == (
        "CAUGHT_ERROR", "Fallback", {"Error": "Broken", "Cause": "why"})


def test_a_given_context_object_is_what_the_state_reads():
    state = {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name", "retry.$": "$$.State.RetryCount"},
             "End": True}
    outcome = run_state_test(state, {}, no_tasks, context={"Execution": {"Name": "night-run"},
                                                            "State": {"RetryCount": 2}},
                             options=ExecutionOptions(execution_name="TestState"))
    assert outcome.output == {"name": "night-run", "retry": 2}


def test_a_wait_state_does_not_wait():
    outcome = run_state_test({"Type": "Wait", "Seconds": 86400, "Next": "After"}, {"a": 1}, no_tasks)
    assert (outcome.status, outcome.next_state, outcome.output) == ("SUCCEEDED", "After", {"a": 1})


def test_a_task_token_wait_needs_a_mock_and_an_unknown_state_is_refused():
    token_task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                  "End": True, "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}
    with pytest.raises(InvalidTestRequest, match="mock"):
        run_state_test(token_task, {}, no_tasks)
    assert run_state_test(token_task, {}, no_tasks, mock=Mock(RESULT, result={"ok": 1})).output == {"ok": 1}
    with pytest.raises(InvalidTestRequest, match="not a Pass state"):
        run_state_test({"Type": "Pass", "End": True}, {}, no_tasks, mock=Mock(RESULT, result=1))
    with pytest.raises(InvalidTestRequest, match="'Nope' does not exist"):
        run_state_test({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, {}, no_tasks,
                       state_name="Nope")
