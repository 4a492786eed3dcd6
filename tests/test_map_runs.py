"""A DISTRIBUTED Map on real workers: its iterations run as child executions (a Map Run), each with
its own history, and the parent's result equals the in-memory engine's."""

import json

import pytest

import engine
from tests.durable import Deployment, postgres_available

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
STATUS = "SELECT status FROM designer_execution WHERE name = ?"
NO_CRASHES = "SELECT task_path FROM django_tasks_database_dbtaskresult WHERE status = 'FAILED'"
ITEMS = {"items": [{"id": i, "v": i % 7} for i in range(20)]}


def distributed(execution_type="STANDARD", max_concurrency=5, tolerated=None, processor_states=None):
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": "Check",
        "States": processor_states or {
            "Check": {"Type": "Choice", "Default": "Double",
                      "Choices": [{"Variable": "$.v", "NumericEquals": 6, "Next": "Broken"}]},
            "Broken": {"Type": "Fail", "Error": "Six", "Cause": "six is not allowed"},
            "Double": {"Type": "Pass", "Parameters": {"id.$": "$.id", "d.$": "States.MathAdd($.v, $.v)"},
                       "Next": "Square"},
            "Square": {"Type": "Task", "Resource": LAMBDA + "square", "Parameters": {"n.$": "$.d"},
                       "ResultPath": "$.square", "End": True},
        },
    }
    fan = {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": max_concurrency, "Label": "fan",
           "ItemProcessor": processor, "Next": "Done"}
    if tolerated is not None:
        fan["ToleratedFailureCount"] = tolerated
    return {"StartAt": "Fan", "States": {"Fan": fan, "Done": {"Type": "Pass", "End": True}}}


def square(suspension, execution):
    return suspension.parameters["n"] ** 2


@pytest.fixture
def deployment(tmp_path, migrated_db_file):
    deployment = Deployment.sqlite(tmp_path, template=migrated_db_file, STEPWISE_TASK_LEASE_SECONDS="2")
    yield deployment
    deployment.close()


def run_on_workers(deployment, definition, items, workers=2, name="parent", timeout=90):
    deployment.django(
        "import json\nfrom designer import runtime\n"
        f"m = runtime.create_state_machine('fanned', {json.dumps(definition)!r})\n"
        f"runtime.start_execution(m, {json.dumps(items)!r}, name={name!r})\n")
    for _ in range(workers):
        deployment.start_worker()
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status = 'RUNNING'", 0,
                          timeout=timeout)
    assert "one by one" not in deployment.logs(tail=None)  # the children's first steps ran in batches
    return deployment.sql("SELECT status, output, error FROM designer_execution WHERE name = ?", (name,))[0]


def map_run(deployment):
    return deployment.django(
        "from designer.models import MapRun\n"
        "run = MapRun.objects.get()\n"
        "result = {**run.to_dict(), 'label': run.label, 'type': run.execution_type}\n")


def max_overlap(intervals):
    """The most intervals open at one moment (a start at the same time as a stop counts as after)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals],
                    key=lambda point: (point[0], point[1]))
    open_now = highest = 0
    for _, step in points:
        open_now += step
        highest = max(highest, open_now)
    return highest


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
def test_a_distributed_map_runs_its_items_as_child_executions_with_the_engines_result(
        deployment, execution_type):
    items = {"items": [{"id": i, "v": i % 6} for i in range(20)]}  # no six: every child succeeds
    definition = distributed(execution_type)
    expected = engine.run(definition, items, task_handler=square)
    status, output, error = run_on_workers(deployment, definition, items)
    assert (status, error) == ("SUCCEEDED", None), deployment.logs()
    assert json.loads(output) == expected.output
    children = deployment.sql(
        "SELECT c.id, c.status, c.type, c.name, c.arn, c.start_date, c.stop_date FROM designer_execution c "
        "JOIN designer_execution p ON p.id = c.parent_id WHERE p.name = 'parent'")
    assert len(children) == 20
    assert {(c[1], c[2]) for c in children} == {("SUCCEEDED", execution_type)}
    kind = "express" if execution_type == "EXPRESS" else "execution"
    assert all(c[4].startswith(f"arn:aws:states:us-east-1:123456789012:{kind}:fanned/fan:{c[3]}")
               for c in children)
    # MaxConcurrency 5: a child is created only after the parent heard of another's end.
    assert max_overlap([(c[5], c[6]) for c in children]) <= 5
    run = map_run(deployment)
    assert run["status"] == "SUCCEEDED" and run["type"] == execution_type
    assert run["mapRunArn"].startswith("arn:aws:states:us-east-1:123456789012:mapRun:fanned/fan:")
    assert run["maxConcurrency"] == 5
    assert run["itemCounts"] == run["executionCounts"] == {
        "pending": 0, "running": 0, "succeeded": 20, "failed": 0, "timedOut": 0, "aborted": 0, "total": 20,
        "resultsWritten": 0, "failuresNotRedrivable": 0, "pendingRedrive": 0}
    parent_events = [row[0] for row in deployment.sql(
        "SELECT e.type FROM designer_historyevent e JOIN designer_execution x ON x.id = e.execution_id "
        "WHERE x.name = 'parent' ORDER BY e.seq")]
    assert parent_events == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                             "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "PassStateEntered",
                             "PassStateExited", "ExecutionSucceeded"]
    started = deployment.scalar(
        "SELECT e.details FROM designer_historyevent e JOIN designer_execution x ON x.id = e.execution_id "
        "WHERE x.name = 'parent' AND e.type = 'MapRunStarted'")
    assert json.loads(started)["mapRunArn"] == run["mapRunArn"]
    child_events = deployment.sql(
        "SELECT e.execution_id, count(*), min(e.seq), max(e.seq) FROM designer_historyevent e "
        "JOIN designer_execution c ON c.id = e.execution_id WHERE c.parent_id IS NOT NULL "
        "GROUP BY e.execution_id")
    if execution_type == "STANDARD":  # each child has a history of its own
        assert len(child_events) == 20
        assert all((low, high) == (1, count) and count >= 9 for _, count, low, high in child_events)
        first = deployment.sql(
            "SELECT e.type FROM designer_historyevent e WHERE e.execution_id = ? ORDER BY e.seq",
            (children[0][0],))
        assert first[0] == ("ExecutionStarted",) and first[-1] == ("ExecutionSucceeded",)
    else:  # Express keeps no history, as on AWS
        assert child_events == []
    assert deployment.sql(NO_CRASHES) == []


def test_a_tolerated_child_failure_leaves_its_error_in_the_result(deployment):
    items = {"items": [{"id": i, "v": i} for i in range(8)]}  # item 6 fails
    definition = distributed(max_concurrency=3, tolerated=1)
    expected = engine.run(definition, items, task_handler=square)
    status, output, _ = run_on_workers(deployment, definition, items)
    assert status == "SUCCEEDED", deployment.logs()
    assert json.loads(output) == expected.output
    assert json.loads(output)[6] == {"Error": "Six", "Cause": "six is not allowed"}
    run = map_run(deployment)
    assert run["status"] == "SUCCEEDED"
    assert run["toleratedFailureCount"] == 1
    counts = run["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (7, 1, 8)


def test_failures_beyond_tolerance_fail_the_map_run_and_abort_the_running_children(deployment):
    items = {"items": [{"id": i, "v": 6 if i in (0, 1) else i} for i in range(12)]}
    sleepy_states = {
        "Check": {"Type": "Choice", "Default": "Nap",
                  "Choices": [{"Variable": "$.v", "NumericEquals": 6, "Next": "Broken"}]},
        "Broken": {"Type": "Fail", "Error": "Six", "Cause": "six is not allowed"},
        "Nap": {"Type": "Task", "Resource": LAMBDA + "sleepy", "Parameters": {"sleep": 5}, "End": True},
    }
    definition = distributed(max_concurrency=4, tolerated=1, processor_states=sleepy_states)
    # Two workers sleep in the children's tasks; the third has time to fail the Map and stop them.
    status, _, error = run_on_workers(deployment, definition, items, workers=3)
    assert (status, error) == ("FAILED", "States.ExceedToleratedFailureThreshold"), deployment.logs()
    run = map_run(deployment)
    assert run["status"] == "FAILED"
    counts = run["executionCounts"]
    assert counts["failed"] == 2 and counts["running"] == 0
    assert counts["aborted"] >= 1  # the sleepers that were running when the Map failed
    # Never started: 4 at first, and at most one more (after the first, tolerated, failure).
    assert counts["pending"] in (12 - 4, 12 - 5)
    assert sum(counts[key] for key in ("pending", "succeeded", "failed", "aborted")) == 12
    events = [row[0] for row in deployment.sql(
        "SELECT e.type FROM designer_historyevent e JOIN designer_execution x ON x.id = e.execution_id "
        "WHERE x.name = 'parent' ORDER BY e.seq")]
    assert "MapRunFailed" in events and events[-1] == "ExecutionFailed"


def test_stopping_the_parent_aborts_its_children_and_the_map_run(deployment):
    states = {"Nap": {"Type": "Task", "Resource": LAMBDA + "sleepy", "Parameters": {"sleep": 5},
                      "End": True}}
    definition = distributed(max_concurrency=2, processor_states=states)
    definition["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Nap"
    deployment.django(
        "from designer import runtime\n"
        f"m = runtime.create_state_machine('fanned', {json.dumps(definition)!r})\n"
        f"runtime.start_execution(m, {json.dumps(ITEMS)!r}, name='parent')\n")
    for _ in range(3):  # two sleep in the children's tasks, one stops them
        deployment.start_worker()
    deployment.wait_for_calls(2)
    deployment.django(
        "from designer import runtime\nfrom designer.models import Execution\n"
        "runtime.stop_execution(Execution.objects.get(name='parent'), 'Stopped', 'by the test')\n")
    deployment.wait_until("SELECT count(*) FROM designer_execution WHERE status = 'RUNNING'", 0)
    assert deployment.scalar(STATUS, ("parent",)) == "ABORTED"
    assert map_run(deployment)["status"] == "ABORTED"
    statuses = dict(deployment.sql("SELECT status, count(*) FROM designer_execution "
                                   "WHERE parent_id IS NOT NULL GROUP BY status"))
    assert statuses == {"ABORTED": 2}
    deployment.wait_until("SELECT count(*) FROM designer_taskattempt WHERE status = 'ABANDONED'", 2)


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_four_workers_on_postgres_share_a_map_run_without_duplicate_work(tmp_path):
    deployment = Deployment.postgres(tmp_path, STEPWISE_TASK_LEASE_SECONDS="5")
    try:
        items = {"items": [{"id": i, "v": i % 6} for i in range(40)]}
        definition = distributed(max_concurrency=10)
        expected = engine.run(definition, items, task_handler=square)
        status, output, error = run_on_workers(deployment, definition, items, workers=4)
        assert (status, error) == ("SUCCEEDED", None), deployment.logs()
        assert json.loads(output) == expected.output
        # Every child ran once, with a gapless history of its own; every Task attempt ran once.
        children = deployment.sql("SELECT e.execution_id, count(*), min(e.seq), max(e.seq) "
                                  "FROM designer_historyevent e JOIN designer_execution c "
                                  "ON c.id = e.execution_id WHERE c.parent_id IS NOT NULL "
                                  "GROUP BY e.execution_id")
        assert len(children) == 40
        assert all((low, high) == (1, count) for _, count, low, high in children)
        assert deployment.sql("SELECT status, count(*) FROM designer_taskattempt GROUP BY status") == [
            ("SUCCEEDED", 40)]
        run = map_run(deployment)
        assert run["status"] == "SUCCEEDED" and run["executionCounts"]["succeeded"] == 40
        assert deployment.scalar("SELECT count(DISTINCT worker) FROM designer_taskattempt") > 1
        assert deployment.sql(NO_CRASHES) == []
    finally:
        deployment.close()


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_a_map_run_of_thousands_of_children_leaves_postgres_planning_claims_from_the_index(tmp_path):
    # With the empty tables' statistics (autovacuum is off on our machines), every claim sorted all the
    # waiting rows; after the children's bulk insert the runtime analyzes the tables.
    deployment = Deployment.postgres(tmp_path)
    try:
        items = {"items": [{"id": i, "v": 1} for i in range(1500)]}
        definition = json.dumps(distributed(max_concurrency=0))
        deployment.django(
            "import json\nfrom designer import runtime\n"
            f"m = runtime.create_state_machine('fanned', {json.dumps(definition)})\n"
            f"parent = runtime.start_execution(m, {json.dumps(json.dumps(items))}, name='parent')\n"
            "runtime.advance(parent.pk)\n")
        children = deployment.scalar("SELECT count(*) FROM designer_execution WHERE parent_id IS NOT NULL")
        assert children == 1500
        analyzed = dict(deployment.sql(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname IN ('django_tasks_database_dbtaskresult', 'designer_execution')"))
        assert analyzed == {"django_tasks_database_dbtaskresult": True, "designer_execution": True}
        plan = "\n".join(row[0] for row in deployment.sql(
            "EXPLAIN SELECT id FROM django_tasks_database_dbtaskresult WHERE status = 'READY' "
            "AND (run_after = '9999-01-01 00:00:00+00:00'::timestamptz OR run_after <= now()) "
            "AND queue_name IN ('default') AND backend_name = 'default' "
            "ORDER BY priority DESC, run_after ASC, enqueued_at ASC LIMIT 1 FOR UPDATE SKIP LOCKED"))
        assert "Index Scan using tasks_db_new_ordering_idx" in plan, plan
    finally:
        deployment.close()


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_children_history_written_by_copy_on_postgres_reads_back_as_the_engine_wrote_it(tmp_path):
    # A batch of children writes its history with COPY: tabs, newlines, backslashes, quotes and
    # non-ASCII text in the details must come back exactly.
    deployment = Deployment.postgres(tmp_path)
    try:
        awkward = ["tab\there", "line\nbreak", "back\\slash", 'quote"d', "naïve ✓", "\\N", ""]
        items = {"items": [{"id": i, "text": text} for i, text in enumerate(awkward)]}
        processor = {"Echo": {"Type": "Pass", "End": True}}
        definition = distributed(max_concurrency=0, processor_states=processor)
        definition["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Echo"
        status, output, error = run_on_workers(deployment, definition, items, workers=1)
        assert (status, error) == ("SUCCEEDED", None), deployment.logs()
        assert json.loads(output) == items["items"]
        inputs = deployment.sql(
            "SELECT e.details FROM designer_historyevent e JOIN designer_execution c "
            "ON c.id = e.execution_id WHERE c.parent_id IS NOT NULL AND e.type = 'ExecutionStarted' "
            "ORDER BY c.id")
        assert [details["input"] for (details,) in inputs] == items["items"]
    finally:
        deployment.close()
