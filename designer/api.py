"""The AWS Step Functions API (AWS JSON 1.0 protocol), so boto3, the AWS CLI and the SDKs work with
`endpoint_url` pointed at Stepwise.

    POST /    X-Amz-Target: AWSStepFunctions.<Operation>    Content-Type: application/x-amz-json-1.0

Every request is authenticated with Signature Version 4 (designer/sigv4.py) against a user's access
key; session cookies are never looked at, which is also why the endpoint is exempt from CSRF. The body
is checked against botocore's own `stepfunctions` model (required members, types, lengths, ranges,
enums), so a request that boto3 would not send gets the error AWS would give. Errors are
`{"__type": <code>, "message": ...}` with HTTP 400, which boto3 raises as `client.exceptions.<code>`.

Handlers read a checked request dict and return the response dict; state changes go through
the runtime (designer/runtime/). Timestamps leave as epoch seconds, as the JSON protocol carries them. The
checks, pages and lookups they share are in designer/api_shapes.py; versions, aliases and tags are
handled in designer/api_versions.py.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required, login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from designer import runtime, sigv4
from designer.api_shapes import (
    LOGGING_OFF,
    TRACING_OFF,
    ApiError,
    checked_input,
    checked_role_arn,
    execution_by_arn,
    json_default,
    origin_of,
    paged,
    resolve_target,
    routed_version,
    service_model,
    unqualified_machine,
    without_nulls,
)
from designer.api_versions import (
    create_state_machine_alias,
    delete_state_machine_alias,
    delete_state_machine_version,
    describe_state_machine_alias,
    list_state_machine_aliases,
    list_state_machine_versions,
    list_tags_for_resource,
    publish_state_machine_version,
    tag_resource,
    tags_in,
    untag_resource,
    update_state_machine_alias,
)
from designer.models import (
    AccessKey,
    Activity,
    Execution,
    ExecutionOrigin,
    HistoryEvent,
    MachineType,
    MapRun,
    StateMachine,
    arn,
)
from engine import jsontext

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSStepFunctions."
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_REQUEST_BYTES = 1024 * 1024  # AWS: 1 MB a request
ISSUE_LATER = "https://github.com/stepwise issue 'Activities, task tokens and service integrations'"


# -- state machines --------------------------------------------------------------------------------
def create_state_machine(request: dict) -> dict:
    tags = tags_in(request.get("tags") or [])
    runtime.check_tag_count(len(tags))
    with transaction.atomic():
        machine = runtime.create_state_machine(
            request["name"], request["definition"], request.get("type") or MachineType.STANDARD,
            checked_role_arn(request["roleArn"]))
        runtime.tag_machine(machine, tags)
        publish = request.get("publish")
        version = runtime.publish_version(machine, request.get("versionDescription")) if publish else None
    return without_nulls({"stateMachineArn": machine.arn, "creationDate": machine.created,
                          "stateMachineVersionArn": version.arn if version else None})


def describe_state_machine(request: dict) -> dict:
    machine, version, alias = resolve_target(request["stateMachineArn"])
    if alias is not None:
        raise ApiError("InvalidArn", f"Invalid Arn: '{alias.arn}': describe an alias with "
                       "DescribeStateMachineAlias")
    described = {
        "stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE",
        "definition": machine.definition, "roleArn": machine.role_arn, "type": machine.type,
        "creationDate": machine.created, "loggingConfiguration": LOGGING_OFF,
        "tracingConfiguration": TRACING_OFF, "revisionId": str(machine.revision),
    }
    if version is not None:
        described.update(stateMachineArn=version.arn, definition=version.revision.definition,
                         creationDate=version.created, revisionId=str(version.revision.number))
        if version.description:
            described["description"] = version.description
    return described


def list_state_machines(request: dict) -> dict:
    return paged(StateMachine.objects.order_by("name"), request, "stateMachines", lambda machine: {
        "stateMachineArn": machine.arn, "name": machine.name, "type": machine.type,
        "creationDate": machine.created,
    })


def update_state_machine(request: dict) -> dict:
    if not any(request.get(field) is not None for field in
               ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")):
        raise ApiError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                       "LoggingConfiguration, or the TracingConfiguration must be specified")
    machine = unqualified_machine(request["stateMachineArn"])
    with transaction.atomic():
        machine = runtime.update_state_machine(machine, request.get("definition"),
                                               checked_role_arn(request.get("roleArn")))
        publish = request.get("publish")
        version = runtime.publish_version(machine, request.get("versionDescription")) if publish else None
    return without_nulls({"updateDate": machine.updated, "revisionId": str(machine.revision),
                          "stateMachineVersionArn": version.arn if version else None})


def delete_state_machine(request: dict) -> dict:
    try:
        machine = unqualified_machine(request["stateMachineArn"])
    except runtime.StateMachineDoesNotExist:
        return {}  # AWS: deleting a machine that does not exist succeeds
    runtime.delete_state_machine(machine)
    return {}


def describe_state_machine_for_execution(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    machine = execution.machine
    origin = origin_of(execution)
    described = {
        "stateMachineArn": origin.version_arn if origin else machine.arn, "name": machine.name,
        "definition": execution.revision.definition,
        "roleArn": machine.role_arn, "updateDate": execution.revision.created,
        "loggingConfiguration": LOGGING_OFF, "tracingConfiguration": TRACING_OFF,
        "revisionId": str(execution.revision.number),
    }
    if execution.map_run_id is not None:  # a Map Run's child runs the Map's ItemProcessor
        map_run = execution.map_run
        described.update(stateMachineArn=execution.state_machine_arn, name=f"{machine.name}/{map_run.label}",
                         definition=map_run.definition, mapRunArn=map_run.arn, label=map_run.label)
    return described


def validate_state_machine_definition(request: dict) -> dict:
    from engine import iter_problems

    machine_type = request.get("type") or MachineType.STANDARD
    wanted = {"ERROR"} if (request.get("severity") or "ERROR") == "ERROR" else {"ERROR", "WARNING"}
    limit = request.get("maxResults") or 100
    problems = list(iter_problems(request["definition"], state_machine_type=machine_type))
    shown = [problem for problem in problems if problem.severity in wanted]
    diagnostics = [without_nulls({"severity": problem.severity, "code": problem.code,
                                  "message": problem.message, "location": problem.path})
                   for problem in shown[:limit]]
    failed = any(problem.severity == "ERROR" for problem in problems)
    return {"result": "FAIL" if failed else "OK", "diagnostics": diagnostics, "truncated": len(shown) > limit}


# -- executions ------------------------------------------------------------------------------------
def _start_target(request: dict):
    """(machine, version, alias) an execution starts with; an alias picks one of its versions."""
    machine, version, alias = resolve_target(request["stateMachineArn"], runtime.StateMachineDoesNotExist)
    if alias is not None:
        version = routed_version(alias)
    return machine, version, alias


def _record_origin(execution: Execution, version, alias) -> None:
    if version is not None:
        ExecutionOrigin.objects.get_or_create(execution=execution, defaults={
            "version_arn": version.arn, "alias_arn": alias.arn if alias else ""})


def start_execution(request: dict) -> dict:
    machine, version, alias = _start_target(request)
    if version is None:  # nothing to record beside it: the runtime's own transaction is short
        execution = runtime.start_execution(machine, request.get("input"), request.get("name"))
    else:
        with transaction.atomic():
            execution = runtime.start_execution(machine, request.get("input"), request.get("name"),
                                                revision=version.revision)
            _record_origin(execution, version, alias)
    return {"executionArn": execution.arn, "startDate": execution.start_date}


def start_sync_execution(request: dict) -> dict:
    machine, version, alias = _start_target(request)
    execution = runtime.start_sync_express(machine, request.get("input"), request.get("name"),
                                           revision=version.revision if version else None)
    _record_origin(execution, version, alias)
    duration_ms = (execution.stop_date - execution.start_date).total_seconds() * 1000
    return without_nulls({
        "executionArn": execution.arn, "stateMachineArn": request["stateMachineArn"], "name": execution.name,
        "startDate": execution.start_date, "stopDate": execution.stop_date, "status": execution.status,
        "error": execution.error, "cause": execution.cause,
        "input": execution.input, "inputDetails": {"included": True},
        "output": execution.output,
        "outputDetails": {"included": True} if execution.output is not None else None,
        "traceHeader": request.get("traceHeader"),
        # AWS bills in 100 ms steps with at least 64 MB of memory.
        "billingDetails": {"billedMemoryUsedInMB": 64,
                           "billedDurationInMilliseconds": max(100, math.ceil(duration_ms / 100) * 100)},
    })


def _redrive_status(execution: Execution) -> tuple[str, str | None]:
    reason = runtime.redrive_problem(execution)
    return ("NOT_REDRIVABLE", reason) if reason else ("REDRIVABLE", None)


def _origin_fields(execution: Execution) -> dict:
    origin = origin_of(execution)
    if origin is None:
        return {}
    return without_nulls({"stateMachineVersionArn": origin.version_arn,
                          "stateMachineAliasArn": origin.alias_arn or None})


def describe_execution(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    data = execution.to_dict()
    status, reason = _redrive_status(execution)
    data["redriveStatus"] = status
    if reason:
        data["redriveStatusReason"] = reason
    data.update(_origin_fields(execution))
    return data


def _execution_item(execution: Execution) -> dict:
    return without_nulls({
        "executionArn": execution.arn, "stateMachineArn": execution.state_machine_arn, "name": execution.name,
        "status": execution.status, "startDate": execution.start_date, "stopDate": execution.stop_date,
        "redriveCount": execution.redrive_count, "redriveDate": execution.redrive_date,
        **_origin_fields(execution),
        "mapRunArn": execution.map_run.arn if execution.map_run_id else None,
        "itemCount": 1 if execution.map_run_id else None,
    })


def list_executions(request: dict) -> dict:
    if request.get("mapRunArn") and request.get("stateMachineArn"):
        raise ApiError("ValidationException", "Must provide only one of StateMachine ARN or MapRun ARN")
    if request.get("mapRunArn"):
        return _list_map_run_executions(request)
    if not request.get("stateMachineArn"):
        raise ApiError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
    machine, version, alias = resolve_target(request["stateMachineArn"])
    if machine.type == MachineType.EXPRESS:
        raise runtime.StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine")
    executions = Execution.objects.of_machine(machine).top_level().select_related("machine", "origin")
    if alias is not None:
        executions = executions.filter(origin__alias_arn=alias.arn)
    elif version is not None:
        executions = executions.filter(origin__version_arn=version.arn)
    executions = executions.listed(request.get("statusFilter"), request.get("redriveFilter"))
    return paged(executions, request, "executions", _execution_item)


def _list_map_run_executions(request: dict) -> dict:
    """ListExecutions of a Map Run: its child executions."""
    map_run = _map_run(request["mapRunArn"])
    executions = (Execution.objects.filter(map_run=map_run).select_related("machine", "map_run", "origin")
                  .listed(request.get("statusFilter"), request.get("redriveFilter")))
    return paged(executions, request, "executions", _execution_item)


def get_execution_history(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    if execution.type == MachineType.EXPRESS:
        raise ApiError("InvalidArn", f"Invalid Arn: '{execution.arn}': Express executions keep no history "
                       "(GetExecutionHistory is not supported by EXPRESS state machines)")
    include_data = request.get("includeExecutionData", True)
    order = "-seq" if request.get("reverseOrder") else "seq"
    events = HistoryEvent.objects.filter(execution=execution).order_by(order)

    def item(event: HistoryEvent) -> dict:
        data = event.to_aws()
        if not include_data:
            for key, details in data.items():
                if key.endswith("EventDetails") and isinstance(details, dict):
                    for field in ("input", "output", "parameters"):
                        details.pop(field, None)
        return data

    return paged(events, request, "events", item)


def stop_execution(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    execution = runtime.stop_execution(execution, request.get("error"), request.get("cause"))
    return {"stopDate": execution.stop_date}


def redrive_execution(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    execution = runtime.redrive_execution(execution)
    return {"redriveDate": execution.redrive_date}


# -- Map Runs (a DISTRIBUTED Map's child executions) ------------------------------------------------
def _map_run(map_run_arn: str) -> MapRun:
    if not map_run_arn.startswith(arn("mapRun", "")):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {map_run_arn}'")
    try:
        return runtime.get_map_run(map_run_arn)
    except runtime.ResourceNotFound as error:
        raise ApiError("ResourceNotFound", error.message) from None


def describe_map_run(request: dict) -> dict:
    return _map_run(request["mapRunArn"]).to_dict()


def list_map_runs(request: dict) -> dict:
    execution = execution_by_arn(request["executionArn"])
    map_runs = (MapRun.objects.filter(execution=execution).select_related("execution__machine")
                .order_by("-start_date", "-id"))
    return paged(map_runs, request, "mapRuns", lambda map_run: without_nulls({
        "executionArn": execution.arn, "mapRunArn": map_run.arn,
        "stateMachineArn": map_run.state_machine_arn, "startDate": map_run.start_date,
        "stopDate": map_run.stop_date}))


def update_map_run(request: dict) -> dict:
    changes = {field: request.get(field) for field in
               ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")}
    if all(value is None for value in changes.values()):
        raise ApiError("ValidationException", "At least one of the parameters maxConcurrency, "
                       "toleratedFailureCount or toleratedFailurePercentage must be specified")
    map_run = _map_run(request["mapRunArn"])
    runtime.update_map_run(map_run, changes["maxConcurrency"], changes["toleratedFailureCount"],
                           changes["toleratedFailurePercentage"])
    return {}


# -- callbacks (task tokens) -----------------------------------------------------------------------
def send_task_success(request: dict) -> dict:
    runtime.send_task_success(request["taskToken"], request["output"])
    return {}


def send_task_failure(request: dict) -> dict:
    runtime.send_task_failure(request["taskToken"], request.get("error"), request.get("cause"))
    return {}


def send_task_heartbeat(request: dict) -> dict:
    runtime.send_task_heartbeat(request["taskToken"])
    return {}


# -- activities ------------------------------------------------------------------------------------
def create_activity(request: dict) -> dict:
    activity = runtime.create_activity(request["name"], tags_in(request.get("tags") or []))
    return {"activityArn": activity.arn, "creationDate": activity.created}


def describe_activity(request: dict) -> dict:
    activity = runtime.get_activity(request["activityArn"])
    return {"activityArn": activity.arn, "name": activity.name, "creationDate": activity.created}


def list_activities(request: dict) -> dict:
    return paged(Activity.objects.order_by("name"), request, "activities", lambda activity: {
        "activityArn": activity.arn, "name": activity.name, "creationDate": activity.created})


def delete_activity(request: dict) -> dict:
    runtime.delete_activity(request["activityArn"])
    return {}


def get_activity_task(request: dict) -> dict:
    """One claim attempt, answered at once: the ASGI entry (designer/api_asgi.py) is what waits up to
    STEPWISE_ACTIVITY_POLL_SECONDS between attempts. This is the way for a caller without it (a WSGI
    server, the test client): no task now is the empty answer, which AWS's long poll also ends with."""
    claimed = poll_once(request)
    return {} if claimed is None else {"taskToken": claimed[0], "input": claimed[1]}


def poll_once(request: dict) -> tuple[str, str] | None:
    activity = runtime.get_activity(request["activityArn"])
    return runtime.claim_activity_task(activity.arn, request.get("workerName"))


# -- TestState -------------------------------------------------------------------------------------
def test_state(request: dict) -> dict:
    from designer.teststate import test_state as run_test_state

    return run_test_state(request)


# -- operations Stepwise does not honour yet -------------------------------------------------------
def _not_yet(what: str) -> ApiError:
    return ApiError("UnsupportedOperation", f"{what} is not supported by Stepwise yet.")


NOT_YET: dict[str, str] = {}

HANDLERS: dict[str, Callable[[dict], dict]] = {
    "CreateStateMachine": create_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "ListStateMachines": list_state_machines,
    "UpdateStateMachine": update_state_machine,
    "DeleteStateMachine": delete_state_machine,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "ValidateStateMachineDefinition": validate_state_machine_definition,
    "PublishStateMachineVersion": publish_state_machine_version,
    "ListStateMachineVersions": list_state_machine_versions,
    "DeleteStateMachineVersion": delete_state_machine_version,
    "CreateStateMachineAlias": create_state_machine_alias,
    "DescribeStateMachineAlias": describe_state_machine_alias,
    "UpdateStateMachineAlias": update_state_machine_alias,
    "DeleteStateMachineAlias": delete_state_machine_alias,
    "ListStateMachineAliases": list_state_machine_aliases,
    "StartExecution": start_execution,
    "StartSyncExecution": start_sync_execution,
    "DescribeExecution": describe_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "StopExecution": stop_execution,
    "RedriveExecution": redrive_execution,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "TestState": test_state,
    "DescribeMapRun": describe_map_run,
    "ListMapRuns": list_map_runs,
    "UpdateMapRun": update_map_run,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
    "CreateActivity": create_activity,
    "DescribeActivity": describe_activity,
    "ListActivities": list_activities,
    "DeleteActivity": delete_activity,
    "GetActivityTask": get_activity_task,
}


# -- the endpoint ----------------------------------------------------------------------------------
def _respond(data: dict, status: int = 200) -> HttpResponse:
    body = json.dumps(data, default=json_default, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body, status=status, content_type=CONTENT_TYPE)


def _error(error: ApiError) -> HttpResponse:
    return _respond({"__type": error.code, "message": error.message}, error.status)


def checked_call(request: HttpRequest) -> HttpResponse | tuple[str, dict]:
    """Authenticate, parse and check one API call: (operation, checked request), or the error answer."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        return _error(ApiError("ValidationException", f"Request size {length} bytes exceeds the limit of "
                               f"{MAX_REQUEST_BYTES} bytes"))
    body = request.body
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        sigv4.verify(request.method, request.path, request.META.get("QUERY_STRING", ""), headers, body,
                     AccessKey.find_active)
    except sigv4.AuthError as error:
        return _error(ApiError(error.code, error.message))
    target = headers.get("x-amz-target", "")
    operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
    if operation is None or operation not in service_model()["operations"]:
        return _error(ApiError("UnknownOperationException", f"Unknown operation: '{target}'"))
    try:
        try:
            payload = jsontext.loads(body or b"{}")
        except jsontext.JsonTextError as error:
            # AWS's deserializer answers SerializationException; a lone surrogate reads as JSON there
            # and then fails a member's constraint.
            code = "ValidationException" if error.reason == jsontext.SURROGATE else "SerializationException"
            raise ApiError(code, f"The request body is not valid JSON: {error}") from None
        if operation not in HANDLERS:
            raise _not_yet(f"{operation} ({NOT_YET.get(operation, 'this operation')})")
        return operation, checked_input(operation, payload)
    except ApiError as error:
        return _error(error)


def answered(operation: str, call: Callable[[], dict]) -> HttpResponse:
    """Run an operation's handler and answer its result or its error as AWS would."""
    try:
        return _respond(call())
    except ApiError as error:
        return _error(error)
    except runtime.StepwiseError as error:
        return _error(ApiError(error.code, error.message))
    except Exception:
        log.exception("API %s failed", operation)
        return _error(ApiError("InternalFailure", "The request processing has failed because of an "
                               "unknown error, exception or failure.", status=500))


def handle(request: HttpRequest) -> HttpResponse:
    """One API call: authenticate, parse, check, run the operation's handler, answer."""
    checked = checked_call(request)
    if isinstance(checked, HttpResponse):
        return checked
    operation, payload = checked
    return answered(operation, lambda: HANDLERS[operation](payload))


def is_api_request(request: HttpRequest) -> bool:
    return request.method == "POST"


@csrf_exempt
@login_not_required
def root(request: HttpRequest) -> HttpResponse:
    """`/`: the API for POSTs (authenticated by signature only), the dashboard for browsers.

    Under ASGI each request's sync code runs in a thread of its own (Django's ThreadSensitiveContext),
    so a StartSyncExecution that runs for minutes holds up neither other calls nor the pages."""
    if is_api_request(request):
        return handle(request)
    from designer.views import dashboard

    return login_required(dashboard)(request)
