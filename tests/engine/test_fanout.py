"""Parallel and Map: children in their own frames, concurrency limits with parked children,
tolerated failures, batching, ItemSelector with `$$.Map.Item`, aborting siblings, and the history a
DISTRIBUTED Map leaves in its parent."""

from __future__ import annotations

import pytest

from engine import Execution, ExecutionOptions, TaskFailed, compile_definition, run

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


def task(**fields):
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def single(state):
    return {"StartAt": "S", "States": {"S": state}}


def map_state(processor_states, mode="INLINE", **fields):
    processor = {"StartAt": next(iter(processor_states)), "States": processor_states}
    if mode == "DISTRIBUTED":
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}


def start(definition, execution_input):
    execution = Execution(compile_definition(definition), execution_input, ExecutionOptions())
    execution.run()
    return execution


def types(events):
    return [event["type"] for event in events]


def echo(suspension, execution):
    return suspension.parameters


def fail_on(*values):
    def handler(suspension, execution):
        if suspension.parameters in values:
            raise TaskFailed("Item.Failed", f"item {suspension.parameters}")
        return suspension.parameters
    return handler


# -- Parallel ----------------------------------------------------------------------------------------
def test_parallel_gives_every_branch_the_same_input_and_collects_outputs_in_branch_order():
    definition = single({"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task(Parameters={"branch": "a", "x.$": "$.x"})}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"branch": "b", "x.$": "$.x"},
                                          "End": True}}}]})
    result = run(definition, {"x": 1}, echo)
    assert result.output == [{"branch": "a", "x": 1}, {"branch": "b", "x": 1}]


def test_parallel_branches_park_side_by_side():
    definition = single({"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task()}}, {"StartAt": "B", "States": {"B": task()}}]})
    execution = start(definition, {})
    assert len(execution.suspensions()) == 2


def test_a_failing_branch_fails_the_parallel_with_its_error_and_aborts_the_other_branch():
    definition = single({"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task()}},
        {"StartAt": "B", "States": {"B": task()}}]})
    execution = start(definition, {})
    first, second = execution.suspensions()
    execution.take_withdrawn()
    execution.resume_task(first, error="Boom", cause="branch A")
    execution.run()
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Boom", "branch A")
    assert execution.take_withdrawn() == [second]
    assert execution.suspensions() == {}
    assert "TaskStateAborted" in types(execution.events)
    assert types(execution.events)[-2:] == ["ParallelStateFailed", "ExecutionFailed"]


def test_a_parallel_catch_takes_a_branch_failure():
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Done", "ResultPath": "$.ignored",
              "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}],
              "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.error", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    assert run(definition, {"in": 1}).output == {"in": 1, "error": {"Error": "E", "Cause": "C"}}


# -- Map concurrency -----------------------------------------------------------------------------------
def test_max_concurrency_limits_how_many_parked_iterations_run_at_once():
    execution = start(single(map_state({"T": task()}, MaxConcurrency=2)), [1, 2, 3, 4, 5])
    assert sorted(s.parameters for s in execution.suspensions().values()) == [1, 2]
    frame_id = next(f for f, s in execution.suspensions().items() if s.parameters == 1)
    execution.resume_task(frame_id, result="one")
    execution.run()
    assert sorted(s.parameters for s in execution.suspensions().values()) == [2, 3]


def test_max_concurrency_zero_runs_every_iteration_at_once():
    execution = start(single(map_state({"T": task()}, MaxConcurrency=0)), [1, 2, 3, 4, 5])
    assert sorted(s.parameters for s in execution.suspensions().values()) == [1, 2, 3, 4, 5]


def test_map_output_keeps_item_order_whatever_order_iterations_finish_in():
    execution = start(single(map_state({"T": task()})), ["a", "b", "c"])
    last_item_first = sorted(execution.suspensions().items(), key=lambda p: p[1].parameters, reverse=True)
    for frame_id, suspension in last_item_first:
        execution.resume_task(frame_id, result=suspension.parameters.upper())
        execution.run()
    assert (execution.status, execution.output) == ("SUCCEEDED", ["A", "B", "C"])


def test_max_concurrency_path_reads_the_limit_from_the_input():
    execution = start(single(map_state({"T": task()}, ItemsPath="$.items", MaxConcurrencyPath="$.limit")),
                      {"items": [1, 2, 3, 4], "limit": 3})
    assert len(execution.suspensions()) == 3


def test_an_empty_map_succeeds_with_an_empty_list():
    assert run(single(map_state({"P": {"Type": "Pass", "End": True}})), []).output == []


def test_map_input_that_is_not_a_list_fails_with_states_runtime():
    result = run(single(map_state({"P": {"Type": "Pass", "End": True}})), {"not": "a list"})
    assert result.error == "States.Runtime"
    assert result.cause.endswith('Map state input must be an array but was: {"not":"a list"}')


# -- failures ------------------------------------------------------------------------------------------
def test_a_failing_iteration_aborts_the_running_ones_and_fails_the_map():
    execution = start(single(map_state({"T": task()}, MaxConcurrency=3)), [1, 2, 3, 4])
    by_item = {s.parameters: f for f, s in execution.suspensions().items()}
    execution.take_withdrawn()
    execution.resume_task(by_item[2], error="Item.Failed", cause="two")
    execution.run()
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Item.Failed", "two")
    assert sorted(execution.take_withdrawn()) == sorted([by_item[1], by_item[3]])
    event_types = types(execution.events)
    assert event_types.count("MapIterationAborted") == 2
    assert "MapStateFailed" in event_types


def test_without_tolerance_an_inline_map_fails_at_the_first_failed_item():
    result = run(single(map_state({"T": task()}, MaxConcurrency=1)), [1, 2, 3], fail_on(2))
    assert (result.status, result.error) == ("FAILED", "Item.Failed")


def test_tolerated_failure_count_lets_that_many_items_fail():
    definition = single(map_state({"T": task()}, mode="DISTRIBUTED", ToleratedFailureCount=1))
    result = run(definition, [1, 2, 3], fail_on(2))
    assert result.status == "SUCCEEDED"
    assert result.output == [1, {"Error": "Item.Failed", "Cause": "item 2"}, 3]


def test_more_failures_than_the_tolerated_count_fail_with_exceed_tolerated_failure_threshold():
    definition = single(map_state({"T": task()}, mode="DISTRIBUTED", ToleratedFailureCount=1))
    result = run(definition, [1, 2, 3], fail_on(1, 3))
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert types(result.events)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


@pytest.mark.parametrize("failing, status", [((1, 2), "SUCCEEDED"), ((1, 2, 3), "FAILED")])
def test_tolerated_failure_percentage_compares_failed_items_with_all_items(failing, status):
    # AWS-documented: the Map Run fails when the percentage of failed items exceeds the tolerance.
    definition = single(map_state({"T": task()}, mode="DISTRIBUTED", ToleratedFailurePercentage=50))
    assert run(definition, [1, 2, 3, 4], fail_on(*failing)).status == status


def test_a_tolerated_failure_percentage_path_outside_0_to_100_fails_the_execution():
    definition = single(map_state({"P": {"Type": "Pass", "End": True}}, mode="DISTRIBUTED",
                                  ToleratedFailurePercentagePath="$.pct", ItemsPath="$.items"))
    result = run(definition, {"items": [1], "pct": 100.1})
    assert result.error == "States.Runtime"


# -- batching and ItemSelector -----------------------------------------------------------------------
def test_item_batcher_groups_items_and_adds_batch_input():
    definition = single(map_state({"T": task()}, mode="DISTRIBUTED",
                                  ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"job": 7}}))
    result = run(definition, [1, 2, 3, 4, 5], echo)
    assert result.output == [{"Items": [1, 2], "BatchInput": {"job": 7}},
                             {"Items": [3, 4], "BatchInput": {"job": 7}},
                             {"Items": [5], "BatchInput": {"job": 7}}]


def test_item_selector_reads_the_map_item_index_and_value_and_the_state_input():
    definition = single(map_state({"P": {"Type": "Pass", "End": True}}, ItemsPath="$.items",
                                  ItemSelector={"index.$": "$$.Map.Item.Index",
                                                "value.$": "$$.Map.Item.Value", "tag.$": "$.tag"}))
    result = run(definition, {"items": ["a", "b"], "tag": "t"})
    assert result.output == [{"index": 0, "value": "a", "tag": "t"}, {"index": 1, "value": "b", "tag": "t"}]


def test_map_item_is_not_in_the_context_of_the_iterations():
    definition = single(map_state({"P": {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True}}))
    result = run(definition, [1])
    assert "Map" not in result.output[0]["ctx"]


def test_nested_maps_see_their_own_items():
    inner = map_state({"P": {"Type": "Pass", "End": True}}, ItemSelector={
        "outer.$": "$.i", "inner.$": "$$.Map.Item.Value"}, ItemsPath="$.xs")
    outer = map_state({"Inner": inner},
                      ItemSelector={"i.$": "$$.Map.Item.Index", "xs.$": "$$.Map.Item.Value"})
    result = run(single(outer), [["a"], ["b", "c"]])
    assert result.output == [[{"outer": 0, "inner": "a"}],
                             [{"outer": 1, "inner": "b"}, {"outer": 1, "inner": "c"}]]


# -- history -------------------------------------------------------------------------------------------
def test_inline_map_records_each_iteration_with_its_index():
    result = run(single(map_state({"P": {"Type": "Pass", "End": True}})), ["a", "b"])
    started = [e["mapIterationStartedEventDetails"] for e in result.events
               if e["type"] == "MapIterationStarted"]
    assert started == [{"name": "S", "index": 0}, {"name": "S", "index": 1}]
    assert [e["mapStateStartedEventDetails"] for e in result.events if e["type"] == "MapStateStarted"] == [
        {"length": 2}]


def test_distributed_map_history_shows_the_map_run_but_not_the_child_executions():
    # As recorded on AWS (conformance: map_state_config_distributed_item_selector_parameters).
    result = run(single(map_state({"P": {"Type": "Pass", "End": True}}, mode="DISTRIBUTED")), [1, 2])
    assert types(result.events) == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    (map_run,) = [e for e in result.events if e["type"] == "MapRunStarted"]
    assert map_run["mapRunStartedEventDetails"]["mapRunArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:stateMachine:machine/")


def test_distributed_map_event_ids_stay_consecutive():
    result = run(single(map_state({"P": {"Type": "Pass", "End": True}}, mode="DISTRIBUTED")), [1, 2, 3])
    assert [e["id"] for e in result.events] == list(range(1, len(result.events) + 1))


def test_distributed_map_iterations_cannot_read_the_parents_variables():
    # AWS-documented (Variables): child workflow executions of a Distributed Map do not see outer variables.
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
        "M": map_state({"P": {"Type": "Pass", "Parameters": {"v.$": "$outer"}, "End": True}},
                       mode="DISTRIBUTED")}}
    result = run(definition, [1])
    assert result.error == "States.Runtime"
    assert "'$outer'" in result.cause


# -- more interplay ----------------------------------------------------------------------------------
def test_max_concurrency_also_limits_iterations_parked_on_a_wait():
    waiting = {"W": {"Type": "Wait", "Seconds": 10, "End": True}}
    execution = start(single(map_state(waiting, MaxConcurrency=2)), [1, 2, 3])
    assert [s.kind for s in execution.suspensions().values()] == ["wait", "wait"]


def test_max_concurrency_one_runs_iterations_strictly_one_after_another():
    execution = start(single(map_state({"T": task()}, MaxConcurrency=1)), ["a", "b", "c"])
    order = []
    while execution.suspensions():
        (frame_id, suspension), = execution.suspensions().items()
        order.append(suspension.parameters)
        execution.resume_task(frame_id, result=suspension.parameters)
        execution.run()
    assert order == ["a", "b", "c"] and execution.output == ["a", "b", "c"]


def test_a_failing_iteration_withdraws_tasks_parked_deep_inside_a_sibling():
    inner_parallel = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task()}}, {"StartAt": "B", "States": {"B": task()}}]}
    definition = single(map_state({"Route": {"Type": "Choice", "Choices": [
        {"Variable": "$", "NumericEquals": 1, "Next": "Fan"}], "Default": "Solo"},
        "Fan": inner_parallel, "Solo": task()}))
    execution = start(definition, [1, 2])
    assert len(execution.suspensions()) == 3  # two branch tasks for item 1, one task for item 2
    solo = next(f for f, s in execution.suspensions().items() if s.state_name == "Solo")
    deep = sorted(f for f in execution.suspensions() if f != solo)
    execution.take_withdrawn()
    execution.resume_task(solo, error="Boom")
    execution.run()
    assert execution.status == "FAILED"
    assert sorted(execution.take_withdrawn()) == deep


def test_a_retried_map_runs_all_its_iterations_again():
    calls = []

    def handler(suspension, execution):
        calls.append(suspension.parameters)
        if len(calls) == 2:
            raise TaskFailed("Once")
        return suspension.parameters * 10

    definition = single(map_state({"T": task()}, MaxConcurrency=1, Retry=[{"ErrorEquals": ["Once"]}]))
    result = run(definition, [1, 2], handler)
    assert result.output == [10, 20]
    assert calls == [1, 2, 1, 2]


def test_a_map_catch_with_result_path_keeps_the_input():
    definition = {"StartAt": "M", "States": {
        "M": {**map_state({"T": task()}, ItemsPath="$.items"), "End": False, "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    del definition["States"]["M"]["End"]
    result = run(definition, {"items": [1]}, fail_on(1))
    assert result.output == {"items": [1], "failure": {"Error": "Item.Failed", "Cause": "item 1"}}


def test_zero_tolerated_failures_fail_at_the_first_failed_item():
    definition = single(map_state({"T": task()}, mode="DISTRIBUTED", ToleratedFailureCount=0))
    assert run(definition, [1, 2], fail_on(2)).error == "States.ExceedToleratedFailureThreshold"


def test_parallel_result_selector_and_result_path_shape_the_branch_outputs():
    branches = [{"StartAt": name, "States": {name: {"Type": "Pass", "Result": name.lower(), "End": True}}}
                for name in ("A", "B")]
    definition = single({"Type": "Parallel", "End": True, "ResultSelector": {"first.$": "$[0]"},
                         "ResultPath": "$.out", "Branches": branches})
    assert run(definition, {"in": 1}).output == {"in": 1, "out": {"first": "a"}}
