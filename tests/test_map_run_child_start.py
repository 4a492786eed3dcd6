"""How a Map Run's Standard children start (runtime.start_children): their first steps share one
transaction and a few statements, each child still changes all or nothing, and a batch run again or
one with a failing child loses nothing. In this process on SQLite; test_map_runs.py runs the same on
worker processes and PostgreSQL."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

import engine
from designer import functions, runtime
from designer.models import Execution, ExecutionStatus, HistoryEvent, MapRun, TaskAttempt
from designer.runtime import map_runs, step
from designer.runtime.children import CHILD_TASKS_WANTED, CHILDREN_PER_TASK
from tests.durable import Deployment, postgres_available
from tests.test_runtime import drain, make_due

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


@functions.register("cs_triple")
def cs_triple(event, context):
    return event["v"] * 3


# Items with v % 10 == 0 call a Task, v % 10 == 1 wait a second, the others are two Pass states.
PROCESSOR = {
    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Default": "Double", "Choices": [
            {"Variable": "$.kind", "NumericEquals": 0, "Next": "Triple"},
            {"Variable": "$.kind", "NumericEquals": 1, "Next": "Nap"}]},
        "Triple": {"Type": "Task", "Resource": ARN + "cs_triple", "End": True},
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
        "Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.v)"}, "Next": "Project"},
        "Project": {"Type": "Pass", "OutputPath": "$.d", "End": True},
    },
}
DEFINITION = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "ItemProcessor": PROCESSOR,
    "ItemSelector": {"v.$": "$$.Map.Item.Value", "kind.$": "States.MathAdd($$.Map.Item.Index, 0)"},
    "End": True}}}


def items(count):
    return {"items": list(range(count))}


def kinds(count):
    """The item selector's `kind` is the index; the Choice routes on it: index 0 → Task, 1 → Wait."""
    return {index: ("task" if index == 0 else "wait" if index == 1 else "pass") for index in range(count)}


def parent_started(count, name="parent"):
    machine = runtime.create_state_machine(name, json.dumps(DEFINITION))
    parent = runtime.start_execution(machine, json.dumps(items(count)), name=name)
    runtime.advance(parent.pk)  # the parent's first step creates the children and queues their start
    return parent


def queued(task_path):
    return DBTaskResult.objects.filter(task_path=f"designer.tasks.{task_path}", status="READY").order_by("pk")


def queued_batches():
    return [row.args_kwargs["args"][0] for row in queued("start_children")]


def children(parent):
    return list(Execution.objects.filter(parent=parent).order_by("pk"))


def history(execution, field="type"):
    events = HistoryEvent.objects.filter(execution=execution).order_by("seq")
    return list(events.values_list(field, flat=True))


def test_the_children_of_a_map_run_are_queued_in_batches_every_worker_can_share():
    parent = parent_started(200)
    batches = queued_batches()
    assert sorted(pk for batch in batches for pk in batch) == [child.pk for child in children(parent)]
    assert len(batches) >= CHILD_TASKS_WANTED  # 200 // 32 = 6 a batch: 34 batches
    assert max(len(batch) for batch in batches) <= CHILDREN_PER_TASK
    assert [row.args_kwargs["args"][0] for row in queued("advance")] == [parent.pk]  # none for a child


def statements_to_start(parent):
    with CaptureQueriesContext(connection) as queries:
        runtime.start_children([child.pk for child in children(parent)])
    return [query["sql"] for query in queries]


def test_a_batch_of_children_starts_in_the_same_few_statements_whatever_its_size(caplog):
    # Each has one child that calls a Task (its attempt and its queued run are rows of their own) and
    # one that waits (a queued wake-up); the others add nothing to the lock, the history INSERT and
    # the UPDATE of those that finished.
    small, large = parent_started(4, name="small"), parent_started(40, name="large")
    assert len(statements_to_start(small)) == len(statements_to_start(large)) <= 20
    assert "one by one" not in caplog.text
    by_index = {json.loads(child.input)["kind"]: child for child in children(large)}
    for index, kind in kinds(40).items():
        child = by_index[index]
        assert child.version == 1
        if kind == "pass":
            assert child.status == ExecutionStatus.SUCCEEDED and json.loads(child.output) == 2 * index
            assert history(child) == [
                "ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "PassStateEntered",
                "PassStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        else:
            assert child.status == ExecutionStatus.RUNNING
    assert TaskAttempt.objects.filter(execution=by_index[0]).count() == 1
    assert queued("wake").filter(args_kwargs__args__0=by_index[1].pk).exists()
    # Each parent is hinted once for all its children that finished.
    assert sorted(row.args_kwargs["args"][0] for row in queued("deliver_children")) == [small.pk, large.pk]


def triple(suspension, execution):
    return 3 * suspension.parameters["v"]


def test_a_map_run_started_in_batches_ends_with_the_engines_result(settings):
    parent = parent_started(75)
    drain()
    settings.STEPWISE_CLOCK_OFFSET = 2  # past the Wait
    make_due()
    drain()
    parent.refresh_from_db()
    expected = engine.run(DEFINITION, items(75), task_handler=triple)
    assert parent.status == ExecutionStatus.SUCCEEDED, (parent.error, parent.cause)
    assert json.loads(parent.output) == expected.output
    for child in children(parent):  # every child's history is gapless, from 1
        seqs = history(child, "seq")
        assert seqs == list(range(1, len(seqs) + 1))


def test_a_batch_run_again_changes_nothing_and_hints_the_parent_again():
    parent = parent_started(10)
    ids = [child.pk for child in children(parent)]
    runtime.start_children(ids)
    events = HistoryEvent.objects.count()
    versions = {child.pk: child.version for child in children(parent)}
    # Its worker died after the children's commit, before the parent's hint (which sets the flag and
    # queues the task in one transaction); the sweep gave the batch back to the queue.
    DBTaskResult.objects.filter(task_path="designer.tasks.deliver_children").delete()
    MapRun.objects.update(delivery_queued=False)
    runtime.start_children(ids)
    assert HistoryEvent.objects.count() == events
    assert {child.pk: child.version for child in children(parent)} == versions
    assert [row.args_kwargs["args"][0] for row in queued("deliver_children")] == [parent.pk]


def test_a_child_stopped_before_its_batch_runs_stays_stopped():
    parent = parent_started(6)
    first, *others = children(parent)
    runtime.stop_execution(first)
    runtime.start_children([first.pk, *(child.pk for child in others)])
    first.refresh_from_db()
    assert first.status == ExecutionStatus.ABORTED
    assert history(first) == ["ExecutionStarted", "ExecutionAborted"]
    assert all(child.status != ExecutionStatus.ABORTED for child in children(parent)[1:])


def test_a_child_whose_step_fails_does_not_keep_the_others_from_starting(monkeypatch, caplog):
    parent = parent_started(8)
    ids = [child.pk for child in children(parent)]
    broken = ids[3]
    load = step._load

    def load_or_break(row):
        if row.pk == broken:
            raise RuntimeError("this child's snapshot cannot be read")
        return load(row)

    # Both ways a child starts load it: the batch (map_runs) and one by one (step).
    monkeypatch.setattr(map_runs, "_load", load_or_break)
    monkeypatch.setattr(step, "_load", load_or_break)
    with pytest.raises(RuntimeError, match="cannot be read"):
        runtime.start_children(ids)
    assert "one by one" in caplog.text
    states = {child.pk: (child.status, child.version) for child in children(parent)}
    assert states.pop(broken) == (ExecutionStatus.RUNNING, 0)  # untouched, for a later look
    assert all(version == 1 for _, version in states.values())


def test_many_rows_swap_only_where_the_version_is_still_the_one_read():
    parent = parent_started(3)
    one, two, three = children(parent)
    for row in (one, two, three):
        row.snapshot = {"marker": row.pk}
        row.version = 1
    swapped = map_runs._swap_versions([(one, 0), (two, 5), (three, 0)], ("version", "snapshot"))
    assert swapped == 2
    stored = {row.pk: (row.version, row.snapshot) for row in children(parent)}
    assert stored == {one.pk: (1, {"marker": one.pk}), two.pk: (0, None), three.pk: (1, {"marker": three.pk})}


SWAP_ON_POSTGRES = """
import json
from designer import runtime
from designer.runtime import map_runs
from designer.models import Execution
m = runtime.create_state_machine('swapped', json.dumps(DEFINITION))
parent = runtime.start_execution(m, json.dumps({"items": [0, 1, 2]}), name='parent')
runtime.advance(parent.pk)
one, two, three = Execution.objects.filter(parent=parent).order_by('pk')
for row in (one, two, three):
    row.snapshot, row.version, row.output = {"marker": row.pk, "text": 'q"\\\\t{x}\\té'}, 1, None
swapped = map_runs._swap_versions([(one, 0), (two, 5), (three, 0)], ("version", "snapshot", "output"))
rows = Execution.objects.filter(parent=parent).order_by('pk')
result = [swapped, [[row.pk == one.pk or row.pk == three.pk, row.version, row.snapshot] for row in rows]]
"""


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_many_rows_swap_only_where_the_version_is_still_the_one_read_on_postgres(tmp_path):
    deployment = Deployment.postgres(tmp_path)
    try:
        swapped, rows = deployment.django(f"DEFINITION = {DEFINITION!r}\n" + SWAP_ON_POSTGRES)
    finally:
        deployment.close()
    assert swapped == 2
    text = 'q"\\t{x}\té'
    assert [(version, snapshot and snapshot["text"]) for _, version, snapshot in rows] == [
        (1, text), (0, None), (1, text)]
