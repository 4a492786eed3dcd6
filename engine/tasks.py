"""What a Task's resource ARN means for history: which event family AWS records, with which details.

    arn:aws:lambda:<region>:<account>:function:NAME     → LambdaFunctionScheduled/Started/Succeeded/…
    arn:aws:states:<region>:<account>:activity:NAME     → ActivityScheduled/Started/Succeeded/…
    arn:aws:states:::<service>:<action>[.sync|.waitForTaskToken] → TaskScheduled/Started/Succeeded/…
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskEvents:
    family: str  # "LambdaFunction" | "Activity" | "Task"
    resource_type: str | None  # for Task*: "lambda" in arn:aws:states:::lambda:invoke
    resource: str  # for Task*: "invoke"; otherwise the whole ARN
    region: str

    @property
    def scheduled(self) -> str:
        return f"{self.family}Scheduled"

    @property
    def started(self) -> str:
        return f"{self.family}Started"

    @property
    def succeeded(self) -> str:
        return f"{self.family}Succeeded"

    @property
    def failed(self) -> str:
        return f"{self.family}Failed"

    @property
    def timed_out(self) -> str:
        return f"{self.family}TimedOut"

    @property
    def schedule_failed(self) -> str:
        return f"{self.family}ScheduleFailed"

    def _service(self) -> dict:
        return {"resourceType": self.resource_type, "resource": self.resource}

    def scheduled_details(self, state: Any, parameters: Any, timeout: Any, heartbeat: Any) -> dict:
        if self.family == "Task":
            details = {**self._service(), "region": self.region, "parameters": parameters}
        else:
            details = {"resource": self.resource, "input": parameters, "inputDetails": {"truncated": False}}
        if timeout is not None:
            details["timeoutInSeconds"] = timeout
        if heartbeat is not None and self.family != "LambdaFunction":  # Lambda's event has no heartbeat
            details["heartbeatInSeconds"] = heartbeat
        return details

    def started_details(self, state: Any, worker_name: str | None = None) -> dict | None:
        if self.family == "Activity":
            return {"workerName": worker_name} if worker_name else None
        return self._service() if self.family == "Task" else None

    def succeeded_details(self, state: Any, output: Any) -> dict:
        details = {"output": output, "outputDetails": {"truncated": False}}
        return {**self._service(), **details} if self.family == "Task" else details

    def submitted_details(self, state: Any, output: Any) -> dict:
        return {**self._service(), "output": output, "outputDetails": {"truncated": False}}

    def failed_details(self, state: Any, error: str | None, cause: str | None) -> dict:
        details = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        return {**self._service(), **details} if self.family == "Task" else details


@cache
def task_events(resource: str, execution_region: str = "") -> TaskEvents:
    """Service integrations (`arn:aws:states:::…`) name no region: AWS records the execution's."""
    parts = resource.split(":")
    region = (parts[3] if len(parts) > 3 else "") or execution_region
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return TaskEvents("LambdaFunction", None, resource, region)
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return TaskEvents("Activity", None, resource, region)
    if len(parts) >= 7 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        return TaskEvents("Task", parts[5], ":".join(parts[6:]), region)
    return TaskEvents("Task", parts[2] if len(parts) > 2 else "unknown", resource, region)
