"""Driving an `Execution` step by step: suspensions as data, resuming them, Task attempts, Wait,
StopExecution, the machine's timeout, and snapshots that continue exactly where they stopped."""

from __future__ import annotations

import json

import pytest

from engine import Execution, ExecutionOptions, compile_definition

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
START = 1_700_000_000.0


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now


def start(definition, execution_input=None, machine_type="STANDARD", **fields):
    clock = fields.pop("clock", None) or Clock()
    options = ExecutionOptions(start_time=clock.now, clock=clock, machine_type=machine_type, **fields)
    execution = Execution(compile_definition(definition, machine_type=machine_type),
                          {} if execution_input is None else execution_input, options)
    return execution, clock


def task_then_pass(**task_fields):
    return {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "Next": "After", **task_fields},
        "After": {"Type": "Pass", "End": True}}}


def types(events):
    return [event["type"] for event in events]


# -- task suspensions --------------------------------------------------------------------------------
def test_a_task_parks_the_execution_with_a_task_suspension():
    execution, _ = start(task_then_pass(Parameters={"n.$": "$.n"}), {"n": 4})
    (suspension,) = execution.run()
    assert execution.status == "RUNNING"
    assert (suspension.kind, suspension.state_name, suspension.resource) == ("task", "T", LAMBDA)
    assert suspension.parameters == {"n": 4}
    assert suspension.attempt == 0
    assert execution.suspensions() == {suspension.frame: suspension}


def test_running_again_without_answering_changes_nothing():
    execution, _ = start(task_then_pass())
    execution.run()
    execution.events.clear()
    assert execution.run() == []
    assert execution.events == [] and execution.status == "RUNNING"


def test_a_task_without_timeout_seconds_has_no_timeout_in_its_suspension_or_event():
    # The engine records no timeoutInSeconds when the state sets none; the runtime applies its ceiling.
    execution, _ = start(task_then_pass())
    (suspension,) = execution.run()
    assert suspension.timeout_seconds is None
    (scheduled,) = [e for e in execution.events if e["type"] == "LambdaFunctionScheduled"]
    assert "timeoutInSeconds" not in scheduled["lambdaFunctionScheduledEventDetails"]


def test_an_express_task_without_timeout_has_none():
    execution, _ = start(task_then_pass(), machine_type="EXPRESS")
    (suspension,) = execution.run()
    assert suspension.timeout_seconds is None


def test_timeout_and_heartbeat_seconds_are_carried_by_the_suspension():
    execution, _ = start(task_then_pass(TimeoutSeconds=30, HeartbeatSeconds=10))
    (suspension,) = execution.run()
    assert (suspension.timeout_seconds, suspension.heartbeat_seconds) == (30, 10)


def test_timeout_seconds_path_reads_the_state_input():
    execution, _ = start(task_then_pass(TimeoutSecondsPath="$.limit"), {"limit": 45})
    (suspension,) = execution.run()
    assert suspension.timeout_seconds == 45


def test_resume_task_with_a_result_runs_the_execution_on_to_its_end():
    execution, _ = start(task_then_pass(ResultPath="$.r"), {"a": 1})
    (suspension,) = execution.run()
    execution.resume_task(suspension.frame, result={"ok": True})
    assert execution.run() == []
    assert (execution.status, execution.output) == ("SUCCEEDED", {"a": 1, "r": {"ok": True}})
    assert execution.suspensions() == {}


def test_resume_task_with_an_error_fails_the_execution():
    execution, _ = start(task_then_pass())
    (suspension,) = execution.run()
    execution.resume_task(suspension.frame, error="Custom", cause="bad")
    execution.run()
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Custom", "bad")
    assert types(execution.events)[-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]


def test_a_timed_out_task_fails_with_states_timeout_and_a_timed_out_event():
    execution, _ = start(task_then_pass())
    (suspension,) = execution.run()
    execution.resume_task(suspension.frame, timed_out=True)
    execution.run()
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in types(execution.events)


def test_task_started_records_the_started_event_of_the_resource_family():
    execution, _ = start({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}}})
    (suspension,) = execution.run()
    execution.events.clear()
    execution.task_started(suspension.frame)
    (event,) = execution.events
    assert event["type"] == "TaskStarted"
    assert event["taskStartedEventDetails"] == {"resourceType": "sqs", "resource": "sendMessage"}


def test_wait_for_task_token_puts_the_injected_token_in_the_suspension():
    execution, _ = start({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}}}, task_token=lambda: "token-123")
    (suspension,) = execution.run()
    assert suspension.task_token == "token-123"


def test_wait_for_task_token_parameters_can_pass_the_token_from_the_context():
    # AWS-documented callback pattern ("Wait for a Callback with Task Token"): the token reaches the
    # worker through "TaskToken.$": "$$.Task.Token" in Parameters.
    execution, _ = start({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}}},
        task_token=lambda: "token-123")
    (suspension,) = execution.run()
    assert suspension.task_token == "token-123"
    assert suspension.parameters["MessageBody"] == {"token": "token-123"}


# -- retries -----------------------------------------------------------------------------------------
def test_a_retried_failure_parks_until_the_back_off_ends_then_schedules_the_next_attempt():
    execution, clock = start(task_then_pass(Retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 5}]))
    (first,) = execution.run()
    clock.now += 2
    execution.resume_task(first.frame, error="E")
    (backoff,) = execution.run()
    assert (backoff.kind, backoff.state_name, backoff.until) == ("wait", "T", START + 2 + 5)
    clock.now = backoff.until
    execution.resume_wait(backoff.frame)
    (second,) = execution.run()
    assert (second.kind, second.attempt) == ("task", 1)


def test_retry_count_reaches_the_parameters_of_the_next_attempt():
    # AWS-documented (Context object page): $$.State.RetryCount in Parameters is the number of retries
    # so far; its example shows "RetryCount": 3 in a running execution.
    execution, _ = start(task_then_pass(Parameters={"retry.$": "$$.State.RetryCount"},
                                        Retry=[{"ErrorEquals": ["States.ALL"]}]))
    (attempt,) = execution.run()
    seen = [attempt.parameters["retry"]]
    for _ in range(2):
        execution.resume_task(attempt.frame, error="E")
        (backoff,) = execution.run()
        execution.resume_wait(backoff.frame)
        (attempt,) = execution.run()
        seen.append(attempt.parameters["retry"])
    assert seen == [0, 1, 2]


# -- Wait --------------------------------------------------------------------------------------------
def test_a_wait_state_parks_until_entered_time_plus_seconds():
    execution, clock = start({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 90, "End": True}}})
    (suspension,) = execution.run()
    assert (suspension.kind, suspension.until) == ("wait", START + 90)
    clock.now = suspension.until
    execution.resume_wait(suspension.frame)
    execution.run()
    assert execution.status == "SUCCEEDED"


def test_seconds_path_with_a_negative_value_fails_with_aws_wording():
    wait = {"Type": "Wait", "SecondsPath": "$.s", "End": True}
    execution, _ = start({"StartAt": "W", "States": {"W": wait}}, {"s": -1})
    execution.run()
    assert execution.error == "States.Runtime"
    assert execution.cause.endswith("The SecondsPath parameter references a negative value: $.s == -1")


# -- budget ------------------------------------------------------------------------------------------
def test_max_transitions_stops_at_a_state_boundary_and_the_next_run_continues():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                             "B": {"Type": "Pass", "Next": "C"},
                                             "C": {"Type": "Pass", "End": True}}}
    execution, _ = start(definition)
    execution.run(max_transitions=2)
    assert (execution.status, execution.transitions) == ("RUNNING", 2)
    execution.run()
    assert (execution.status, execution.transitions) == ("SUCCEEDED", 3)


# -- stop and time_out ---------------------------------------------------------------------------------
def test_stop_aborts_and_withdraws_the_pending_task():
    execution, _ = start(task_then_pass())
    (suspension,) = execution.run()
    execution.stop("User.Stop", "no longer needed")
    assert (execution.status, execution.error) == ("ABORTED", "User.Stop")
    assert execution.suspensions() == {}
    assert execution.take_withdrawn() == [suspension.frame]
    assert execution.events[-1]["type"] == "ExecutionAborted"
    assert execution.events[-1]["executionAbortedEventDetails"] == {"error": "User.Stop",
                                                                   "cause": "no longer needed"}


def test_stop_without_error_or_cause_records_empty_details():
    execution, _ = start(task_then_pass())
    execution.run()
    execution.stop()
    assert execution.events[-1]["executionAbortedEventDetails"] == {}


def test_stop_after_the_end_changes_nothing():
    execution, _ = start({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    execution.run()
    count = len(execution.events)
    execution.stop("Late")
    assert execution.status == "SUCCEEDED" and len(execution.events) == count


@pytest.mark.parametrize("end, last", [("stop", "ExecutionAborted"), ("time_out", "ExecutionTimedOut")])
def test_an_execution_ended_before_its_first_step_still_begins_with_execution_started(end, last):
    # A Map Run's child can be stopped while it waits for its first step: AWS shows it started.
    execution, _ = start({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    getattr(execution, end)()
    execution.run()
    assert types(execution.events) == ["ExecutionStarted", last]
    assert [event["id"] for event in execution.events] == [1, 2]


def test_time_out_ends_a_running_execution_timed_out():
    execution, _ = start({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}})
    (suspension,) = execution.run()
    execution.time_out()
    assert (execution.status, execution.error) == ("TIMED_OUT", "States.Timeout")
    assert execution.take_withdrawn() == [suspension.frame]
    assert execution.events[-1]["type"] == "ExecutionTimedOut"


# -- snapshots ---------------------------------------------------------------------------------------
def reload(execution, definition, clock, **fields):
    snapshot = json.loads(json.dumps(execution.to_snapshot()))
    options = ExecutionOptions(start_time=START, clock=clock, **fields)
    return Execution.from_snapshot(compile_definition(definition), snapshot, options)


def test_a_snapshot_is_json_and_continues_a_parked_task_where_it_stopped():
    definition = task_then_pass(ResultPath="$.r")
    execution, clock = start(definition, {"a": 1})
    (suspension,) = execution.run()
    last_id = execution.events[-1]["id"]
    restored = reload(execution, definition, clock)
    assert restored.suspension(suspension.frame) == suspension
    restored.resume_task(suspension.frame, result=2)
    restored.run()
    assert (restored.status, restored.output) == ("SUCCEEDED", {"a": 1, "r": 2})
    assert restored.events[0]["id"] == last_id + 1
    assert restored.events[0]["previousEventId"] == last_id


def test_a_snapshot_keeps_retry_counts_and_the_back_off():
    definition = task_then_pass(Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 3}])
    execution, clock = start(definition)
    (first,) = execution.run()
    execution.resume_task(first.frame, error="E")
    (backoff,) = execution.run()
    restored = reload(execution, definition, clock)
    assert restored.suspension(backoff.frame).until == START + 3
    restored.resume_wait(backoff.frame)
    (second,) = restored.run()
    assert second.attempt == 1
    restored = reload(restored, definition, clock)
    restored.resume_task(second.frame, error="E")
    (backoff,) = restored.run()
    assert backoff.until == START + 6  # the second retry: 3 s × BackoffRate 2
    restored.resume_wait(backoff.frame)
    (third,) = restored.run()
    restored.resume_task(third.frame, error="E")
    restored.run()
    assert (third.attempt, restored.status, restored.error) == (2, "FAILED", "E")


def test_a_snapshot_in_the_middle_of_a_parallel_finishes_with_every_branch_result():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
        {"StartAt": "W", "States": {"W": {"Type": "Pass", "Result": "fixed", "End": True}}}]}}}
    execution, clock = start(definition)
    (suspension,) = execution.run()
    restored = reload(execution, definition, clock)
    restored.resume_task(suspension.frame, result="from task")
    restored.run()
    assert (restored.status, restored.output) == ("SUCCEEDED", ["from task", "fixed"])


def test_a_snapshot_keeps_workflow_variables():
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"kept": 42}, "Next": "T"},
        "T": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"v.$": "$kept"}, "End": True}}}
    execution, clock = start(definition)
    execution.run(max_transitions=1)
    restored = reload(execution, definition, clock)
    (suspension,) = restored.run()
    assert suspension.parameters == {"v": 42}


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_a_finished_execution_round_trips_through_a_snapshot(status):
    definition = ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}} if status == "SUCCEEDED"
                  else {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}})
    execution, clock = start(definition, {"x": 1})
    execution.run()
    restored = reload(execution, definition, clock)
    assert (restored.status, restored.output, restored.error, restored.cause) == (
        execution.status, execution.output, execution.error, execution.cause)


def test_a_snapshot_in_the_middle_of_a_map_keeps_its_concurrency_and_progress():
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": True,
                                                   "ItemProcessor": {"StartAt": "T", "States": {"T": {
                                                       "Type": "Task", "Resource": LAMBDA, "End": True}}}}}}
    execution, clock = start(definition, [1, 2, 3, 4])
    execution.run()
    seen = []
    while execution.status == "RUNNING":
        execution = reload(execution, definition, clock)
        assert len(execution.suspensions()) <= 2
        frame_id, suspension = min(execution.suspensions().items(), key=lambda p: p[1].parameters)
        seen.append(suspension.parameters)
        execution.resume_task(frame_id, result=suspension.parameters * 2)
        execution.run()
    assert seen == [1, 2, 3, 4]
    assert execution.output == [2, 4, 6, 8]


def test_a_snapshot_keeps_the_task_token_of_a_callback_task():
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}}}
    execution, clock = start(definition, task_token=lambda: "token-9")
    (suspension,) = execution.run()
    restored = reload(execution, definition, clock, task_token=lambda: "another")
    assert restored.suspension(suspension.frame).task_token == "token-9"
    restored.resume_task(suspension.frame, result={"approved": True})
    restored.run()
    assert restored.output == {"approved": True}


def test_a_snapshot_of_a_distributed_map_keeps_its_iterations_out_of_the_history():
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}}}}
    execution, clock = start(definition, [1])
    (suspension,) = execution.run()
    restored = reload(execution, definition, clock)
    restored.resume_task(suspension.frame, result="done")
    restored.run()
    assert restored.output == ["done"]
    assert types(restored.events) == ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                                      "ExecutionSucceeded"]


def test_a_stopped_execution_round_trips_as_aborted():
    definition = task_then_pass()
    execution, clock = start(definition)
    execution.run()
    execution.stop("Operator", "why")
    restored = reload(execution, definition, clock)
    assert (restored.status, restored.error, restored.cause, restored.suspensions()) == (
        "ABORTED", "Operator", "why", {})


def test_stop_withdraws_every_pending_branch_and_later_runs_do_nothing():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}]}}}
    execution, _ = start(definition)
    suspensions = execution.run()
    assert sorted(s.kind for s in suspensions) == ["task", "wait"]
    execution.stop()
    assert sorted(execution.take_withdrawn()) == sorted(s.frame for s in suspensions)
    execution.events.clear()
    assert execution.run() == [] and execution.events == []
    assert execution.status == "ABORTED"


def test_time_out_during_a_map_withdraws_its_iterations():
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}}}}
    execution, _ = start(definition, [1, 2, 3])
    suspensions = execution.run()
    execution.time_out()
    assert execution.status == "TIMED_OUT"
    assert sorted(execution.take_withdrawn()) == sorted(s.frame for s in suspensions)
    assert execution.suspensions() == {}


def test_back_off_suspensions_wake_at_the_capped_jittered_delay_from_the_failure():
    draws = iter([0.5, 0.25, 1 / 3])
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 4, "BackoffRate": 3, "MaxDelaySeconds": 30,
              "MaxAttempts": 3, "JitterStrategy": "FULL"}]
    execution, clock = start(task_then_pass(Retry=retry), random=lambda: next(draws))
    (attempt,) = execution.run()
    waits = []
    for _ in range(3):
        clock.now += 100  # the attempt took a while: the back-off counts from the failure
        execution.resume_task(attempt.frame, error="E")
        (backoff,) = execution.run()
        waits.append(backoff.until - clock.now)
        clock.now = backoff.until
        execution.resume_wait(backoff.frame)
        (attempt,) = execution.run()
    # 4 × 0.5, 12 × 0.25, min(36, 30) × 1/3
    assert waits == [2.0, 3.0, 10.0]


# -- the door: what a caller asks of an execution ------------------------------------------------------
LOOP = {"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.done", "IsPresent": True, "Next": "End"}],
          "Default": "P"},
    "End": {"Type": "Succeed"}}}


def test_an_execution_that_reaches_its_history_limit_fails_and_its_failure_is_the_last_event():
    loop = LOOP
    execution, _ = start(loop)
    execution.run(max_transitions=100, history_limit=10)
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "maximum number of history events (10)" in execution.cause
    assert [event["id"] for event in execution.events] == list(range(1, 11))
    assert execution.events[-1]["type"] == "ExecutionFailed" and execution.event_count == 10


def test_without_a_history_limit_the_same_loop_runs_on():
    loop = LOOP
    execution, _ = start(loop)
    execution.run(max_transitions=100)
    assert execution.status == "RUNNING" and execution.has_runnable()


def test_redrive_enters_an_outstanding_task_again_with_retry_counts_afresh():
    execution, _ = start(task_then_pass(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]))
    (suspension,) = execution.run()
    execution.resume_task(suspension.frame, error="Boom")
    (backoff,) = execution.run()
    execution.resume_wait(backoff.frame)
    (retried,) = execution.run()
    assert retried.attempt == 1
    execution.redrive(lambda frame: None)
    assert execution.suspensions() == {} and execution.has_runnable()
    (again,) = execution.run()
    assert (again.kind, again.state_name, again.attempt) == ("task", "T", 0)
    assert types(execution.events).count("TaskStateEntered") == 2


def test_an_activity_task_carries_a_token_in_its_suspension_but_not_in_the_context():
    # AWS gives an activity's token to the worker (GetActivityTask), not to `$$.Task.Token`.
    execution, _ = start({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:review", "End": True,
        "Parameters": {"context.$": "$$"}}}}, task_token=lambda: "token-5")
    (suspension,) = execution.run()
    assert suspension.task_token == "token-5" and "Task" not in suspension.parameters["context"]
    execution.task_started(suspension.frame, worker_name="desk-1")
    assert execution.events[-1]["activityStartedEventDetails"] == {"workerName": "desk-1"}
    execution.resume_task(suspension.frame, error="ActivityDoesNotExist", cause="gone", schedule_failed=True)
    execution.run()
    assert [event["type"] for event in execution.events][-2:] == ["ActivityScheduleFailed", "ExecutionFailed"]
    assert execution.error == "ActivityDoesNotExist"
