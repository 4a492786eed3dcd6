"""A Map's `…Path` (and JSONata) limits are checked once resolved, as AWS checks them.

Recorded on AWS (conformance corpus, map_state_tolerated_failure_*_path): a value that is not a number
fails the execution with States.Runtime, "The <Field>Path field refers to value "<v>" which is not a
valid integer|float: <path>"; a percentage outside 0-100 with "ToleratedFailurePercentage must be
between 0 and 100.", after MapStateStarted and without MapStateFailed. The same holds for a negative
ToleratedFailureCount ("ToleratedFailureCount cannot be negative."), a negative MaxConcurrency
("Expected non-negative integer for MaxConcurrency, got '-1' instead.", before MapStateStarted),
and the ItemBatcher's MaxItemsPerBatch / MaxInputBytesPerBatch, in their JSONata forms too. A limit
that is in range runs the Map Run.
"""

from __future__ import annotations

import pytest

from engine import compile_definition, run

PREFIX = "An error occurred while executing the state 'M' (entered at the event id #2). "


def map_machine(language="JSONPath", **fields):
    state = {"Type": "Map", "End": True, **fields,
             "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}
    if language == "JSONPath":
        state.setdefault("ItemsPath", "$.items")
    else:
        state["Items"] = "{% $states.input.items %}"
    return {"QueryLanguage": language, "StartAt": "M", "States": {"M": state}}


def outcome(definition, execution_input):
    result = run(compile_definition(definition), {"items": [1, 2, 3], **execution_input})
    events = [event["type"] for event in result.events] if result.events else None
    return result, events


@pytest.mark.parametrize("field, value, cause", [
    ("ToleratedFailureCountPath", -1, "ToleratedFailureCount cannot be negative."),
    ("ToleratedFailureCountPath", "-3", "ToleratedFailureCount cannot be negative."),
    ("ToleratedFailurePercentagePath", -0.5, "ToleratedFailurePercentage must be between 0 and 100."),
    ("ToleratedFailurePercentagePath", 100.5, "ToleratedFailurePercentage must be between 0 and 100."),
    ("ToleratedFailureCountPath", 1.5,
     'The ToleratedFailureCountPath field refers to value "1.5" which is not a valid integer: $.limit'),
    ("ToleratedFailureCountPath", True,
     'The ToleratedFailureCountPath field refers to value "true" which is not a valid integer: $.limit'),
    ("ToleratedFailurePercentagePath", [1],
     'The ToleratedFailurePercentagePath field refers to value "[1]" which is not a valid float: $.limit'),
])
def test_tolerance_paths_fail_the_execution_after_the_map_started(field, value, cause):
    result, events = outcome(map_machine(**{field: "$.limit"}), {"limit": value})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime", PREFIX + cause)
    assert events[-3:] == ["MapStateEntered", "MapStateStarted", "ExecutionFailed"]


def test_a_negative_max_concurrency_path_fails_before_the_map_starts():
    result, events = outcome(map_machine(MaxConcurrencyPath="$.limit"), {"limit": -1})
    assert (result.error, result.cause) == (
        "States.Runtime", PREFIX + "Expected non-negative integer for MaxConcurrency, got '-1' instead.")
    assert events[-2:] == ["MapStateEntered", "ExecutionFailed"]


@pytest.mark.parametrize("field, value", [
    ("ToleratedFailureCountPath", 0), ("ToleratedFailureCountPath", "2"),
    ("ToleratedFailurePercentagePath", 0), ("ToleratedFailurePercentagePath", 100),
    ("MaxConcurrencyPath", 0), ("MaxConcurrencyPath", 2),
])
def test_limits_in_range_run_the_map(field, value):
    result, _ = outcome(map_machine(**{field: "$.limit"}), {"limit": value})
    assert (result.status, result.output) == ("SUCCEEDED", [1, 2, 3])


@pytest.mark.parametrize("field, value, cause", [
    ("ToleratedFailureCount", -1, "ToleratedFailureCount cannot be negative."),
    ("ToleratedFailurePercentage", 101, "ToleratedFailurePercentage must be between 0 and 100."),
    ("MaxConcurrency", -2, "Expected non-negative integer for MaxConcurrency, got '-2' instead."),
])
def test_jsonata_limits_are_checked_the_same_way(field, value, cause):
    definition = map_machine("JSONata", **{field: "{% $states.input.limit %}"})
    result, _ = outcome(definition, {"limit": value})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime", PREFIX + cause)


def test_a_jsonata_limit_that_is_not_an_integer_is_a_query_evaluation_error():
    definition = map_machine("JSONata", ToleratedFailureCount="{% $states.input.limit %}")
    result, _ = outcome(definition, {"limit": "many"})
    assert (result.error, result.cause) == (
        "States.QueryEvaluationError", PREFIX + "The ToleratedFailureCount field must evaluate to an integer")


@pytest.mark.parametrize("batcher, value, cause", [
    ({"MaxItemsPerBatchPath": "$.limit"}, -1, "field MaxItemsPerBatch must be positive"),
    ({"MaxInputBytesPerBatchPath": "$.limit"}, -1, "field MaxInputBytesPerBatch must be positive"),
    ({"MaxItemsPerBatchPath": "$.limit"}, "x",
     'The MaxItemsPerBatchPath field refers to value "x" which is not a valid integer: $.limit'),
])
def test_item_batcher_paths_are_checked(batcher, value, cause):
    result, _ = outcome(map_machine(ItemBatcher=batcher), {"limit": value})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime", PREFIX + cause)


def test_item_batcher_jsonata_limit_is_checked():
    definition = map_machine("JSONata", ItemBatcher={"MaxItemsPerBatch": "{% $states.input.limit %}"})
    result, _ = outcome(definition, {"limit": -4})
    assert (result.error, result.cause) == (
        "States.Runtime", PREFIX + "field MaxItemsPerBatch must be positive")


def test_an_item_batcher_path_in_range_batches_the_items():
    result, _ = outcome(map_machine(ItemBatcher={"MaxItemsPerBatchPath": "$.limit"}), {"limit": 2})
    assert result.output == [{"Items": [1, 2]}, {"Items": [3]}]
