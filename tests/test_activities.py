"""Activities in this process: CreateActivity (idempotent, tags), Describe/List/Delete, and an activity
Task: scheduled as a token row, taken by exactly one claim, answered with SendTask*, ended by its
deadlines, or failed with ActivityScheduleFailed when the activity does not exist.

The API's handlers are called as the endpoint calls them (checked against botocore's model, errors
answered as AWS's codes); the worker is drained in this thread and deadlines are reached by moving
STEPWISE_CLOCK_OFFSET. The long poll, a real worker process and 50 open polls on one daphne are in
tests/test_activities_live.py.
"""

import json

import pytest
from django.conf import settings

from designer import api, runtime
from designer.models import Activity, ExecutionStatus, HistoryEvent, TaskToken, TokenKind, TokenStatus
from tests.test_runtime import drain, machine, make_due

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVITY_ARN = "arn:aws:states:us-east-1:123456789012:activity:"


@pytest.fixture(autouse=True)
def clock():
    offset = settings.STEPWISE_CLOCK_OFFSET
    yield
    settings.STEPWISE_CLOCK_OFFSET = offset


def call(operation: str, **body) -> tuple[int, dict]:
    """One API operation as the endpoint runs it: (HTTP status, answer)."""
    response = api.answered(operation, lambda: api.HANDLERS[operation](api.checked_input(operation, body)))
    return response.status_code, json.loads(response.content)


def ok(operation: str, **body) -> dict:
    status, answer = call(operation, **body)
    assert status == 200, answer
    return answer


def error(operation: str, **body) -> str:
    status, answer = call(operation, **body)
    assert status == 400, answer
    return answer["__type"]


def activity_machine(name="uses", activity="review", **task_fields):
    task = {"Type": "Task", "Resource": ACTIVITY_ARN + activity, "Next": "After", **task_fields}
    states = {"Work": task, "After": {"Type": "Pass", "End": True}}
    if "Catch" in task_fields:
        states["Caught"] = {"Type": "Pass", "End": True}
    return machine(name, {"StartAt": "Work", "States": states})


def started(activity="review", **task_fields):
    execution = runtime.start_execution(activity_machine(activity=activity, **task_fields), '{"n": 1}')
    drain()
    execution.refresh_from_db()
    return execution


def history(execution):
    return [e.type for e in HistoryEvent.objects.filter(execution=execution)]


def details(execution, event_type):
    return HistoryEvent.objects.filter(execution=execution, type=event_type).last().details


def poll(activity="review", worker="w1"):
    return ok("GetActivityTask", activityArn=ACTIVITY_ARN + activity, workerName=worker)


# -- the activity itself ---------------------------------------------------------------------------
def test_create_describe_list_and_delete_an_activity():
    created = ok("CreateActivity", name="review")
    assert created["activityArn"] == ACTIVITY_ARN + "review"
    described = ok("DescribeActivity", activityArn=created["activityArn"])
    assert described["name"] == "review" and described["creationDate"] == created["creationDate"]
    ok("CreateActivity", name="archive")
    listed = ok("ListActivities")["activities"]
    assert [item["name"] for item in listed] == ["archive", "review"]
    assert set(listed[0]) == {"activityArn", "name", "creationDate"}
    assert ok("DeleteActivity", activityArn=created["activityArn"]) == {}
    assert error("DescribeActivity", activityArn=created["activityArn"]) == "ActivityDoesNotExist"
    # Deleting again succeeds, as AWS's DeleteActivity does for an activity that is gone.
    assert ok("DeleteActivity", activityArn=created["activityArn"]) == {}


def test_create_is_idempotent_by_name_and_sets_tags():
    first = ok("CreateActivity", name="review", tags=[{"key": "team", "value": "a"}])
    again = ok("CreateActivity", name="review", tags=[{"key": "cost", "value": "7"}])
    assert again == first
    assert Activity.objects.count() == 1
    tags = ok("ListTagsForResource", resourceArn=first["activityArn"])["tags"]
    assert tags == [{"key": "cost", "value": "7"}, {"key": "team", "value": "a"}]


def test_activity_tags_through_tag_resource():
    arn = ok("CreateActivity", name="review")["activityArn"]
    ok("TagResource", resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ok("UntagResource", resourceArn=arn, tagKeys=["a"])
    assert ok("ListTagsForResource", resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    assert error("TagResource", resourceArn=ACTIVITY_ARN + "missing",
                 tags=[{"key": "a", "value": "1"}]) == "ResourceNotFound"
    too_many = [{"key": f"k{index}", "value": "v"} for index in range(51)]
    assert error("CreateActivity", name="crowded", tags=too_many) == "TooManyTags"


def test_list_activities_pages():
    for index in range(5):
        ok("CreateActivity", name=f"a{index}")
    first = ok("ListActivities", maxResults=2)
    second = ok("ListActivities", maxResults=2, nextToken=first["nextToken"])
    third = ok("ListActivities", maxResults=2, nextToken=second["nextToken"])
    names = [item["name"] for page in (first, second, third) for item in page["activities"]]
    assert names == ["a0", "a1", "a2", "a3", "a4"] and "nextToken" not in third
    assert error("ListActivities", nextToken="garbage!") == "InvalidToken"


def test_errors_are_aws_codes():
    assert error("CreateActivity", name="bad name?") == "InvalidName"
    assert error("CreateActivity", name="x" * 81) == "ValidationException"
    assert error("DescribeActivity", activityArn=ACTIVITY_ARN + "missing") == "ActivityDoesNotExist"
    assert error("GetActivityTask", activityArn=ACTIVITY_ARN + "missing") == "ActivityDoesNotExist"
    machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    for operation in ("DescribeActivity", "DeleteActivity", "GetActivityTask"):
        assert error(operation, activityArn=machine_arn) == "InvalidArn", operation
        assert error(operation, activityArn=ACTIVITY_ARN + "a:b") == "InvalidArn", operation
    assert error("GetActivityTask") == "ValidationException"


# -- an activity Task ------------------------------------------------------------------------------
def test_an_activity_task_is_scheduled_taken_once_and_answered():
    ok("CreateActivity", name="review")
    execution = started(TimeoutSeconds=300, HeartbeatSeconds=60)
    assert execution.status == ExecutionStatus.RUNNING
    assert history(execution)[-1] == "ActivityScheduled"
    scheduled = details(execution, "ActivityScheduled")
    assert scheduled == {"resource": ACTIVITY_ARN + "review", "input": {"n": 1},
                         "inputDetails": {"truncated": False}, "timeoutInSeconds": 300,
                         "heartbeatInSeconds": 60}
    row = TaskToken.objects.get(execution=execution)
    assert row.kind == TokenKind.ACTIVITY and row.started_at is None
    # HeartbeatSeconds counts from the start, not from scheduling; TimeoutSeconds from scheduling.
    assert row.heartbeat_due_at is None and row.timeout_at is not None
    assert list(runtime.pending_tasks(activity=ACTIVITY_ARN + "review")) == [row]

    task = poll(worker="worker-7")
    assert json.loads(task["input"]) == {"n": 1} and task["taskToken"] == row.token
    assert poll() == {}  # the one task went to one poller
    assert history(execution)[-1] == "ActivityStarted"
    assert details(execution, "ActivityStarted") == {"workerName": "worker-7"}
    row.refresh_from_db()
    assert row.worker_name == "worker-7" and row.heartbeat_due_at is not None

    ok("SendTaskSuccess", taskToken=task["taskToken"], output='{"done": true}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert history(execution)[1:] == ["TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                                      "ActivitySucceeded", "TaskStateExited", "PassStateEntered",
                                      "PassStateExited", "ExecutionSucceeded"]
    assert details(execution, "ActivitySucceeded") == {"output": {"done": True},
                                                       "outputDetails": {"truncated": False}}
    assert error("SendTaskSuccess", taskToken=task["taskToken"], output="{}") == "TaskTimedOut"


def test_send_task_failure_is_activity_failed_and_caught():
    ok("CreateActivity", name="review")
    execution = started(Catch=[{"ErrorEquals": ["Rejected"], "Next": "Caught"}])
    task = poll()
    ok("SendTaskFailure", taskToken=task["taskToken"], error="Rejected", cause="no")
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert details(execution, "ActivityFailed") == {"error": "Rejected", "cause": "no"}
    assert json.loads(execution.output) == {"Error": "Rejected", "Cause": "no"}


def test_tasks_go_out_oldest_first_each_once():
    ok("CreateActivity", name="review")
    executions = [runtime.start_execution(activity_machine(f"m{index}"), json.dumps({"i": index}))
                  for index in range(3)]
    drain()
    inputs = [json.loads(poll()["input"])["i"] for _ in range(3)]
    assert inputs == [0, 1, 2] and poll() == {}
    assert {history(execution)[-1] for execution in executions} == {"ActivityStarted"}


def test_a_missing_or_deleted_activity_is_activity_schedule_failed():
    execution = started(activity="never-made", Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}])
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert history(execution)[1:4] == ["TaskStateEntered", "ActivityScheduled", "ActivityScheduleFailed"]
    failed = details(execution, "ActivityScheduleFailed")
    assert failed["error"] == "ActivityDoesNotExist" and "never-made" in failed["cause"]
    assert not TaskToken.objects.exists()

    arn = ok("CreateActivity", name="gone")["activityArn"]
    ok("DeleteActivity", activityArn=arn)
    runtime.start_execution(activity_machine("m2", activity="gone",
                                             Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]))
    drain()
    caught = runtime.get_execution(runtime.get_state_machine(
        "arn:aws:states:us-east-1:123456789012:stateMachine:m2").executions.get().arn)
    assert caught.status == ExecutionStatus.SUCCEEDED
    assert json.loads(caught.output)["Error"] == "ActivityDoesNotExist"


def test_timeout_seconds_counts_from_scheduling_even_unstarted():
    ok("CreateActivity", name="review")
    execution = started(TimeoutSeconds=5)
    make_due()
    drain()  # early: nothing happens
    assert TaskToken.objects.get().status == TokenStatus.OPEN
    settings.STEPWISE_CLOCK_OFFSET += 6
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "States.Timeout"
    assert history(execution)[-2:] == ["ActivityTimedOut", "ExecutionFailed"]
    assert details(execution, "ActivityTimedOut") == {"error": "States.Timeout"}
    assert poll() == {}  # a timed-out task is not handed out


def test_heartbeat_seconds_count_from_the_start_and_a_missed_one_times_out():
    ok("CreateActivity", name="review")
    execution = started(HeartbeatSeconds=10, TimeoutSeconds=1000,
                        Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Caught"}])
    settings.STEPWISE_CLOCK_OFFSET += 50  # unstarted: no heartbeat is due yet
    make_due()
    drain()
    assert TaskToken.objects.get().status == TokenStatus.OPEN
    token = poll()["taskToken"]
    for _ in range(3):
        settings.STEPWISE_CLOCK_OFFSET += 8
        ok("SendTaskHeartbeat", taskToken=token)
        make_due()
        drain()
        assert TaskToken.objects.get().status == TokenStatus.OPEN
    settings.STEPWISE_CLOCK_OFFSET += 11
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert details(execution, "ActivityTimedOut") == {"error": "States.HeartbeatTimeout"}
    assert error("SendTaskHeartbeat", taskToken=token) == "TaskTimedOut"


def test_stop_execution_withdraws_the_activity_task():
    ok("CreateActivity", name="review")
    execution = started()
    runtime.stop_execution(execution, "Stopped", "by a test")
    assert TaskToken.objects.get().status == TokenStatus.CLOSED
    assert poll() == {}


def test_activity_tasks_lists_open_and_recent():
    ok("CreateActivity", name="review")
    started()
    runtime.start_execution(activity_machine("second"), "{}")
    drain()
    ok("SendTaskSuccess", taskToken=poll()["taskToken"], output="{}")
    open_tasks, recent = runtime.activity_tasks(Activity.objects.get())
    assert len(open_tasks) == 1 and len(recent) == 1 and recent[0].status == TokenStatus.SUCCEEDED


# -- where a user sees them ------------------------------------------------------------------------
def test_the_activities_page_and_the_admin_list_activities_and_their_tasks(client, django_user_model):
    ok("CreateActivity", name="review", tags=[{"key": "team", "value": "ops"}])
    ok("CreateActivity", name="idle")
    started()
    runtime.start_execution(activity_machine("second"), "{}")
    drain()
    task = poll(worker="desk-3")
    assert client.get("/activities/").status_code == 302  # login first
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(user)
    html = client.get("/activities/").content.decode()
    assert 'data-activity="review"' in html and 'data-activity="idle"' in html and "team=ops" in html
    assert html.count("data-task-row") == 2 and "desk-3" in html and "waiting for a worker" in html
    assert 'aria-current="page">Activities<' in html
    ok("SendTaskSuccess", taskToken=task["taskToken"], output="{}")
    html = client.get("/activities/").content.decode()
    assert html.count("data-task-row") == 1 and "data-recent-tasks" in html
    admin_html = client.get("/admin/designer/activity/").content.decode()
    assert "review" in admin_html and "idle" in admin_html
    assert client.get("/admin/designer/tasktoken/?kind=activity").status_code == 200
