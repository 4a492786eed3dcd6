"""The example workflow a new user creates with one click (its functions: designer/example_functions.py)."""

import json

from django.conf import settings

EXAMPLE_NAME = "HelloStepwise"
EXAMPLE_INPUT = {"name": "Ada", "numbers": [1, 2, 3]}


def example_definition() -> str:
    function = f"arn:aws:lambda:{settings.STEPWISE_REGION}:{settings.STEPWISE_ACCOUNT_ID}:function:"
    return json.dumps({
        "Comment": "Greets someone, adds their numbers, then retries a flaky step until it works.",
        "StartAt": "Greet",
        "States": {
            "Greet": {
                "Type": "Task", "Resource": function + "greet",
                "ResultPath": "$.greeting", "Next": "Add",
            },
            "Add": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "add", "Payload": {"numbers.$": "$.numbers"}},
                "ResultSelector": {"sum.$": "$.Payload.sum"}, "ResultPath": "$.total", "Next": "Pause",
            },
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Flaky"},
            "Flaky": {
                "Type": "Task", "Resource": function + "fail_sometimes",
                "Parameters": {"failure_rate": 0.5, "total.$": "$.total.sum"},
                "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 6,
                           "BackoffRate": 1.5}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "GaveUp"}],
                "ResultPath": None, "Next": "Done",
            },
            "GaveUp": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }, indent=2)
