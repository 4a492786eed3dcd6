"""History events as AWS shapes them: ids, previousEventId, the details key per event type and the
fields inside it, checked against botocore's Step Functions service model (the `HistoryEvent`
shape of GetExecutionHistory), and `to_aws` turning engine events into that shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.validate import ParamValidator

from engine import Execution, ExecutionOptions, TaskFailed, compile_definition, run
from engine.history import DETAILS_KEY, details_key, reduced, to_aws

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
SQS = "arn:aws:states:::sqs:sendMessage"
ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:review"
START = 1_700_000_000.0

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
HISTORY_EVENT = MODEL.shape_for("HistoryEvent")
EVENT_TYPES = set(MODEL.shape_for("HistoryEventType").enum)


def lower_first(text: str) -> str:
    return text[0].lower() + text[1:]


def model_details_key(event_type: str) -> str | None:
    """The details member AWS's model has for an event type, by its naming rule."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    candidate = lower_first(event_type) + "EventDetails"
    return candidate if candidate in HISTORY_EVENT.members else None


# -- executions that between them produce most event types ------------------------------------------------
def handler_failing_first(suspension, execution):
    if suspension.attempt == 0:
        raise TaskFailed("Flaky", "first attempt")
    return {"ok": suspension.resource}


def handler_timing_out(suspension, execution):
    raise TaskFailed("States.Timeout")


def scenario_runs():
    yield run({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": {"é": "ü"}, "ResultPath": "$.r", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.é", "StringEquals": "ü", "Next": "W"}],
              "Default": "F"},
        "W": {"Type": "Wait", "Seconds": 5, "Next": "S"},
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail", "Error": "E"}}}, {"in": 1})
    for resource in (LAMBDA, SQS, ACTIVITY):
        parameters = {"QueueUrl": "q", "MessageBody": "m"} if resource == SQS else {"x": 1}
        yield run({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": resource, "Parameters": parameters, "TimeoutSeconds": 30,
            "HeartbeatSeconds": 10, "Retry": [{"ErrorEquals": ["Flaky"]}], "End": True}}},
            {}, handler_failing_first)
        yield run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True,
                                                    "Parameters": parameters}}}, {}, handler_timing_out)
    yield run({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "Branch", "Cause": "b"}}}]}}},
        {}, lambda s, e: 1)
    yield run({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": True,
                                                "ItemProcessor": {"StartAt": "T", "States": {"T": {
                                                    "Type": "Task", "Resource": LAMBDA, "End": True}}}}}},
              [1, 2, 3], lambda s, e: s.parameters)
    for items in ([1, 2], [1, "fail"]):
        yield run({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "StringEquals": "fail", "Next": "F"}],
                      "Default": "P"},
                "P": {"Type": "Pass", "End": True},
                "F": {"Type": "Fail", "Error": "Item"}}}}}}, items)
    yield run({"QueryLanguage": "JSONata", "StartAt": "J", "States": {
        "J": {"Type": "Pass", "Assign": {"v": "{% $states.input.a %}"}, "Next": "Bad"},
        "Bad": {"Type": "Pass", "Output": "{% $undefinedFunction() %}", "End": True}}}, {"a": [1]})


def stopped_and_timed_out():
    for end in ("stop", "time_out"):
        execution = Execution(compile_definition(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": True}}}), {},
            ExecutionOptions(start_time=START, clock=lambda: START))
        execution.run()
        execution.stop("Operator", "why") if end == "stop" else execution.time_out()
        yield execution.events


ALL_HISTORIES = [result.events for result in scenario_runs()] + list(stopped_and_timed_out())
ALL_EVENTS = [event for events in ALL_HISTORIES for event in events]


def test_the_scenarios_cover_the_event_families():
    produced = {event["type"] for event in ALL_EVENTS}
    expected = {"PassStateEntered", "ChoiceStateExited", "WaitStateExited", "SucceedStateEntered",
                "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
                "LambdaFunctionSucceeded", "LambdaFunctionTimedOut", "TaskScheduled", "TaskStarted",
                "TaskFailed", "TaskSucceeded", "TaskTimedOut", "ActivityScheduled", "ActivityStarted",
                "ActivitySucceeded", "ActivityFailed", "ActivityTimedOut", "ParallelStateStarted",
                "ParallelStateFailed", "TaskStateAborted", "MapStateStarted", "MapIterationStarted",
                "MapIterationSucceeded", "MapStateSucceeded", "MapRunStarted", "MapRunSucceeded",
                "MapRunFailed", "EvaluationFailed", "ExecutionStarted", "ExecutionSucceeded",
                "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
    assert expected - produced == set()


@pytest.mark.parametrize("event_type", sorted({event["type"] for event in ALL_EVENTS}))
def test_every_event_type_is_one_aws_defines(event_type):
    assert event_type in EVENT_TYPES


@pytest.mark.parametrize("event_type", sorted({event["type"] for event in ALL_EVENTS}))
def test_every_event_uses_the_details_key_aws_names_for_its_type(event_type):
    keys = {key for event in ALL_EVENTS if event["type"] == event_type
            for key in event if key.endswith("EventDetails")}
    expected = model_details_key(event_type)
    assert keys <= ({expected} if expected else set())




@pytest.mark.parametrize("event_type", sorted({event["type"] for event in ALL_EVENTS}))
def test_every_event_to_aws_validates_against_the_history_event_shape(event_type):
    problems = []
    for event in ALL_EVENTS:
        if event["type"] == event_type:
            report = ParamValidator().validate(to_aws(event), HISTORY_EVENT)
            if report.has_errors():
                problems.append(report.generate_report())
    assert problems == []


def test_a_lambda_scheduled_event_has_no_heartbeat_field():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA,
                                                   "HeartbeatSeconds": 10, "End": True}}}, {}, lambda s, e: 1)
    (event,) = [e for e in result.events if e["type"] == "LambdaFunctionScheduled"]
    assert "heartbeatInSeconds" not in event["lambdaFunctionScheduledEventDetails"]


def test_an_activity_scheduled_event_keeps_its_heartbeat_field():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ACTIVITY,
                                                   "HeartbeatSeconds": 10, "End": True}}}, {}, lambda s, e: 1)
    (event,) = [e for e in result.events if e["type"] == "ActivityScheduled"]
    assert event["activityScheduledEventDetails"]["heartbeatInSeconds"] == 10


def service_task_scheduled_event():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": SQS, "End": True,
                                                   "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}}},
                 {}, lambda s, e: {})
    (event,) = [e for e in result.events if e["type"] == "TaskScheduled"]
    return event


def test_to_aws_gives_task_scheduled_parameters_no_details_field():
    details = to_aws(service_task_scheduled_event())["taskScheduledEventDetails"]
    assert details["parameters"] == '{"QueueUrl":"q","MessageBody":"m"}'
    assert "parametersDetails" not in details


def test_a_service_task_scheduled_event_names_the_execution_region():
    # The model requires region (min length 1); AWS records the region the execution runs in.
    assert service_task_scheduled_event()["taskScheduledEventDetails"]["region"] == "us-east-1"


def test_a_map_run_failed_event_without_cause_leaves_the_cause_out():
    result = run({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Item"}}}}}}, [1])
    (event,) = [e for e in result.events if e["type"] == "MapRunFailed"]
    assert event["mapRunFailedEventDetails"] == {"error": "Item"}


@pytest.mark.parametrize("event_type, key", sorted(DETAILS_KEY.items()))
def test_the_details_key_table_matches_the_service_model(event_type, key):
    assert event_type in EVENT_TYPES
    assert key == model_details_key(event_type)


def test_state_entered_and_exited_events_share_the_state_details_keys():
    assert details_key("MapStateEntered") == "stateEnteredEventDetails"
    assert details_key("ChoiceStateExited") == "stateExitedEventDetails"
    assert details_key("LambdaFunctionStarted") is None


# -- ids -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(len(ALL_HISTORIES)))
def test_event_ids_count_from_one_without_gaps(index):
    events = ALL_HISTORIES[index]
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("index", range(len(ALL_HISTORIES)))
def test_previous_event_id_points_to_an_earlier_event(index):
    for event in ALL_HISTORIES[index]:
        assert 0 <= event["previousEventId"] < event["id"]


def test_a_linear_execution_chains_each_event_to_the_one_before():
    # AWS's GetExecutionHistory example: ExecutionStarted (id 1, previous 0), then the first state's
    # Entered event (id 2, previous 1).
    result = run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                             "B": {"Type": "Pass", "End": True}}}, {})
    assert [(e["id"], e["previousEventId"]) for e in result.events] == [(i, i - 1) for i in range(1, 7)]


def test_each_parallel_branch_chains_from_parallel_state_started():
    result = run({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}}}, {})
    by_type = {}
    for event in result.events:
        by_type.setdefault(event["type"], []).append(event)
    (started,) = by_type["ParallelStateStarted"]
    entered = by_type["PassStateEntered"]
    assert [e["previousEventId"] for e in entered] == [started["id"], started["id"]]
    for enter in entered:
        exited = next(e for e in by_type["PassStateExited"]
                      if e["stateExitedEventDetails"]["name"] == enter["stateEnteredEventDetails"]["name"])
        assert exited["previousEventId"] == enter["id"]


def test_event_ids_keep_counting_with_history_off():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                             "B": {"Type": "Pass", "End": True}}}
    with_history = run(definition, {}).execution.event_count
    assert run(definition, {}, history=False).execution.event_count == with_history


# -- details -------------------------------------------------------------------------------------------
def test_a_lambda_scheduled_event_carries_resource_input_and_timeouts():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 30,
                                                   "Parameters": {"x": 1}, "End": True}}}, {}, lambda s, e: 2)
    (event,) = [e for e in result.events if e["type"] == "LambdaFunctionScheduled"]
    assert event["lambdaFunctionScheduledEventDetails"] == {
        "resource": LAMBDA, "input": {"x": 1}, "inputDetails": {"truncated": False}, "timeoutInSeconds": 30}


def test_a_service_task_scheduled_event_names_the_service_action_and_region():
    result = run({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}}}, {}, lambda s, e: {})
    (event,) = [e for e in result.events if e["type"] == "TaskScheduled"]
    details = event["taskScheduledEventDetails"]
    assert (details["resourceType"], details["resource"]) == ("sqs", "sendMessage")
    assert details["parameters"] == {"QueueUrl": "q", "MessageBody": "m"}


def test_assigned_variables_are_recorded_on_the_state_exited_event():
    assign = {"Type": "Pass", "Assign": {"n": 1, "s": "x"}, "End": True}
    result = run({"StartAt": "A", "States": {"A": assign}}, {})
    (exited,) = [e for e in result.events if e["type"] == "PassStateExited"]
    aws = to_aws(exited)["stateExitedEventDetails"]
    assert aws["assignedVariables"] == {"n": "1", "s": '"x"'}
    assert aws["assignedVariablesDetails"] == {"truncated": False}


# -- to_aws ------------------------------------------------------------------------------------------
def test_to_aws_writes_payloads_as_compact_json_text_keeping_non_ascii():
    event = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                {"name": "Zoë", "n": [1, 2]}).events[0]
    details = to_aws(event)["executionStartedEventDetails"]
    assert details["input"] == '{"name":"Zoë","n":[1,2]}'
    assert json.loads(details["input"]) == {"name": "Zoë", "n": [1, 2]}
    assert details["inputDetails"] == {"truncated": False}


def test_to_aws_turns_the_timestamp_into_an_aware_utc_datetime():
    event = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {},
                options=ExecutionOptions(start_time=START)).events[0]
    assert to_aws(event)["timestamp"] == datetime.fromtimestamp(START, UTC)


def test_to_aws_leaves_the_engine_event_untouched():
    event = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {"a": 1}).events[1]
    before = json.dumps(event, sort_keys=True)
    to_aws(event)
    assert json.dumps(event, sort_keys=True) == before
    assert event["stateEnteredEventDetails"]["input"] == {"a": 1}


def test_a_null_payload_becomes_the_text_null():
    result = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, None)
    assert to_aws(result.events[-1])["executionSucceededEventDetails"]["output"] == "null"


def test_reduced_keeps_the_type_and_state_name_as_the_conformance_corpus_does():
    result = run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {})
    assert [reduced(e) for e in result.events] == [
        {"type": "ExecutionStarted", "name": None}, {"type": "PassStateEntered", "name": "P"},
        {"type": "PassStateExited", "name": "P"}, {"type": "ExecutionSucceeded", "name": None}]
