"""AWS-shaped history events as plain dicts.

An event is `{"type", "id", "previousEventId", "timestamp", "<detailsKey>": {...}}` exactly as
GetExecutionHistory returns it, except that `timestamp` is epoch seconds (a float) and `input`/`output`
/`parameters` hold the JSON *value*, not its text: values are immutable in the engine, so keeping a
reference costs nothing, and the text is made only when someone asks (`to_aws`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.jsontext import json_text

# Which details key AWS uses for each event type. Types missing here carry no details.
DETAILS_KEY = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionRedriven": "executionRedrivenEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "MapRunRedriven": "mapRunRedrivenEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}

STATE_EVENT_PREFIX = {
    "Pass": "Pass", "Task": "Task", "Choice": "Choice", "Wait": "Wait", "Succeed": "Succeed",
    "Fail": "Fail", "Parallel": "Parallel", "Map": "Map",
}
ENTERED = {kind: f"{prefix}StateEntered" for kind, prefix in STATE_EVENT_PREFIX.items()}
EXITED = {kind: f"{prefix}StateExited" for kind, prefix in STATE_EVENT_PREFIX.items() if kind != "Fail"}
ABORTED = {kind: f"{prefix}StateAborted" for kind, prefix in STATE_EVENT_PREFIX.items()}

_TEXT_FIELDS = ("input", "output", "parameters")


DETAILS_KEY.update(dict.fromkeys(ENTERED.values(), "stateEnteredEventDetails"))
DETAILS_KEY.update(dict.fromkeys(EXITED.values(), "stateExitedEventDetails"))


def details_key(event_type: str) -> str | None:
    return DETAILS_KEY.get(event_type)


def make_event(event_type: str, event_id: int, previous_id: int, timestamp: float, details: dict | None):
    event = {"type": event_type, "id": event_id, "previousEventId": previous_id, "timestamp": timestamp}
    if details is not None:
        key = DETAILS_KEY.get(event_type)
        if key is not None:
            event[key] = details
    return event


def to_aws(event: dict) -> dict:
    """The event as GetExecutionHistory returns it: JSON text payloads and a datetime timestamp."""
    out = dict(event)
    out["timestamp"] = datetime.fromtimestamp(event["timestamp"], UTC)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = dict(value)
            for field in _TEXT_FIELDS:
                if field in details:
                    details[field] = json_text(details[field])
                    if field != "parameters":  # TaskScheduled has no parametersDetails
                        details.setdefault(f"{field}Details", {"truncated": False})
            if "assignedVariables" in details:
                details["assignedVariables"] = {
                    name: json_text(v) for name, v in details["assignedVariables"].items()
                }
            out[key] = details
    return out


def reduced(event: dict) -> dict:
    """`{"type", "name"}` as the conformance corpus records events."""
    name = None
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            candidate = value.get("name")
            if isinstance(candidate, str):
                name = candidate
            break
    return {"type": event["type"], "name": name}
