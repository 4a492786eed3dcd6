"""Callbacks in this process: a `.waitForTaskToken` Task records its token, makes its request, waits
durably and is answered by SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat or its deadlines.

The worker is drained in this thread (tests/test_runtime.py's `drain`); deadlines are reached by moving
STEPWISE_CLOCK_OFFSET, never by sleeping. boto3, the AWS CLI, PostgreSQL races and restarts are in
tests/test_callbacks_live.py; the page in tests/test_callbacks_browser.py.
"""

import json

import pytest
from django.conf import settings

from designer import functions, runtime
from designer.models import AttemptStatus, ExecutionStatus, HistoryEvent, TaskAttempt, TaskToken, TokenStatus
from tests.test_runtime import drain, machine, make_due

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
REQUESTS: list = []


@functions.register("cb_request")
def cb_request(event, context):
    REQUESTS.append(event)
    return {"queued": event["token"]}


@pytest.fixture(autouse=True)
def reset():
    REQUESTS.clear()
    offset = settings.STEPWISE_CLOCK_OFFSET
    yield
    settings.STEPWISE_CLOCK_OFFSET = offset


def waiting_machine(name="cb", **task_fields):
    task = {"Type": "Task", "Resource": CALLBACK, "Next": "After",
            "Parameters": {"FunctionName": "cb_request",
                           "Payload": {"token.$": "$$.Task.Token", "in.$": "$"}},
            **task_fields}
    states = {"Ask": task, "After": {"Type": "Pass", "End": True}}
    if "Catch" in task_fields:
        states["Caught"] = {"Type": "Pass", "End": True}
    return machine(name, {"StartAt": "Ask", "States": states})


def started(name="cb", **task_fields):
    execution = runtime.start_execution(waiting_machine(name, **task_fields), '{"n": 1}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    token = REQUESTS[-1]["token"]
    return execution, token


def history(execution):
    return [e.type for e in HistoryEvent.objects.filter(execution=execution)]


def details(execution, event_type):
    event = HistoryEvent.objects.filter(execution=execution, type=event_type).last()
    return event.details


def error_code(call, *args) -> str:
    with pytest.raises(runtime.StepwiseError) as raised:
        call(*args)
    return raised.value.code


def test_the_task_waits_for_its_token_not_for_the_request(db):
    execution, token = started()
    assert len(token) >= 22 and len(token) <= 1024  # >= 128 bits of urlsafe base64, within AWS's limit
    assert history(execution)[-3:] == ["TaskScheduled", "TaskStarted", "TaskSubmitted"]
    submitted = details(execution, "TaskSubmitted")
    assert submitted["resourceType"] == "lambda" and submitted["resource"] == "invoke.waitForTaskToken"
    assert submitted["output"]["Payload"] == {"queued": token}
    row = TaskToken.objects.get(token=token)
    assert row.status == TokenStatus.OPEN and row.state_name == "Ask"
    assert list(runtime.pending_tasks()) == [row]

    runtime.send_task_success(token, '{"approved": true}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output) == {"approved": True}
    assert history(execution)[3:] == ["TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited",
                                      "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert details(execution, "TaskSucceeded")["output"] == {"approved": True}
    assert TaskToken.objects.get(token=token).status == TokenStatus.SUCCEEDED
    assert not runtime.pending_tasks().exists()


def test_tokens_are_unguessable_and_never_reused(db):
    tokens = set()
    for index in range(5):
        execution, token = started(f"cb{index}")
        tokens.add(token)
    assert len(tokens) == 5 and all(len(token) == 64 for token in tokens)


def test_a_second_answer_gets_task_timed_out_and_changes_nothing(db):
    execution, token = started()
    runtime.send_task_success(token, '"first"')
    assert error_code(runtime.send_task_success, token, '"second"') == "TaskTimedOut"
    assert error_code(runtime.send_task_failure, token, "E", "c") == "TaskTimedOut"
    assert error_code(runtime.send_task_heartbeat, token) == "TaskTimedOut"
    drain()
    execution.refresh_from_db()
    assert json.loads(execution.output) == "first"


def test_unknown_and_malformed_tokens_are_invalid_token(db):
    started()
    for bad in ["x" * 64, "not a token!", "", "a" * 1025, None, 12]:
        assert error_code(runtime.send_task_success, bad, "{}") == "InvalidToken", bad
        assert error_code(runtime.send_task_failure, bad) == "InvalidToken", bad
        assert error_code(runtime.send_task_heartbeat, bad) == "InvalidToken", bad


def test_output_is_checked_strictly(db):
    execution, token = started()
    for bad in ["{", "NaN", '{"a": 1} x', '"\\ud800"', '"' + "x" * (256 * 1024) + '"', None]:
        assert error_code(runtime.send_task_success, token, bad) == "InvalidOutput", bad
    assert TaskToken.objects.get(token=token).status == TokenStatus.OPEN  # still waiting
    runtime.send_task_success(token, '"x"')


def test_send_task_failure_is_caught_by_catch(db):
    execution, token = started(Catch=[{"ErrorEquals": ["Rejected"], "Next": "Caught"}])
    runtime.send_task_failure(token, "Rejected", "the reviewer said no")
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output) == {"Error": "Rejected", "Cause": "the reviewer said no"}
    assert details(execution, "TaskFailed") == {
        "resourceType": "lambda", "resource": "invoke.waitForTaskToken",
        "error": "Rejected", "cause": "the reviewer said no"}


def test_retry_gives_a_new_token_and_the_old_one_is_closed(db):
    execution, first = started(Retry=[{"ErrorEquals": ["Again"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    runtime.send_task_failure(first, "Again", "")
    settings.STEPWISE_CLOCK_OFFSET += 2
    make_due()
    drain()
    second = REQUESTS[-1]["token"]
    assert second != first
    assert error_code(runtime.send_task_success, first, "{}") == "TaskTimedOut"
    runtime.send_task_success(second, "{}")
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED


def test_timeout_seconds_ends_the_wait_with_states_timeout(db):
    execution, token = started(TimeoutSeconds=5)
    make_due()
    drain()  # early: nothing happens
    assert TaskToken.objects.get(token=token).status == TokenStatus.OPEN
    settings.STEPWISE_CLOCK_OFFSET += 6
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "States.Timeout"
    assert "TaskTimedOut" in history(execution)
    assert TaskToken.objects.get(token=token).status == TokenStatus.TIMED_OUT
    assert error_code(runtime.send_task_success, token, "{}") == "TaskTimedOut"


def test_heartbeats_push_the_deadline_and_a_missed_one_is_states_heartbeat_timeout(db):
    execution, token = started(HeartbeatSeconds=10, TimeoutSeconds=100,
                               Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Caught"}])
    for _ in range(3):
        settings.STEPWISE_CLOCK_OFFSET += 8
        runtime.send_task_heartbeat(token)
        make_due()
        drain()
        assert TaskToken.objects.get(token=token).status == TokenStatus.OPEN
    settings.STEPWISE_CLOCK_OFFSET += 11
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output)["Error"] == "States.HeartbeatTimeout"
    assert details(execution, "TaskTimedOut")["error"] == "States.HeartbeatTimeout"
    assert error_code(runtime.send_task_heartbeat, token) == "TaskTimedOut"


def test_stop_execution_closes_the_token(db):
    execution, token = started()
    runtime.stop_execution(execution, "Stopped", "by a test")
    assert TaskToken.objects.get(token=token).status == TokenStatus.CLOSED
    assert error_code(runtime.send_task_success, token, "{}") == "TaskTimedOut"
    assert not runtime.pending_tasks().exists()


def test_redrive_gives_the_task_a_new_token(db):
    execution, first = started(TimeoutSeconds=5)
    settings.STEPWISE_CLOCK_OFFSET += 6
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    runtime.redrive_execution(execution)
    drain()
    second = REQUESTS[-1]["token"]
    assert second != first
    assert error_code(runtime.send_task_success, first, "{}") == "TaskTimedOut"
    runtime.send_task_success(second, '"again"')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED


def test_a_failed_request_fails_the_task_and_closes_its_token(db):
    @functions.register("cb_broken")
    def cb_broken(event, context):
        REQUESTS.append(event)
        raise RuntimeError("queue down")

    m = machine("broken", {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": CALLBACK, "End": True,
        "Parameters": {"FunctionName": "cb_broken", "Payload": {"token.$": "$$.Task.Token"}}}}})
    execution = runtime.start_execution(m)
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    token = REQUESTS[-1]["token"]
    assert TaskToken.objects.get(token=token).status == TokenStatus.FAILED
    assert error_code(runtime.send_task_success, token, "{}") == "TaskTimedOut"


def test_an_answer_while_the_request_still_runs_wins_and_the_late_result_is_discarded(db):
    @functions.register("cb_answers_itself")
    def cb_answers_itself(event, context):
        runtime.send_task_success(event["token"], '"from inside"')
        return {"late": True}

    m = machine("self", {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": CALLBACK, "End": True,
        "Parameters": {"FunctionName": "cb_answers_itself", "Payload": {"token.$": "$$.Task.Token"}}}}})
    execution = runtime.start_execution(m)
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output) == "from inside"
    assert TaskAttempt.objects.get(execution=execution).status == AttemptStatus.ABANDONED


def test_pending_tasks_filters_by_machine_and_state_oldest_first(db):
    first, _ = started("one")
    settings.STEPWISE_CLOCK_OFFSET += 1
    second, _ = started("two")
    assert [row.execution_id for row in runtime.pending_tasks()] == [first.pk, second.pk]
    assert [row.execution_id for row in runtime.pending_tasks(machine="two")] == [second.pk]
    assert [row.execution_id for row in runtime.pending_tasks(machine=first.machine)] == [first.pk]
    assert not runtime.pending_tasks(state_name="Other").exists()
    row = runtime.pending_tasks().first()
    assert row.kind == "callback" and row.execution.machine.name == "one"
    assert runtime.token_age(row).total_seconds() >= 1


# -- the execution page (Django's test client; the browser test is tests/test_callbacks_browser.py) --
@pytest.fixture
def user_client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def test_the_execution_page_shows_the_wait_and_its_forms_answer_it(user_client):
    execution, token = started(HeartbeatSeconds=60, TimeoutSeconds=3600)
    html = user_client.get(execution.get_absolute_url()).content.decode()
    assert "waiting for a callback since" in html and "heartbeat due at" in html and "times out at" in html
    assert token in html and "Send success" in html and "Send failure" in html
    row = TaskToken.objects.get(token=token)
    success = f"/executions/{execution.pk}/callbacks/{row.pk}/success/"

    response = user_client.post(success, {"output": "{not json"}, follow=True)
    assert "InvalidOutput" in response.content.decode()
    assert TaskToken.objects.get(token=token).status == TokenStatus.OPEN

    user_client.post(success, {"output": '{"ok": 1}'})
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and json.loads(execution.output) == {"ok": 1}
    response = user_client.post(success, {"output": "{}"}, follow=True)
    assert "TaskTimedOut" in response.content.decode()
    assert "waiting for a callback" not in response.content.decode()


def test_the_failure_form_fails_the_task_and_a_logged_out_visitor_cannot_answer(user_client,
                                                                               django_user_model):
    execution, token = started("fails")
    row = TaskToken.objects.get(token=token)
    failure = f"/executions/{execution.pk}/callbacks/{row.pk}/failure/"
    user_client.logout()
    response = user_client.post(failure, {"error": "No", "cause": "because"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert TaskToken.objects.get(token=token).status == TokenStatus.OPEN
    other, _ = started("other")
    user_client.force_login(django_user_model.objects.get(username="alice"))
    # A token is answered only from its own execution's page.
    assert user_client.post(f"/executions/{other.pk}/callbacks/{row.pk}/failure/", {}).status_code == 404
    user_client.post(failure, {"error": "No", "cause": "because"})
    drain()
    execution.refresh_from_db()
    assert (execution.status, execution.error, execution.cause) == (ExecutionStatus.FAILED, "No", "because")


def test_the_admin_lists_callbacks_read_only(admin_client):
    execution, token = started()
    response = admin_client.get("/admin/designer/tasktoken/?status__exact=OPEN")
    assert response.status_code == 200 and "Ask" in response.content.decode()
    row = TaskToken.objects.get(token=token)
    deleted = admin_client.post(f"/admin/designer/tasktoken/{row.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403 and TaskToken.objects.filter(pk=row.pk).exists()


def test_pending_tasks_reads_the_open_tokens_by_index_not_by_scanning(db):
    """The approval inbox's query stays cheap with 100,000 open tokens: the (status, created_at) index
    answers it, oldest first, without reading the closed ones or sorting."""
    import time as clock
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    execution, _ = started()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for status, count in ((TokenStatus.SUCCEEDED, 50_000), (TokenStatus.OPEN, 100_000)):
        TaskToken.objects.bulk_create(
            [TaskToken(token=f"{status}-{index}", execution=execution, frame=0, state_name="Ask",
                       resource=CALLBACK, status=status, created_at=start + timedelta(seconds=index))
             for index in range(count)], batch_size=5000)
    began = clock.perf_counter()
    page = list(runtime.pending_tasks()[:50])
    elapsed = clock.perf_counter() - began
    assert [row.token for row in page[:2]] == ["OPEN-0", "OPEN-1"] and len(page) == 50
    assert elapsed < 0.05, elapsed
    print(f"pending_tasks()[:50] with 100,000 open and 50,000 closed tokens: {elapsed * 1000:.2f} ms")
    if connection.vendor != "sqlite":
        return
    sql, params = runtime.pending_tasks()[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "designer_token_status_created" in plan and "TEMP B-TREE" not in plan, plan
