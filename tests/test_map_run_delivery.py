"""How a parent takes its finished Map Run children (runtime.deliver_children): as many as fit in one
parent step, page after page, bounded by a count and by the size of their outcomes; the rest in the
next step. In this process on SQLite."""

import json

import pytest
from django_tasks_db.models import DBTaskResult

from designer import runtime
from designer.models import Execution, ExecutionStatus
from designer.runtime import map_runs
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "End": True,
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}}}}


def finished_children(count, text="x" * 30):
    """A parent whose `count` children have all finished and wait to be taken."""
    machine = runtime.create_state_machine("delivered", json.dumps(DEFINITION))
    items = [{"id": i, "text": text} for i in range(count)]
    parent = runtime.start_execution(machine, json.dumps({"items": items}), name="parent")
    runtime.advance(parent.pk)
    runtime.start_children(list(Execution.objects.filter(parent=parent).values_list("pk", flat=True)))
    DBTaskResult.objects.filter(task_path="designer.tasks.deliver_children").delete()
    return parent, items


def taken(parent):
    return Execution.objects.filter(parent=parent, reported=True).count()


def hints(parent):
    return DBTaskResult.objects.filter(task_path="designer.tasks.deliver_children", status="READY",
                                       args_kwargs__args__0=parent.pk).count()


def test_a_parent_step_takes_children_page_after_page_up_to_its_count(monkeypatch):
    monkeypatch.setattr(map_runs, "DELIVERY_PAGE", 3)
    monkeypatch.setattr(map_runs, "CHILD_DELIVERIES_PER_STEP", 7)
    parent, items = finished_children(20)
    runtime.deliver_children(parent.pk)
    assert taken(parent) == 9  # three pages of three: the page that reached 7 is taken whole
    assert hints(parent) == 1  # the step was full: another one takes the rest
    drain()
    parent.refresh_from_db()
    assert parent.status == ExecutionStatus.SUCCEEDED and json.loads(parent.output) == items


def test_a_parent_step_takes_children_up_to_the_size_of_their_outcomes(monkeypatch):
    monkeypatch.setattr(map_runs, "DELIVERY_PAGE", 2)
    monkeypatch.setattr(map_runs, "DELIVERY_BYTES_PER_STEP", 150)  # each output is about 45 bytes
    parent, items = finished_children(12)
    runtime.deliver_children(parent.pk)
    assert taken(parent) == 4  # two pages: about 90 bytes after the first, 180 after the second
    assert hints(parent) == 1
    drain()
    parent.refresh_from_db()
    assert parent.status == ExecutionStatus.SUCCEEDED and json.loads(parent.output) == items


def test_a_parent_step_that_takes_every_finished_child_queues_no_other():
    parent, items = finished_children(25)
    runtime.deliver_children(parent.pk)
    assert taken(parent) == 25 and hints(parent) == 0
    parent.refresh_from_db()
    assert parent.status == ExecutionStatus.SUCCEEDED and json.loads(parent.output) == items
