"""The template gallery of the New page: real, valid definitions to start a state machine from.

Each template is a definition the engine validator accepts (tests/test_gallery.py proves it), with a
name to prefill, a one-line description and an input to try it with. Task states call the example
functions (designer/example_functions.py), so the ones that need no callback run as they are.
"""

import json
from dataclasses import dataclass, field

from django.conf import settings

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
START_EXECUTION_SYNC = "arn:aws:states:::states:startExecution.sync:2"


@dataclass(frozen=True)
class Template:
    slug: str
    title: str
    description: str
    machine_name: str
    definition: dict
    machine_type: str = "STANDARD"
    sample_input: dict = field(default_factory=dict)

    def definition_text(self) -> str:
        return json.dumps(self.definition, indent=2) + "\n"


def _function(name: str) -> str:
    return f"arn:aws:lambda:{settings.STEPWISE_REGION}:{settings.STEPWISE_ACCOUNT_ID}:function:{name}"


def _machine_arn(name: str) -> str:
    return f"arn:aws:states:{settings.STEPWISE_REGION}:{settings.STEPWISE_ACCOUNT_ID}:stateMachine:{name}"


def _hello_world() -> dict:
    return {
        "Comment": "Greets someone, waits a second, and says goodbye.",
        "StartAt": "Greet",
        "States": {
            "Greet": {"Type": "Task", "Resource": _function("greet"), "ResultPath": "$.hello",
                      "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Goodbye"},
            "Goodbye": {"Type": "Pass", "Parameters": {"message.$": "$.hello.greeting", "done": True},
                        "End": True},
        },
    }


def _retry_and_catch() -> dict:
    return {
        "Comment": "Retries a flaky step with back-off; when it keeps failing, the error is caught.",
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task", "Resource": _function("fail_sometimes"),
                "Parameters": {"failure_rate": 0.6},
                "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 3,
                           "BackoffRate": 2, "JitterStrategy": "FULL"}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                "ResultPath": "$.result", "Next": "Worked",
            },
            "Recover": {"Type": "Pass", "Result": "gave up after retries", "ResultPath": "$.outcome",
                        "Next": "Failed"},
            "Failed": {"Type": "Fail", "Error": "FlakyFailed", "Cause": "The step failed after 3 retries."},
            "Worked": {"Type": "Succeed"},
        },
    }


def _parallel() -> dict:
    return {
        "Comment": "Runs two branches at once and joins their results into one array.",
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Greet", "States": {
                        "Greet": {"Type": "Task", "Resource": _function("greet"), "End": True}}},
                    {"StartAt": "Add", "States": {
                        "Add": {"Type": "Task", "Resource": LAMBDA_INVOKE,
                                "Parameters": {"FunctionName": "add", "Payload": {"numbers.$": "$.numbers"}},
                                "ResultSelector": {"sum.$": "$.Payload.sum"}, "End": True}}},
                ],
                "ResultPath": "$.results", "Next": "Join",
            },
            "Join": {"Type": "Pass",
                     "Parameters": {"greeting.$": "$.results[0].greeting", "sum.$": "$.results[1].sum"},
                     "End": True},
        },
    }


def _map_items() -> dict:
    return {
        "Comment": "Greets each person in the list, at most two at a time.",
        "StartAt": "EachPerson",
        "States": {
            "EachPerson": {
                "Type": "Map", "ItemsPath": "$.people", "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Greet",
                    "States": {"Greet": {"Type": "Task", "Resource": _function("greet"), "End": True}},
                },
                "ResultPath": "$.greetings", "End": True,
            },
        },
    }


def _distributed_map() -> dict:
    return {
        "Comment": "Adds up each batch as a child execution of its own (a Map Run), ten at a time, "
                   "tolerating 10% failures.",
        "StartAt": "EachBatch",
        "States": {
            "EachBatch": {
                "Type": "Map", "ItemsPath": "$.batches", "MaxConcurrency": 10,
                "ToleratedFailurePercentage": 10, "Label": "Batches",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Add",
                    "States": {
                        "Add": {"Type": "Task", "Resource": LAMBDA_INVOKE,
                                "Parameters": {"FunctionName": "add", "Payload": {"numbers.$": "$"}},
                                "ResultSelector": {"sum.$": "$.Payload.sum"}, "End": True},
                    },
                },
                "ResultPath": "$.sums", "End": True,
            },
        },
    }


def _wait_for_callback() -> dict:
    return {
        "Comment": "Hands a task token to a function and waits (up to a day) until someone calls "
                   "SendTaskSuccess or SendTaskFailure with it.",
        "StartAt": "WaitForCallback",
        "States": {
            "WaitForCallback": {
                "Type": "Task", "Resource": WAIT_FOR_CALLBACK,
                "Parameters": {"FunctionName": "notify",
                               "Payload": {"taskToken.$": "$$.Task.Token", "order.$": "$.order"}},
                "TimeoutSeconds": 86400, "HeartbeatSeconds": 3600,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "NoAnswer"}],
                "ResultPath": "$.callback", "Next": "Done",
            },
            "NoAnswer": {"Type": "Fail", "Error": "NoCallback", "Cause": "Nobody answered within a day."},
            "Done": {"Type": "Succeed"},
        },
    }


def _human_approval() -> dict:
    return {
        "Comment": "Asks a person to approve: the request carries the task token, the answer "
                   "({\"decision\": \"approve\"} or \"reject\") comes back with SendTaskSuccess.",
        "StartAt": "AskForApproval",
        "States": {
            "AskForApproval": {
                "Type": "Task", "Resource": WAIT_FOR_CALLBACK,
                "Parameters": {"FunctionName": "request_approval",
                               "Payload": {"taskToken.$": "$$.Task.Token", "request.$": "$.request",
                                           "execution.$": "$$.Execution.Id"}},
                "TimeoutSeconds": 604800, "ResultPath": "$.approval", "Next": "Decision",
            },
            "Decision": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.approval.decision", "StringEquals": "approve", "Next": "Approved"},
                    {"Variable": "$.approval.decision", "StringEquals": "reject", "Next": "Rejected"},
                ],
                "Default": "UnknownAnswer",
            },
            "Approved": {"Type": "Succeed"},
            "Rejected": {"Type": "Fail", "Error": "Rejected", "Cause": "The request was rejected."},
            "UnknownAnswer": {"Type": "Fail", "Error": "UnknownAnswer",
                              "Cause": "The answer was neither approve nor reject."},
        },
    }


def _nested_execution() -> dict:
    return {
        "Comment": "Starts another state machine, waits for it to finish and uses its output.",
        "StartAt": "RunChild",
        "States": {
            "RunChild": {
                "Type": "Task", "Resource": START_EXECUTION_SYNC,
                "Parameters": {
                    "StateMachineArn": _machine_arn("HelloWorld"),
                    "Input": {"name.$": "$.name",
                              "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
                },
                "ResultSelector": {"childOutput.$": "$.Output"},
                "ResultPath": "$.child", "End": True,
            },
        },
    }


def _jsonata_variables() -> dict:
    return {
        "Comment": "JSONata expressions and variables: totals an order, keeps it in a variable and "
                   "chooses on it later.",
        "QueryLanguage": "JSONata",
        "StartAt": "Total",
        "States": {
            "Total": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.items.(price * quantity)) %}",
                           "customer": "{% $states.input.customer %}"},
                "Output": {"itemCount": "{% $count($states.input.items) %}"},
                "Next": "BigOrder?",
            },
            "BigOrder?": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $total > 100 %}", "Next": "Discount"}],
                "Default": "Summary",
            },
            "Discount": {"Type": "Pass", "Assign": {"total": "{% $round($total * 0.9, 2) %}"},
                         "Next": "Summary"},
            "Summary": {
                "Type": "Pass",
                "Output": {"customer": "{% $customer %}", "total": "{% $total %}",
                           "items": "{% $states.input.itemCount %}"},
                "End": True,
            },
        },
    }


def all_templates() -> list[Template]:
    """The gallery's templates in the order the page shows them (built per call: ARNs follow settings)."""
    return [
        Template("hello-world", "Hello world", "Calls a function, waits a second and passes its greeting on.",
                 "HelloWorld", _hello_world(), sample_input={"name": "Ada"}),
        Template("retry-and-catch", "Retry and catch",
                 "Retries a flaky step with exponential back-off, then catches what still fails.",
                 "RetryAndCatch", _retry_and_catch()),
        Template("parallel", "Parallel", "Runs two branches at the same time and joins their results.",
                 "ParallelBranches", _parallel(), sample_input={"name": "Ada", "numbers": [1, 2, 3]}),
        Template("map", "Map over items", "Runs the same steps for each item of a list, two at a time.",
                 "MapOverItems", _map_items(),
                 sample_input={"people": [{"name": "Ada"}, {"name": "Grace"}, {"name": "Alan"}]}),
        Template("distributed-map", "Distributed map",
                 "Fans out over many items as child executions (a Map Run) with a failure tolerance.",
                 "DistributedMap", _distributed_map(),
                 sample_input={"batches": [[1, 2], [3, 4], [5, 6, 7]]}),
        Template("wait-for-callback", "Wait for a callback",
                 "Pauses on a task token until another system calls SendTaskSuccess with it.",
                 "WaitForCallback", _wait_for_callback(), sample_input={"order": {"id": "A-1001"}}),
        Template("human-approval", "Human approval",
                 "Sends an approval request carrying the task token, then branches on the decision.",
                 "HumanApproval", _human_approval(),
                 sample_input={"request": {"what": "Deploy to production", "by": "ada"}}),
        Template("nested-execution", "Nested execution",
                 "Starts another state machine, waits for it to finish and keeps its output.",
                 "NestedExecution", _nested_execution(), sample_input={"name": "Ada"}),
        Template("jsonata-variables", "JSONata with variables",
                 "Computes with JSONata, keeps values in variables and chooses on them later.",
                 "JsonataVariables", _jsonata_variables(),
                 sample_input={"customer": "ada", "items": [{"price": 40, "quantity": 2},
                                                            {"price": 25.5, "quantity": 1}]}),
    ]


def get_template(slug: str) -> Template | None:
    return next((template for template in all_templates() if template.slug == slug), None)
