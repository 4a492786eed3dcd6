"""designer/runtime/ in this process: executions on the database, work run by an in-process worker.

`drain()` runs every due django.tasks row exactly as `manage.py db_worker --batch` would; tests with
real worker processes (kill -9, restarts, races) are in test_workers.py.
"""

import json
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from designer import functions, runtime
from designer.models import AttemptStatus, Execution, ExecutionStatus, HistoryEvent, TaskAttempt

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
CALLS: list = []


@functions.register("rt_double")
def rt_double(event, context):
    CALLS.append(event)
    return {"value": event["value"] * 2}


class Flaky(Exception):
    pass


@functions.register("rt_flaky")
def rt_flaky(event, context):
    CALLS.append(event)
    if len(CALLS) < 3:
        raise Flaky("try again")
    return "ok"


@functions.register("rt_not_json")
def rt_not_json(event, context):
    return {1, 2}


def drain(max_rounds: int = 50) -> None:
    """Run every task that is due now, then check that none of them crashed. Task functions run in this
    thread (STEPWISE_TASK_THREADS=0), so that everything is done when drain returns; the worker's pool
    of calls is proved with real worker processes (test_task_concurrency.py)."""
    with override_settings(STEPWISE_TASK_THREADS=0):
        Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id="test", excluded_queue_names=[]).run()
    failed = DBTaskResult.objects.filter(status="FAILED")
    assert not failed.exists(), [(t.task_path, t.traceback) for t in failed]


def make_due() -> None:
    """The queue hands out every waiting row now, however early (the runtime must cope)."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def machine(name="m", definition=None, machine_type="STANDARD"):
    definition = definition or {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    return runtime.create_state_machine(name, json.dumps(definition), machine_type)


def task(function, **extra):
    return {"Type": "Task", "Resource": ARN + function, **extra}


@pytest.fixture(autouse=True)
def reset_calls():
    CALLS.clear()


def history(execution):
    return [e.type for e in HistoryEvent.objects.filter(execution=execution)]


def test_pass_machine_succeeds_with_aws_history_and_arns():
    m = machine("hello", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": True}}})
    execution = runtime.start_execution(m, '{"in": true}', name="first")
    assert execution.arn == "arn:aws:states:us-east-1:123456789012:execution:hello:first"
    assert m.arn == "arn:aws:states:us-east-1:123456789012:stateMachine:hello"
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output) == {"x": 1}
    assert execution.stop_date >= execution.start_date
    assert history(execution) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    seqs = list(HistoryEvent.objects.filter(execution=execution).values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4]
    started = HistoryEvent.objects.get(execution=execution, seq=1).to_aws()
    assert json.loads(started["executionStartedEventDetails"]["input"]) == {"in": True}


def test_task_calls_the_function_once_and_records_the_attempt():
    m = machine("double", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 21}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, (execution.error, execution.cause)
    assert json.loads(execution.output) == {"value": 42}
    assert CALLS == [{"value": 21}]
    attempt = TaskAttempt.objects.get(execution=execution)
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.started_at and attempt.finished_at
    assert history(execution) == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_retry_backoff_is_a_delayed_row_and_each_attempt_runs_once(settings):
    m = machine("flaky", {"StartAt": "T", "States": {"T": task("rt_flaky", End=True, Retry=[
        {"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 1}])}})
    execution = runtime.start_execution(m)
    drain()
    # The first attempt failed; the back-off is a row due in a second, not a sleeping thread.
    assert len(CALLS) == 1
    wake = DBTaskResult.objects.get(task_path="designer.tasks.wake", status="READY")
    assert wake.run_after.timestamp() > time.time() + 0.5
    for _ in range(2):
        settings.STEPWISE_CLOCK_OFFSET += 1.0
        make_due()
        drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, (execution.error, execution.cause)
    assert len(CALLS) == 3
    assert list(TaskAttempt.objects.filter(execution=execution).values_list("status", flat=True)) == [
        AttemptStatus.FAILED, AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]


def test_wake_up_before_its_time_does_not_fire_and_comes_back_on_time():
    m = machine("waiter", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    execution = runtime.start_execution(m)
    drain()
    make_due()  # the queue runs it far too early
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    again = DBTaskResult.objects.get(task_path="designer.tasks.wake", status="READY")
    assert again.run_after.timestamp() > time.time() + 3500


def test_duplicate_and_stale_wake_ups_change_nothing(settings):
    m = machine("waiter", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
                                                      "P": {"Type": "Pass", "End": True}}})
    execution = runtime.start_execution(m)
    drain()
    wake = DBTaskResult.objects.get(task_path="designer.tasks.wake", status="READY")
    settings.STEPWISE_CLOCK_OFFSET = 10
    args = wake.args_kwargs["args"]
    assert runtime.resume_wait(*args) is not None
    execution.refresh_from_db()
    version, events = execution.version, execution.event_count
    assert runtime.resume_wait(*args) is None  # the same wake-up again
    assert runtime.advance(execution.pk, expected_version=0) is None  # a stale kick
    execution.refresh_from_db()
    assert (execution.version, execution.event_count) == (version, events)
    assert execution.status == ExecutionStatus.SUCCEEDED


def test_same_name_same_input_returns_the_running_execution_else_already_exists():
    m = machine("named", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    first = runtime.start_execution(m, '{"a": 1}', name="once")
    assert runtime.start_execution(m, '{"a": 1}', name="once").pk == first.pk
    with pytest.raises(runtime.ExecutionAlreadyExists):
        runtime.start_execution(m, '{"a": 2}', name="once")
    assert Execution.objects.count() == 1


@pytest.mark.parametrize("text, message", [
    ("{not json", "Invalid State Machine Execution Input"),
    (json.dumps({"big": "x" * 262_144}), "over the limit"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(text, message):
    m = machine()
    with pytest.raises(runtime.InvalidExecutionInput, match=message):
        runtime.start_execution(m, text)
    assert not Execution.objects.exists() and not DBTaskResult.objects.exists()


def test_invalid_definition_reports_problems_and_creates_nothing():
    with pytest.raises(runtime.InvalidDefinition) as raised:
        runtime.create_state_machine("bad", json.dumps({"StartAt": "Nope", "States": {}}))
    assert raised.value.problems and "Invalid State Machine Definition" in raised.value.message
    assert not Execution.objects.exists()


def test_unknown_state_machine_arn():
    with pytest.raises(runtime.StateMachineDoesNotExist):
        runtime.get_state_machine("arn:aws:states:us-east-1:123456789012:stateMachine:ghost")


def test_a_result_that_is_not_json_fails_the_execution_not_the_worker():
    m = machine("notjson", {"StartAt": "T", "States": {"T": task("rt_not_json", End=True)}})
    execution = runtime.start_execution(m)
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error.startswith("States.")


def test_executions_pin_the_revision_they_started_with():
    m = machine("evolving", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    execution = runtime.start_execution(m)
    runtime.update_state_machine(m, json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    m.refresh_from_db()
    assert m.revision == 2 and execution.revision.number == 1
    assert runtime.start_execution(m).revision.number == 2


def test_stop_during_a_task_aborts_and_discards_the_late_result():
    m = machine("stoppable", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 1}')
    runtime.advance(execution.pk)
    attempt = runtime.claim_attempt(TaskAttempt.objects.get().pk, "worker-1")
    assert attempt.status == AttemptStatus.RUNNING  # the function is running now ...
    runtime.stop_execution(execution, error="Operator", cause="changed my mind")
    assert runtime.finish_attempt(attempt.pk, result={"value": 2}) is False  # ... and ends too late
    execution.refresh_from_db()
    attempt.refresh_from_db()
    assert execution.status == ExecutionStatus.ABORTED and execution.output is None
    assert (execution.error, execution.cause) == ("Operator", "changed my mind")
    assert attempt.status == AttemptStatus.ABANDONED
    assert history(execution)[-2:] == ["TaskStateAborted", "ExecutionAborted"] or \
        history(execution)[-1] == "ExecutionAborted"


def test_sync_express_runs_in_the_request_and_keeps_only_the_result():
    m = machine("quick", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}}, "EXPRESS")
    execution = runtime.start_sync_express(m, '{"value": 4}')
    assert execution.status == ExecutionStatus.SUCCEEDED and json.loads(execution.output) == {"value": 8}
    assert execution.arn.startswith("arn:aws:states:us-east-1:123456789012:express:quick:")
    assert not HistoryEvent.objects.exists() and not TaskAttempt.objects.exists()


def test_async_express_runs_on_a_worker():
    m = machine("later", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}}, "EXPRESS")
    execution = runtime.start_execution(m, '{"value": 5}')
    assert execution.status == ExecutionStatus.RUNNING
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and json.loads(execution.output) == {"value": 10}
    assert execution.runs == 1 and not HistoryEvent.objects.exists()


FAILS_LEFT = {"rt_fails_once": 0}


@functions.register("rt_fails_once")
def rt_fails_once(event, context):
    CALLS.append(("fails_once", event))
    if FAILS_LEFT["rt_fails_once"] > 0:
        FAILS_LEFT["rt_fails_once"] -= 1
        raise Flaky("not yet")
    return {"fixed": True}


def test_redrive_after_a_failure_reruns_only_the_failed_state():
    FAILS_LEFT["rt_fails_once"] = 1
    m = machine("redrivable", {"StartAt": "First", "States": {
        "First": task("rt_double", Next="Second"),
        "Second": task("rt_fails_once", ResultPath="$.second", End=True)}})
    execution = runtime.start_execution(m, '{"value": 3}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "Flaky"
    failed_events = execution.event_count
    execution = runtime.redrive_execution(execution)
    assert execution.status == ExecutionStatus.RUNNING and execution.redrive_count == 1
    assert execution.redrive_date is not None and execution.stop_date is None
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, (execution.error, execution.cause)
    assert json.loads(execution.output) == {"value": 6, "second": {"fixed": True}}
    assert [c for c in CALLS if isinstance(c, dict)] == [{"value": 3}]  # First ran once, before the redrive
    assert len([c for c in CALLS if isinstance(c, tuple)]) == 2
    events = history(execution)
    assert events[failed_events] == "ExecutionRedriven"
    assert events[failed_events + 1:failed_events + 3] == ["TaskStateEntered", "LambdaFunctionScheduled"]
    seqs = list(HistoryEvent.objects.filter(execution=execution).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_redrive_reruns_only_the_failed_branch_of_a_parallel():
    FAILS_LEFT["rt_fails_once"] = 1
    m = machine("branches", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Good", "States": {"Good": task("rt_double", End=True)}},
            {"StartAt": "Bad", "States": {"Bad": task("rt_fails_once", End=True)}}]}}})
    execution = runtime.start_execution(m, '{"value": 5}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    runtime.redrive_execution(execution)
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, (execution.error, execution.cause)
    assert json.loads(execution.output) == [{"value": 10}, {"fixed": True}]
    assert [c for c in CALLS if isinstance(c, dict)] == [{"value": 5}]


def test_redrive_after_stop_restarts_the_aborted_task():
    m = machine("restartable", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 2}')
    runtime.advance(execution.pk)
    runtime.stop_execution(execution)
    execution = runtime.redrive_execution(execution)
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and json.loads(execution.output) == {"value": 4}


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_only_unsuccessful_executions_can_be_redriven(status):
    m = machine()
    execution = runtime.start_execution(m)
    if status == "SUCCEEDED":
        drain()
        execution.refresh_from_db()
    with pytest.raises(runtime.ExecutionNotRedrivable, match=f"Execution is {status}"):
        runtime.redrive_execution(execution)


def test_redrive_window_is_fourteen_days(settings):
    m = machine("old", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}})
    execution = runtime.start_execution(m)
    drain()
    execution.refresh_from_db()
    settings.STEPWISE_CLOCK_OFFSET = 15 * 86400
    with pytest.raises(runtime.ExecutionNotRedrivable, match="redrivable period exceeded"):
        runtime.redrive_execution(execution)


def test_history_limit_fails_a_standard_execution_at_25000_events():
    loop = {"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [
            {"Variable": "$.stop", "IsPresent": True, "Next": "Done"}], "Default": "Count"},
        "Done": {"Type": "Succeed"}}}
    execution = runtime.start_execution(machine("forever", loop))
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "States.Runtime"
    assert execution.event_count == 25_000
    last = HistoryEvent.objects.filter(execution=execution).order_by("-seq").first()
    assert (last.seq, last.type) == (25_000, "ExecutionFailed")
    assert HistoryEvent.objects.filter(execution=execution).count() == 25_000
    with pytest.raises(runtime.ExecutionNotRedrivable, match="event limit"):
        runtime.redrive_execution(execution)


@functions.register("rt_sleep")
def rt_sleep(event, context):
    time.sleep(event.get("sleep", 1))
    return "late"


def test_task_timeout_is_a_states_timeout_that_catch_sees():
    m = machine("impatient", {"StartAt": "T", "States": {
        "T": task("rt_sleep", TimeoutSeconds=1, End=True,
                  Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Gave up"}]),
        "Gave up": {"Type": "Pass", "End": True}}})
    execution = runtime.start_execution(m, '{"sleep": 3}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output)["error"]["Error"] == "States.Timeout"
    assert TaskAttempt.objects.get(execution=execution).status == AttemptStatus.TIMED_OUT
    assert "LambdaFunctionTimedOut" in history(execution)


def test_lost_attempt_found_by_the_lease_check_fails_with_states_task_failed(settings):
    settings.STEPWISE_TASK_LEASE_SECONDS = 0.2
    m = machine("orphan", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 1}')
    runtime.advance(execution.pk)
    attempt = runtime.claim_attempt(TaskAttempt.objects.get().pk, "worker-that-dies")
    time.sleep(0.3)  # nobody renews the lease
    drain()  # the lease check (and the attempt's queued run, which finds it already claimed)
    execution.refresh_from_db()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.LOST and attempt.error == "States.TaskFailed"
    assert execution.status == ExecutionStatus.FAILED and execution.error == "States.TaskFailed"
    assert "worker-that-dies" in execution.cause
    assert CALLS == []  # never run again
    assert runtime.finish_attempt(attempt.pk, result={"value": 2}) is False  # a late result is discarded


def test_state_machine_timeout_times_the_execution_out(settings):
    m = machine("bounded", {"TimeoutSeconds": 5, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    execution = runtime.start_execution(m)
    drain()
    settings.STEPWISE_CLOCK_OFFSET = 6
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.TIMED_OUT and execution.error == "States.Timeout"
    assert history(execution)[-1] == "ExecutionTimedOut"


def test_a_standard_execution_times_out_after_one_year(settings):
    m = machine("year", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 400 * 86400, "End": True}}})
    execution = runtime.start_execution(m)
    drain()
    settings.STEPWISE_CLOCK_OFFSET = 365 * 86400 + 1
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.TIMED_OUT


def claimed_by_a_dead_worker(task_path: str) -> DBTaskResult:
    """A queued row a worker claimed an hour ago and never finished (it was killed)."""
    row = DBTaskResult.objects.get(task_path=task_path, status="READY")
    row.status, row.started_at, row.worker_ids = "RUNNING", timezone.now() - timedelta(hours=1), ["dead"]
    row.save()
    return row


def test_a_step_whose_worker_died_is_given_back_to_the_queue_by_the_sweep():
    m = machine("orphaned", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 4}')
    claimed_by_a_dead_worker("designer.tasks.advance")
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING and execution.event_count == 1  # stuck
    assert runtime.sweep() == 1
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and CALLS == [{"value": 4}]


def test_an_attempt_whose_worker_died_before_claiming_it_runs_once_after_the_sweep():
    m = machine("unclaimed", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 5}')
    runtime.advance(execution.pk)
    claimed_by_a_dead_worker("designer.tasks.run_attempt")
    assert runtime.sweep() == 1
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and CALLS == [{"value": 5}]


def test_the_sweep_never_gives_back_a_claimed_attempt(settings):
    m = machine("claimed", {"StartAt": "T", "States": {"T": task("rt_double", End=True)}})
    execution = runtime.start_execution(m, '{"value": 6}')
    runtime.advance(execution.pk)
    row = claimed_by_a_dead_worker("designer.tasks.run_attempt")
    runtime.claim_attempt(TaskAttempt.objects.get().pk, "dead")  # the function had started
    assert runtime.sweep() == 0
    row.refresh_from_db()
    assert row.status == "RUNNING"  # the attempt's lease decides, not the queue
    assert CALLS == []


def test_the_sweep_row_is_queued_while_there_is_work():
    m = machine("swept")
    runtime.start_execution(m)
    runtime.start_execution(m)
    assert DBTaskResult.objects.filter(task_path="designer.tasks.sweep", status="READY").count() == 1
