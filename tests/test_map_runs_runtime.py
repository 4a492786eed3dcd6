"""Map Runs through designer/runtime/ in this process (work run by `drain()`): UpdateMapRun,
redrive of a failed Map Run, and the pages. Real worker processes are in test_map_runs.py."""

import json

import pytest
from django.urls import reverse

from designer import functions, runtime
from designer.models import Execution, ExecutionStatus, HistoryEvent, MapRun, MapRunStatus
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
BROKEN: set = set()


@functions.register("mr_check")
def mr_check(event, context):
    if event["id"] in BROKEN:
        raise ValueError(f"item {event['id']} is broken")
    return event["id"] * 10


def fan(max_concurrency=0, processor_states=None, start_at="Check"):
    return {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": max_concurrency, "End": True,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start_at,
            "States": processor_states or {
                "Check": {"Type": "Task", "Resource": ARN + "mr_check", "End": True}},
        }}}}


def start(definition, items, name="parent"):
    machine = runtime.create_state_machine("fanned", json.dumps(definition))
    return runtime.start_execution(machine, json.dumps({"items": items}), name=name)


@pytest.fixture(autouse=True)
def nothing_broken():
    BROKEN.clear()
    yield
    BROKEN.clear()


def running_children(parent):
    return Execution.objects.filter(parent=parent, status=ExecutionStatus.RUNNING).count()


def test_update_map_run_raises_max_concurrency_for_the_running_map():
    waiting = {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}
    parent = start(fan(max_concurrency=1, processor_states=waiting, start_at="Nap"),
                   [{"id": i} for i in range(6)])
    drain()
    assert running_children(parent) == 1
    map_run = MapRun.objects.get(execution=parent)
    assert map_run.max_concurrency == 1
    runtime.update_map_run(map_run, max_concurrency=4, tolerated_failure_count=2)
    drain()
    assert running_children(parent) == 4
    map_run.refresh_from_db()
    assert (map_run.max_concurrency, map_run.tolerated_failure_count) == (4, 2)
    runtime.stop_execution(parent)
    drain()
    assert running_children(parent) == 0
    map_run.refresh_from_db()
    assert map_run.status == MapRunStatus.ABORTED and map_run.stop_date is not None


def test_redrive_of_a_failed_map_run_reruns_only_the_children_that_did_not_succeed():
    BROKEN.add(2)
    parent = start(fan(max_concurrency=0), [{"id": i} for i in range(4)])
    drain()
    parent.refresh_from_db()
    assert parent.status == ExecutionStatus.FAILED and parent.error == "ValueError"
    map_run = MapRun.objects.get(execution=parent)
    assert map_run.status == MapRunStatus.FAILED
    first_children = Execution.objects.filter(parent=parent).count()
    BROKEN.clear()
    runtime.redrive_execution(parent)
    map_run.refresh_from_db()
    assert map_run.status == MapRunStatus.RUNNING
    drain()
    parent.refresh_from_db()
    assert parent.status == ExecutionStatus.SUCCEEDED, (parent.error, parent.cause)
    assert json.loads(parent.output) == [0, 10, 20, 30]
    map_run.refresh_from_db()
    assert map_run.status == MapRunStatus.SUCCEEDED
    # Only the failed child (and any withdrawn before it finished) ran again.
    rerun = Execution.objects.filter(parent=parent).count() - first_children
    assert 1 <= rerun <= first_children - 1
    succeeded = Execution.objects.filter(parent=parent, status=ExecutionStatus.SUCCEEDED)
    assert sorted(json.loads(child.output) for child in succeeded) == [0, 10, 20, 30]


def test_a_child_describes_its_map_run_and_its_machine_as_aws_names_them():
    parent = start(fan(), [{"id": 1}])
    drain()
    child = Execution.objects.select_related("map_run", "machine").get(parent=parent)
    described = child.to_dict()
    assert described["mapRunArn"] == MapRun.objects.get().arn
    assert described["stateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:fanned/Fan"
    assert child.arn == f"arn:aws:states:us-east-1:123456789012:execution:fanned/Fan:{child.name}"
    types = list(HistoryEvent.objects.filter(execution=child).values_list("type", flat=True))
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def test_the_execution_page_lists_its_map_runs_and_a_child_links_to_its_parent(client):
    parent = start(fan(), [{"id": i} for i in range(3)])
    drain()
    html = client.get(parent.get_absolute_url()).content.decode()
    map_run = MapRun.objects.get()
    assert map_run.arn in html and "Map Run" in html
    children = Execution.objects.filter(parent=parent)
    assert all(child.get_absolute_url() in html for child in children)
    child_html = client.get(children[0].get_absolute_url()).content.decode()
    assert parent.get_absolute_url() in child_html and map_run.arn in child_html
    machine_html = client.get(reverse("machine", args=["fanned"])).content.decode()
    assert parent.get_absolute_url() in machine_html
    assert children[0].get_absolute_url() not in machine_html  # children are on their parent's page
    dashboard_html = client.get(reverse("dashboard")).content.decode()
    assert parent.get_absolute_url() in dashboard_html
    assert children[0].get_absolute_url() not in dashboard_html
