"""Retry and Catch as pure functions: which retrier or catcher takes an error, and the back-off delay.

Values marked "AWS-documented" come from the Step Functions developer guide, "Handling errors in
Step Functions workflows" (Retry fields and their defaults, JitterStrategy, States.ALL / States.TaskFailed
wildcards).
"""

from __future__ import annotations

import pytest

from engine import compile_definition
from engine.retry import find_catcher, find_retrier, retry_delay


def task_with(retry=None, catch=None):
    state = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}
    if retry is not None:
        state["Retry"] = retry
    if catch is not None:
        state["Catch"] = catch
    states = {"T": state, "Handled": {"Type": "Succeed"}, "Other": {"Type": "Succeed"}}
    # validate=False: the unused catch targets would be unreachable when there is no Catch.
    return compile_definition({"StartAt": "T", "States": states}, validate=False).states["T"]


def retriers(*retry):
    return task_with(retry=list(retry)).retriers


def no_random():
    raise AssertionError("random() must only be called for JitterStrategy FULL")


# -- defaults ----------------------------------------------------------------------------------------
def test_retrier_defaults_are_one_second_three_attempts_backoff_two():
    # AWS-documented defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0, no MaxDelaySeconds.
    (retrier,) = retriers({"ErrorEquals": ["States.ALL"]})
    assert [retry_delay(retrier, n, no_random) for n in range(3)] == [1, 2, 4]
    assert retrier.max_attempts == 3


# -- delay ---------------------------------------------------------------------------------------------
def test_retry_waits_interval_times_backoff_rate_to_the_power_of_retries_done():
    (retrier,) = retriers({"ErrorEquals": ["E"], "IntervalSeconds": 3, "BackoffRate": 1.5, "MaxAttempts": 5})
    assert [retry_delay(retrier, n, no_random) for n in range(4)] == [3, 4.5, 6.75, 10.125]


def test_retry_waits_interval_times_backoff_rate_capped_by_max_delay():
    (retrier,) = retriers({"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3,
                           "MaxDelaySeconds": 10, "MaxAttempts": 5})
    assert [retry_delay(retrier, n, no_random) for n in range(4)] == [2, 6, 10, 10]


def test_backoff_rate_one_keeps_the_interval_constant():
    (retrier,) = retriers({"ErrorEquals": ["E"], "IntervalSeconds": 7, "BackoffRate": 1})
    assert [retry_delay(retrier, n, no_random) for n in range(3)] == [7, 7, 7]


def test_full_jitter_scales_the_capped_delay_by_the_injected_random_fraction():
    # AWS-documented: with JitterStrategy FULL the wait is a random value between 0 and the
    # computed (capped) delay.
    (retrier,) = retriers({"ErrorEquals": ["E"], "IntervalSeconds": 4, "BackoffRate": 2,
                           "MaxDelaySeconds": 10, "JitterStrategy": "FULL"})
    draws = iter([0.25, 0.5, 0.1])
    assert [retry_delay(retrier, n, lambda: next(draws)) for n in range(3)] == [1.0, 4.0, 1.0]


def test_jitter_none_is_the_same_as_no_jitter():
    (retrier,) = retriers({"ErrorEquals": ["E"], "IntervalSeconds": 5, "JitterStrategy": "NONE"})
    assert retry_delay(retrier, 1, no_random) == 10


# -- which retrier -------------------------------------------------------------------------------------
def test_the_first_retrier_whose_error_equals_matches_is_chosen():
    rules = retriers({"ErrorEquals": ["A"]}, {"ErrorEquals": ["B", "C"]}, {"ErrorEquals": ["States.ALL"]})
    assert find_retrier(rules, "A") == 0
    assert find_retrier(rules, "C") == 1
    assert find_retrier(rules, "Z") == 2


def test_no_retrier_matches_an_unlisted_error_without_a_wildcard():
    assert find_retrier(retriers({"ErrorEquals": ["A"]}), "B") is None


def test_states_all_never_retries_states_runtime():
    # AWS-documented: States.ALL doesn't catch States.Runtime; it is not retriable at all.
    rules = retriers({"ErrorEquals": ["States.ALL"]})
    assert find_retrier(rules, "States.Runtime") is None


def test_states_all_matches_data_limit_exceeded_as_recorded_on_aws_but_task_failed_does_not():
    # The guide says States.ALL does not; a recorded AWS execution shows a States.ALL Catcher taking it.
    assert find_retrier(retriers({"ErrorEquals": ["States.ALL"]}), "States.DataLimitExceeded") == 0
    assert find_retrier(retriers({"ErrorEquals": ["States.TaskFailed"]}), "States.DataLimitExceeded") is None


def test_states_task_failed_matches_any_error_except_states_timeout():
    # AWS-documented: "States.TaskFailed acts as a wildcard that matches any known error name except
    # for States.Timeout".
    rules = retriers({"ErrorEquals": ["States.TaskFailed"]})
    assert find_retrier(rules, "Lambda.ServiceException") == 0
    assert find_retrier(rules, "States.HeartbeatTimeout") == 0
    assert find_retrier(rules, "States.Timeout") is None


def test_a_named_states_timeout_retrier_takes_a_timeout():
    rules = retriers({"ErrorEquals": ["States.TaskFailed"]}, {"ErrorEquals": ["States.Timeout"]})
    assert find_retrier(rules, "States.Timeout") == 1


def test_data_limit_exceeded_is_matched_when_named_explicitly():
    rules = retriers({"ErrorEquals": ["States.TaskFailed"]}, {"ErrorEquals": ["States.DataLimitExceeded"]})
    assert find_retrier(rules, "States.DataLimitExceeded") == 1


# -- which catcher -------------------------------------------------------------------------------------
def test_the_first_matching_catcher_is_chosen_and_gives_its_next_state():
    state = task_with(catch=[{"ErrorEquals": ["A"], "Next": "Handled"},
                             {"ErrorEquals": ["States.ALL"], "Next": "Other"}])
    assert find_catcher(state.catchers, "A").next == "Handled"
    assert find_catcher(state.catchers, "Whatever").next == "Other"


def test_no_catcher_takes_states_runtime():
    state = task_with(catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}])
    assert find_catcher(state.catchers, "States.Runtime") is None


def test_a_catcher_keeps_its_result_path():
    state = task_with(catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled", "ResultPath": "$.error"}])
    assert state.catchers[0].result_path.text == "$.error"


@pytest.mark.parametrize("error", ["A", "B"])
def test_error_equals_with_several_names_matches_each(error):
    state = task_with(catch=[{"ErrorEquals": ["A", "B"], "Next": "Handled"}])
    assert find_catcher(state.catchers, error) is state.catchers[0]
