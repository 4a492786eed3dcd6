"""Optimized-integration Resources are validated when the machine is created (engine/integrations.py).

AWS's developer guide ("Integrating optimized services with Step Functions") lists each optimized
service's actions and the patterns they accept: DynamoDB's optimized integration has only getItem,
putItem, updateItem and deleteItem (`query` exists only as `aws-sdk:dynamodb:query`); Lambda's invoke
takes a callback but not `.sync`; `.sync:2` belongs to Step Functions' startExecution; AWS SDK
integrations take request-response and callbacks, never `.sync`. Anything else in the
`arn:<partition>:states:::` namespace is refused by CreateStateMachine, UpdateStateMachine and
ValidateStateMachineDefinition with SCHEMA_VALIDATION_FAILED at the state's Resource. A Resource AWS
accepts but Stepwise cannot run yet is accepted and fails when the Task runs, with a clear cause.
"""

from __future__ import annotations

import json

import pytest

from designer import api, functions, runtime
from engine import TaskFailed, compile_definition, iter_problems
from engine.compile import InvalidDefinition
from engine.integrations import OPTIMIZED, RUNNABLE, integration, palette


def task(resource, name="Query"):
    return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": resource, "End": True}}}


def refusal(resource, name="Query"):
    return (f"SCHEMA_VALIDATION_FAILED: The resource provided {resource} is not recognized. The value is "
            "not a valid resource ARN, or the resource is not available in this region. "
            f"at /States/{name}/Resource")


@pytest.mark.parametrize("resource", [
    "arn:aws:states:::dynamodb:query",
    "arn:aws:states:::dynamodb:scan",
    "arn:aws:states:::lambda:invoke.sync",
    "arn:aws:states:::sqs:sendMessage.sync",
    "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
    "arn:aws:states:::ecs:runTask.sync:2",
    "arn:aws:states:::glue:startJobRun.waitForTaskToken",
    "arn:aws:states:::aws-sdk:s3:getObject.sync",
    "arn:aws:states:::nosuchservice:doThing",
    "arn:aws:states:::lambda",
    "arn:aws-us-gov:states:::dynamodb:query",
])
@pytest.mark.parametrize("machine_type", ["STANDARD", "EXPRESS"])
def test_resources_aws_does_not_know_are_refused_at_the_resource(resource, machine_type):
    problems = iter_problems(task(resource), state_machine_type=machine_type)
    assert [str(problem) for problem in problems] == [refusal(resource)]


@pytest.mark.parametrize("resource", [
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::dynamodb:getItem", "arn:aws:states:::dynamodb:putItem",
    "arn:aws:states:::dynamodb:updateItem", "arn:aws:states:::dynamodb:deleteItem",
    "arn:aws:states:::aws-sdk:dynamodb:query",
    "arn:aws:states:::aws-sdk:dynamodb:query.waitForTaskToken",
    "arn:aws:states:::sns:publish.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage",
    "arn:aws:states:::states:startExecution.sync:2",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::ecs:runTask.sync", "arn:aws:states:::ecs:runTask.waitForTaskToken",
    "arn:aws:states:::batch:submitJob.sync",
    "arn:aws:states:::events:putEvents.waitForTaskToken",
    "arn:aws:states:::http:invoke",
    "arn:aws-cn:states:::glue:startJobRun.sync",
    "arn:aws:lambda:us-east-1:123456789012:function:square",
    "arn:aws:states:us-east-1:123456789012:activity:review",
])
def test_resources_aws_accepts_validate(resource):
    assert [str(p) for p in iter_problems(task(resource))] == []
    compile_definition(task(resource))


def test_express_machines_still_refuse_waiting_patterns_of_known_integrations():
    problems = [str(p) for p in iter_problems(task("arn:aws:states:::ecs:runTask.sync"),
                                              state_machine_type="EXPRESS")]
    assert problems == ["SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service "
                        "integration  at /States/Query/Resource"]


def test_refusal_reaches_every_nested_task():
    resource = "arn:aws:states:::dynamodb:query"
    definition = {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Inner", "States": {"Inner": {"Type": "Task", "Resource": resource, "End": True}}}]}}}
    assert [str(p) for p in iter_problems(definition)] == [
        refusal(resource).replace("/States/Query/", "/States/Par/Branches[0]/States/Inner/")]


def test_map_item_readers_keep_their_s3_resources():
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "Parameters": {"Bucket": "b", "Key": "k"}, "ReaderConfig": {"InputType": "JSON"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    assert [str(p) for p in iter_problems(definition)] == []


def test_create_update_and_validate_refuse_the_same_way():
    resource = "arn:aws:states:::dynamodb:query"
    text = json.dumps(task(resource))
    with pytest.raises(InvalidDefinition) as compiled:
        compile_definition(task(resource))
    assert refusal(resource) in str(compiled.value)
    with pytest.raises(runtime.InvalidDefinition) as created:  # CreateStateMachine and UpdateStateMachine
        runtime.check_definition(text)
    assert refusal(resource) in str(created.value)
    validated = api.validate_state_machine_definition({"definition": text})
    assert validated["result"] == "FAIL"
    assert validated["diagnostics"] == [{
        "severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/States/Query/Resource",
        "message": refusal(resource).removeprefix("SCHEMA_VALIDATION_FAILED: ").removesuffix(
            " at /States/Query/Resource")}]


def test_an_accepted_integration_stepwise_cannot_run_fails_when_the_task_runs():
    with pytest.raises(TaskFailed) as failed:
        functions.invoke("arn:aws:states:::dynamodb:getItem", {"TableName": "t"})
    assert failed.value.error == "States.Runtime"
    assert "dynamodb:getItem integration, which Stepwise cannot run yet" in failed.value.cause


def test_one_table_says_what_runs_and_what_the_palette_offers():
    assert set(OPTIMIZED["dynamodb"]) == {"getItem", "putItem", "updateItem", "deleteItem"}
    assert all(integration(f"arn:aws:states:::{s}:{a}{p}").runnable for s, a, p in RUNNABLE)
    entries = {entry["resource"]: entry for entry in palette()}
    assert entries["arn:aws:states:::lambda:invoke"]["runnable"]
    assert entries["arn:aws:states:::lambda:invoke.waitForTaskToken"]["runnable"]
    assert not entries["arn:aws:states:::dynamodb:getItem"]["runnable"]
    assert "arn:aws:states:::states:startExecution.sync:2" in entries
    assert "arn:aws:states:::lambda:invoke.sync" not in entries
    assert all(integration(resource).recognized for resource in entries)


def test_an_express_machine_refuses_an_activity_task_at_its_resource():
    from engine import iter_problems

    definition = {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:review", "End": True}}}
    express = [(problem.path, problem.message) for problem in iter_problems(definition,
                                                                           state_machine_type="EXPRESS")]
    assert express == [("/States/A/Resource", "Express state machine does not support activities ")]
    assert list(iter_problems(definition, state_machine_type="STANDARD")) == []
