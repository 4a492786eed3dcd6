"""AWS's optimized service integrations: the one table of what a Task's `arn:aws:states:::` Resource may
name, read by the validator (engine/validate.py), the Task runner (designer/functions.py) and the
designer's palette.

    arn:<partition>:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]
    arn:<partition>:states:::aws-sdk:<service>:<apiAction>[.waitForTaskToken]

From the developer guide's "Integrating optimized services with Step Functions": each service's
actions, and which of them can run a job (`.sync`, and `.sync:2` for Step Functions' own
startExecution) or wait for a callback (`.waitForTaskToken`). AWS SDK integrations reach "over two
hundred services": any service and action, request-response or callback, never `.sync`.
Anything else in that namespace (`dynamodb:query`, whose only integration is
`aws-sdk:dynamodb:query`) is refused when the state machine is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYNC = ".sync"
SYNC2 = ".sync:2"
CALLBACK = ".waitForTaskToken"


@dataclass(frozen=True, slots=True)
class Action:
    """One action of an optimized integration and the integration patterns it accepts."""

    sync: bool = False
    callback: bool = False
    sync2: bool = False

    def accepts(self, pattern: str) -> bool:
        return (pattern == "" or (pattern == SYNC and self.sync) or (pattern == SYNC2 and self.sync2)
                or (pattern == CALLBACK and self.callback))


_RR = Action()
_JOB = Action(sync=True)
_CB = Action(callback=True)
_JOB_CB = Action(sync=True, callback=True)

OPTIMIZED: dict[str, dict[str, Action]] = {
    "apigateway": {"invoke": _CB},
    "athena": {"startQueryExecution": _JOB, "stopQueryExecution": _RR, "getQueryExecution": _RR,
               "getQueryResults": _RR},
    "batch": {"submitJob": _JOB},
    "bedrock": {"invokeModel": _RR, "createModelCustomizationJob": _JOB_CB},
    "codebuild": {"startBuild": _JOB, "stopBuild": _RR, "batchDeleteBuilds": _RR, "batchGetReports": _RR,
                  "startBuildBatch": _JOB, "retryBuild": _JOB, "retryBuildBatch": _JOB,
                  "stopBuildBatch": _RR, "deleteBuildBatch": _RR},
    "dynamodb": {"getItem": _RR, "putItem": _RR, "updateItem": _RR, "deleteItem": _RR},
    "ecs": {"runTask": _JOB_CB},
    "eks": {"createCluster": _JOB, "deleteCluster": _JOB, "createFargateProfile": _JOB,
            "deleteFargateProfile": _JOB, "createNodegroup": _JOB, "deleteNodegroup": _JOB,
            "runJob": _JOB_CB, "call": _CB},
    "elasticmapreduce": {"createCluster": _JOB, "terminateCluster": _JOB, "addStep": _JOB, "cancelStep": _RR,
                         "setClusterTerminationProtection": _RR, "modifyInstanceFleetByName": _RR,
                         "modifyInstanceGroupByName": _RR},
    "emr-containers": {"createVirtualCluster": _RR, "deleteVirtualCluster": _JOB, "startJobRun": _JOB},
    "emr-serverless": {"createApplication": _JOB, "startApplication": _JOB, "stopApplication": _JOB,
                       "deleteApplication": _JOB, "startJobRun": _JOB, "cancelJobRun": _JOB},
    "events": {"putEvents": _CB},
    "glue": {"startJobRun": _JOB},
    "databrew": {"startJobRun": _JOB},
    "http": {"invoke": _RR},
    "lambda": {"invoke": _CB},
    "mediaconvert": {"createJob": _JOB},
    "sagemaker": {"createEndpoint": _RR, "createEndpointConfig": _RR, "createHyperParameterTuningJob": _JOB,
                  "createLabelingJob": _JOB, "createModel": _RR, "createProcessingJob": _JOB,
                  "createTrainingJob": _JOB, "createTransformJob": _JOB, "updateEndpoint": _RR},
    "sns": {"publish": _CB},
    "sqs": {"sendMessage": _CB},
    "states": {"startExecution": Action(sync=True, sync2=True, callback=True)},
    # Stepwise's own, not AWS's: a human approval (designer/runtime/approvals.py), callback only.
    "stepwise": {"approval": _CB},
}

# The integrations Stepwise runs today (designer/functions.py answers them; the engine parks a
# callback until SendTaskSuccess). Every other accepted Resource fails when the Task runs.
RUNNABLE = frozenset({("lambda", "invoke", ""), ("lambda", "invoke", CALLBACK),
                      ("stepwise", "approval", CALLBACK)})

_SERVICE_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):states:::(?P<rest>.+)")
_PATTERN = re.compile(r"(?P<name>.*?)(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?")
_SDK_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
_SDK_ACTION = re.compile(r"[a-z][A-Za-z0-9]*")


@dataclass(frozen=True, slots=True)
class Integration:
    """A Resource in the `arn:<partition>:states:::` namespace, read."""

    service: str  # "dynamodb", or "aws-sdk:dynamodb" for an SDK integration
    action: str
    pattern: str  # "", ".sync", ".sync:2" or ".waitForTaskToken"
    recognized: bool  # AWS accepts it in a state machine

    @property
    def runnable(self) -> bool:
        return (self.service, self.action, self.pattern) in RUNNABLE


def integration(resource: str) -> Integration | None:
    """The service integration `resource` names, or None when it is not in that namespace (a Lambda
    function ARN, an activity ARN, ...)."""
    match = _SERVICE_ARN.fullmatch(resource) if isinstance(resource, str) else None
    if match is None:
        return None
    named = _PATTERN.fullmatch(match["rest"])
    name, pattern = named["name"], named["pattern"] or ""
    parts = name.split(":")
    if parts[0] == "aws-sdk":
        recognized = (len(parts) == 3 and _SDK_NAME.fullmatch(parts[1]) is not None
                      and _SDK_ACTION.fullmatch(parts[2]) is not None and pattern in ("", CALLBACK))
        service = ":".join(parts[:2])
        return Integration(service, parts[-1] if len(parts) > 1 else "", pattern, recognized)
    if len(parts) != 2:
        return Integration(parts[0], ":".join(parts[1:]), pattern, False)
    service, action = parts
    known = OPTIMIZED.get(service, {}).get(action)
    return Integration(service, action, pattern, known is not None and known.accepts(pattern))


def not_recognized(resource: str) -> str:
    """AWS's words for a Resource it does not know (SCHEMA_VALIDATION_FAILED, at .../Resource)."""
    return (f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, "
            "or the resource is not available in this region.")


def palette() -> list[dict]:
    """Every optimized integration Resource a Task may name, for the designer's palette."""
    entries = []
    for service, actions in OPTIMIZED.items():
        for action, spec in actions.items():
            allowed = ((SYNC, spec.sync), (SYNC2, spec.sync2), (CALLBACK, spec.callback))
            patterns = [""] + [pattern for pattern, ok in allowed if ok]
            for pattern in patterns:
                entries.append({"service": service, "action": action, "pattern": pattern,
                                "resource": f"arn:aws:states:::{service}:{action}{pattern}",
                                "runnable": (service, action, pattern) in RUNNABLE})
    return entries
