"""A 10,000-item distributed Map in a Standard execution, run through designer/runtime/ in this process
(`drain()`): it succeeds with every result in item order, and no row or step grows with the item count
beyond the parent's own result."""

import json

import pytest
from django.db import connection

from designer import runtime
from designer.models import Execution, ExecutionStatus, HistoryEvent, MapRun, MapRunStatus
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = 10_000


def definition() -> dict:
    return {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1000, "End": True,
        "ItemProcessor": {
            # Express children: no history rows of their own, the cheapest child there is.
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Double", "States": {
                "Double": {"Type": "Pass", "Parameters": {"id.$": "$.id", "d.$": "States.MathAdd($.v, $.v)"},
                           "End": True}}}}}}


def largest_snapshot_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(LENGTH(snapshot)) FROM designer_execution")
        return cursor.fetchone()[0] or 0


def test_a_ten_thousand_item_map_run_finishes_with_every_result_and_bounded_rows():
    machine = runtime.create_state_machine("fan10k", json.dumps(definition()))
    items = [{"id": i, "v": i % 97} for i in range(ITEMS)]
    parent = runtime.start_execution(machine, json.dumps({"items": items}), name="big")
    largest = 0
    for _ in range(200):
        drain()
        largest = max(largest, largest_snapshot_bytes())
        parent.refresh_from_db()
        if parent.status != ExecutionStatus.RUNNING:
            break
    assert parent.status == ExecutionStatus.SUCCEEDED, (parent.error, parent.cause)
    assert json.loads(parent.output) == [{"id": i, "d": 2 * (i % 97)} for i in range(ITEMS)]
    map_run = MapRun.objects.get(execution=parent)
    assert map_run.status == MapRunStatus.SUCCEEDED
    assert Execution.objects.filter(parent=parent, status=ExecutionStatus.SUCCEEDED).count() == ITEMS
    # The parent's history does not grow with the items (its children's events are their own) ...
    assert HistoryEvent.objects.filter(execution=parent).count() < 20
    # ... and no snapshot row holds more than the items and their results once each.
    assert largest < 3 * len(json.dumps(items)), largest
