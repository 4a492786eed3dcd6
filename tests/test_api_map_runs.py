"""Map Runs through the AWS API with boto3 against daphne and a real `db_worker`: DescribeMapRun,
ListMapRuns, UpdateMapRun, ListExecutions by mapRunArn, DescribeExecution of a child."""

import json
import time

import pytest

from tests.test_api_boto3 import Api, create, error_code, wait_for

FAN = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "Label": "doubler", "End": True,
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Double",
        "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.v, $.v)"},
                              "End": True}},
    }}}}
PARKED = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Nap",
        "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }}}}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory, migrated_db_file):
    api = Api(tmp_path_factory.mktemp("api-map-runs"), migrated_db_file)
    yield api.client()
    api.close()


def test_describe_and_list_map_runs_and_their_child_executions(sfn):
    machine_arn = create(sfn, "fanned", FAN)
    items = [{"v": i} for i in range(6)]
    started = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"items": items}))
    done = wait_for(sfn, started["executionArn"], "SUCCEEDED", timeout=60)
    assert json.loads(done["output"]) == [{"v": 2 * i} for i in range(6)]

    runs = sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"]
    assert len(runs) == 1
    run = runs[0]
    assert run["mapRunArn"].startswith("arn:aws:states:us-east-1:123456789012:mapRun:fanned/doubler:")
    assert run["stateMachineArn"] == machine_arn + "/doubler"
    assert run["executionArn"] == started["executionArn"] and run["stopDate"] >= run["startDate"]

    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert (described["status"], described["maxConcurrency"]) == ("SUCCEEDED", 2)
    assert described["executionArn"] == started["executionArn"]
    assert described["itemCounts"]["succeeded"] == described["itemCounts"]["total"] == 6
    assert described["executionCounts"]["pending"] == described["executionCounts"]["running"] == 0

    children = sfn.get_paginator("list_executions").paginate(
        mapRunArn=run["mapRunArn"], PaginationConfig={"PageSize": 4}).build_full_result()["executions"]
    assert len(children) == 6
    assert {child["status"] for child in children} == {"SUCCEEDED"}
    assert all(child["mapRunArn"] == run["mapRunArn"] for child in children)
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == run["mapRunArn"]
    assert child["stateMachineArn"] == machine_arn + "/doubler"
    assert json.loads(child["output"]) == {"v": 2 * json.loads(child["input"])["v"]}
    child_machine = sfn.describe_state_machine_for_execution(executionArn=children[0]["executionArn"])
    assert (child_machine["mapRunArn"], child_machine["label"]) == (run["mapRunArn"], "doubler")
    assert json.loads(child_machine["definition"])["StartAt"] == "Double"
    history = sfn.get_execution_history(executionArn=children[0]["executionArn"])["events"]
    assert history[0]["type"] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded"
    parent_history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    map_run_started = [e for e in parent_history if e["type"] == "MapRunStarted"]
    assert map_run_started[0]["mapRunStartedEventDetails"]["mapRunArn"] == run["mapRunArn"]
    # The machine's own list leaves the children out, as AWS does.
    listed = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    assert [e["executionArn"] for e in listed] == [started["executionArn"]]


def test_update_map_run_lets_more_children_run_at_once(sfn):
    machine_arn = create(sfn, "parked", PARKED)
    started = sfn.start_execution(stateMachineArn=machine_arn,
                                  input=json.dumps({"items": [{"i": i} for i in range(5)]}))

    def described_run():
        deadline = time.monotonic() + 20
        while not (runs := sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        return sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])

    def wait_for_running(count):
        deadline = time.monotonic() + 20
        while (described := described_run())["executionCounts"]["running"] != count:
            assert time.monotonic() < deadline, described["executionCounts"]
            time.sleep(0.1)
        return described

    described = wait_for_running(1)
    assert described["status"] == "RUNNING" and described["executionCounts"]["pending"] == 4
    sfn.update_map_run(mapRunArn=described["mapRunArn"], maxConcurrency=3, toleratedFailurePercentage=50)
    described = wait_for_running(3)
    assert (described["maxConcurrency"], described["toleratedFailurePercentage"]) == (3, 50)
    sfn.stop_execution(executionArn=started["executionArn"])
    deadline = time.monotonic() + 20
    while (described := described_run())["executionCounts"]["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert described["status"] == "ABORTED" and described["executionCounts"]["aborted"] == 3


def test_map_run_errors(sfn):
    missing = "arn:aws:states:us-east-1:123456789012:mapRun:nothing/here:0000"
    assert error_code(sfn.describe_map_run, mapRunArn=missing) == "ResourceNotFound"
    assert error_code(sfn.update_map_run, mapRunArn=missing, maxConcurrency=1) == "ResourceNotFound"
    assert error_code(sfn.describe_map_run, mapRunArn="arn:aws:states:us-east-1:123456789012:execution:a:b") \
        == "InvalidArn"
    assert error_code(sfn.update_map_run, mapRunArn=missing) == "ValidationException"
    unknown = "arn:aws:states:us-east-1:123456789012:execution:nothing:here"
    assert error_code(sfn.list_map_runs, executionArn=unknown) == "ExecutionDoesNotExist"
