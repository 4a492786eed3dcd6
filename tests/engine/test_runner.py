"""The in-memory Express runner: a task handler answers tasks, a virtual clock answers waits."""

from __future__ import annotations

import pytest

from engine import ExecutionOptions, TaskFailed, compile_definition, run

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
START = 1_700_000_000.0
YEAR = 365 * 24 * 3600


def options(**fields):
    return ExecutionOptions(start_time=START, **fields)


def attempts_recorder(outcomes):
    """A task handler that plays `outcomes` in turn (an exception is raised, anything else returned)
    and records the virtual time and attempt number of each call."""
    calls = []
    playing = iter(outcomes)

    def handler(suspension, execution):
        calls.append((execution.clock() - START, suspension.attempt))
        outcome = next(playing)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return handler, calls


def flaky_task(retry, catch=None, **fields):
    task = {"Type": "Task", "Resource": LAMBDA, "Retry": retry, "End": True, **fields}
    states = {"T": task}
    if catch is not None:
        task["Catch"] = catch
        states["Recovered"] = {"Type": "Pass", "End": True}
    return {"StartAt": "T", "States": states}


# -- the virtual clock -------------------------------------------------------------------------------
def test_a_wait_of_a_year_finishes_at_once_and_the_virtual_clock_moves_a_year():
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": YEAR, "End": True}}}
    result = run(definition, {"v": 1}, options=options())
    assert (result.status, result.output) == ("SUCCEEDED", {"v": 1})
    assert result.execution.clock() == START + YEAR
    exited = next(e for e in result.events if e["type"] == "WaitStateExited")
    entered = next(e for e in result.events if e["type"] == "WaitStateEntered")
    assert exited["timestamp"] - entered["timestamp"] == YEAR
    assert result.events[-1]["type"] == "ExecutionSucceeded"


def test_a_timestamp_wait_wakes_at_that_moment():
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": True}}}
    result = run(definition, {"at": "2030-01-01T00:00:00Z"}, options=options())
    assert result.execution.clock() == 1_893_456_000.0


def test_a_timestamp_in_the_past_does_not_move_the_clock_back():
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z",
                                                   "End": True}}}
    result = run(definition, {}, options=options())
    assert result.status == "SUCCEEDED"
    assert result.execution.clock() == START


def test_the_machine_timeout_ends_a_long_wait_as_timed_out_at_the_deadline():
    definition = {"TimeoutSeconds": 60, "StartAt": "W",
                  "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    result = run(definition, {}, options=options())
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.execution.clock() == START + 60
    assert result.events[-1]["type"] == "ExecutionTimedOut"


def test_a_run_without_a_task_handler_fails_the_task():
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}
    result = run(definition, {})
    assert result.status == "FAILED"
    assert LAMBDA in result.cause


def test_run_accepts_a_compiled_machine_and_can_run_it_many_times():
    machine = compile_definition({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert [run(machine, n).output for n in range(3)] == [0, 1, 2]


def test_history_off_records_no_events_but_still_counts_transitions():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass",
                                                                                   "End": True}}}
    result = run(definition, {}, history=False)
    assert result.events is None
    assert result.transitions == 2


# -- task handler --------------------------------------------------------------------------------------
def test_the_handler_gets_the_resource_and_effective_parameters_and_its_result_becomes_the_output():
    seen = []

    def handler(suspension, execution):
        seen.append((suspension.kind, suspension.resource, suspension.parameters, suspension.state_name))
        return {"sum": sum(suspension.parameters["xs"])}

    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA,
                                                   "Parameters": {"xs.$": "$.values"}, "End": True}}}
    result = run(definition, {"values": [1, 2, 3]}, handler)
    assert seen == [("task", LAMBDA, {"xs": [1, 2, 3]}, "T")]
    assert result.output == {"sum": 6}


def test_task_failed_without_retry_or_catch_fails_the_execution_with_its_error_and_cause():
    handler, _ = attempts_recorder([TaskFailed("Custom.Error", "went wrong")])
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}
    result = run(definition, {}, handler)
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom.Error", "went wrong")


# -- Retry with exact back-off times ---------------------------------------------------------------------
def test_retry_waits_interval_then_interval_times_backoff_rate_on_the_virtual_clock():
    handler, calls = attempts_recorder([TaskFailed("E"), TaskFailed("E"), TaskFailed("E"), "ok"])
    result = run(flaky_task([{"ErrorEquals": ["E"], "IntervalSeconds": 3, "BackoffRate": 2,
                              "MaxAttempts": 3}]), {}, handler, options=options())
    assert result.output == "ok"
    assert calls == [(0, 0), (3, 1), (9, 2), (21, 3)]


def test_retry_waits_interval_times_backoff_rate_capped_by_max_delay():
    handler, calls = attempts_recorder([TaskFailed("E")] * 4 + ["ok"])
    run(flaky_task([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 4,
                     "MaxDelaySeconds": 10}]), {}, handler, options=options())
    waits = [later[0] - earlier[0] for earlier, later in zip(calls, calls[1:], strict=False)]
    assert waits == [2, 6, 10, 10]


def test_full_jitter_waits_the_injected_random_fraction_of_each_delay():
    draws = iter([0.5, 0.25, 0.75])
    handler, calls = attempts_recorder([TaskFailed("E")] * 3 + ["ok"])
    run(flaky_task([{"ErrorEquals": ["E"], "IntervalSeconds": 4, "BackoffRate": 2, "MaxAttempts": 3,
                     "MaxDelaySeconds": 12, "JitterStrategy": "FULL"}]),
        {}, handler, options=options(random=lambda: next(draws)))
    waits = [later[0] - earlier[0] for earlier, later in zip(calls, calls[1:], strict=False)]
    assert waits == [4 * 0.5, 8 * 0.25, 12 * 0.75]


def test_retries_exhausted_fail_the_execution_with_the_last_error():
    handler, calls = attempts_recorder([TaskFailed("E", "1"), TaskFailed("E", "2"), TaskFailed("E", "3")])
    result = run(flaky_task([{"ErrorEquals": ["E"], "MaxAttempts": 2}]), {}, handler, options=options())
    assert (result.status, result.error, result.cause) == ("FAILED", "E", "3")
    assert len(calls) == 3


def test_max_attempts_zero_never_retries():
    handler, calls = attempts_recorder([TaskFailed("E")])
    result = run(flaky_task([{"ErrorEquals": ["E"], "MaxAttempts": 0}]), {}, handler)
    assert result.status == "FAILED" and len(calls) == 1


def test_each_retrier_counts_its_own_attempts():
    handler, calls = attempts_recorder([TaskFailed("A"), TaskFailed("B"), TaskFailed("A"), TaskFailed("A")])
    result = run(flaky_task([{"ErrorEquals": ["A"], "MaxAttempts": 2, "IntervalSeconds": 1},
                             {"ErrorEquals": ["B"], "MaxAttempts": 1, "IntervalSeconds": 100}]),
                 {}, handler, options=options())
    # A (retry 1 of A after 1 s), B (retry 1 of B after 100 s), A (retry 2 of A after 2 s), A: exhausted.
    assert [t for t, _ in calls] == [0, 1, 101, 103]
    assert (result.status, result.error) == ("FAILED", "A")


def test_retry_records_task_failed_events_and_the_state_is_entered_once():
    handler, _ = attempts_recorder([TaskFailed("E", "c"), "ok"])
    result = run(flaky_task([{"ErrorEquals": ["E"]}]), {}, handler)
    types = [event["type"] for event in result.events]
    assert types == ["ExecutionStarted", "TaskStateEntered",
                     "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
                     "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
                     "TaskStateExited", "ExecutionSucceeded"]


# -- Catch --------------------------------------------------------------------------------------------
def test_catch_after_retries_puts_the_error_output_at_result_path():
    handler, calls = attempts_recorder([TaskFailed("E", "first"), TaskFailed("E", "second")])
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Recovered", "ResultPath": "$.err"}]
    result = run(flaky_task([{"ErrorEquals": ["E"], "MaxAttempts": 1}], catch=catch), {"order": 1}, handler)
    assert result.status == "SUCCEEDED"
    assert result.output == {"order": 1, "err": {"Error": "E", "Cause": "second"}}
    assert len(calls) == 2


def test_catch_without_result_path_replaces_the_input_with_the_error_output():
    handler, _ = attempts_recorder([TaskFailed("E", "why")])
    result = run(flaky_task([], catch=[{"ErrorEquals": ["E"], "Next": "Recovered"}]), {"order": 1}, handler)
    assert result.output == {"Error": "E", "Cause": "why"}


def test_catch_with_result_path_null_keeps_the_input():
    handler, _ = attempts_recorder([TaskFailed("E", "why")])
    result = run(flaky_task([], catch=[{"ErrorEquals": ["E"], "Next": "Recovered", "ResultPath": None}]),
                 {"order": 1}, handler)
    assert result.output == {"order": 1}


def test_a_task_failed_without_cause_is_caught_with_an_empty_cause_string():
    handler, _ = attempts_recorder([TaskFailed("E")])
    result = run(flaky_task([], catch=[{"ErrorEquals": ["E"], "Next": "Recovered"}]), {}, handler)
    assert result.output == {"Error": "E", "Cause": ""}


@pytest.mark.parametrize("error, caught", [("Custom", True), ("States.Timeout", False)])
def test_a_states_task_failed_catcher_takes_anything_but_a_timeout(error, caught):
    handler, _ = attempts_recorder([TaskFailed(error)])
    result = run(flaky_task([], catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Recovered"}]),
                 {}, handler)
    assert (result.status == "SUCCEEDED") is caught
