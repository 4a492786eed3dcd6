"""Example functions for Task states, registered whenever Stepwise runs functions.

Call them from a state machine as you would call Lambda functions (the region and account in the
ARN are not checked; the name after `function:` picks the function):

    {"StartAt": "Greet", "States": {
      "Greet": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet",
                "Next": "Add"},
      "Add": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "add", "Payload": {"numbers": [1, 2, 3]}},
              "ResultSelector": {"sum.$": "$.Payload.sum"}, "ResultPath": "$.total", "Next": "Flaky"},
      "Flaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fail_sometimes",
                "Parameters": {"failure_rate": 0.5},
                "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 5}],
                "End": true}}}

Your own functions go in any importable module named in STEPWISE_FUNCTIONS; see designer/functions.py.
"""

from __future__ import annotations

import random

from designer.functions import register


class TransientError(Exception):
    """A failure worth retrying: the Task's error name is the class name, "TransientError"."""


@register("greet")
def greet(event, context):
    """{"name": "Ada"} → {"greeting": "Hello, Ada!"} (the name defaults to "world")."""
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"greeting": f"Hello, {name}!"}


@register("add")
def add(event, context):
    """{"numbers": [1, 2, 3]} → {"sum": 6}; anything that is not a list of numbers raises ValueError."""
    numbers = event.get("numbers") if isinstance(event, dict) else event
    if not isinstance(numbers, list) or not all(
            isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        raise ValueError("add expects {\"numbers\": [<number>, ...]}")
    return {"sum": sum(numbers)}


@register("fail_sometimes")
def fail_sometimes(event, context):
    """Raises TransientError with probability `failure_rate` (default 0.5), else echoes its input:
    a function to try Retry and Catch on."""
    rate = event.get("failure_rate", 0.5) if isinstance(event, dict) else 0.5
    if random.random() < rate:
        raise TransientError(f"transient failure (failure_rate {rate})")
    return event
