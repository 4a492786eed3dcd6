"""The designer page for one machine (/machines/<name>/design/): palette, canvas, inspector and code.

The browser (static/js/designer/) edits a draft; these views draw it, keep it and save it:
  - GET  design/         the page, with the user's draft if they have one
  - POST design/graph/   {"definition"} → {"svg"} or {"readable": false, "reason"}: the canvas
  - GET/POST design/draft/  the user's draft (any text, an invalid one too), saved as they type
  - POST design/save/    a new revision through the runtime, or 400 with the validator's problems
Validation as you type is /editor/validate/ (designer/editor_views.py), the code editor's.
"""

import json

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from designer import graph, runtime
from designer.editor_views import MAX_BODY_BYTES, MAX_DEFINITION_CHARS, with_code_editor_csp
from designer.models import Draft, StateMachine
from engine import DATA_TEST_OPERATORS, palette

CALLBACK = ".waitForTaskToken"
SYNC2 = ".sync:2"

FLOW_TYPES = ("Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")


def _resource(service: str, action: str, pattern: str = "") -> str:
    """A Resource from engine/integrations.py's palette: the designer offers only what it lists."""
    wanted = (service, action, pattern)
    entry = next(e for e in palette() if (e["service"], e["action"], e["pattern"]) == wanted)
    return entry["resource"]


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:states:{settings.STEPWISE_REGION}:{settings.STEPWISE_ACCOUNT_ID}:{kind}:{name}"


def palette_actions() -> list[dict]:
    """The palette's actions: Task templates (name, help, the state's body)."""
    callback = _resource("lambda", "invoke", CALLBACK)
    return [
        {"name": "Python function", "base": "Call function",
         "help": "Runs a Python function from STEPWISE_FUNCTIONS (as Lambda's Invoke).",
         "state": {"Type": "Task", "Resource": _resource("lambda", "invoke"),
                   "Parameters": {"FunctionName": "greet", "Payload.$": "$"},
                   "ResultSelector": {"result.$": "$.Payload"}}},
        {"name": "HTTP call", "base": "Call HTTPS API",
         "help": "Calls an HTTPS endpoint (HTTP Task).",
         "state": {"Type": "Task", "Resource": _resource("http", "invoke"),
                   "Parameters": {"ApiEndpoint": "https://example.com/api", "Method": "GET",
                                  "Authentication": {"ConnectionArn": _arn("events", "connection/api")}}}},
        {"name": "Activity", "base": "Run activity",
         "help": "Waits for a worker polling GetActivityTask to do the work.",
         "state": {"Type": "Task", "Resource": _arn("activity", "my-activity"), "TimeoutSeconds": 3600}},
        {"name": "Wait for callback", "base": "Wait for callback",
         "help": "Hands a task token to a function; waits for SendTaskSuccess or SendTaskFailure.",
         "state": {"Type": "Task", "Resource": callback,
                   "Parameters": {"FunctionName": "notify", "Payload": {"taskToken.$": "$$.Task.Token"}},
                   "TimeoutSeconds": 86400, "HeartbeatSeconds": 3600}},
        {"name": "Human approval", "base": "Ask for approval",
         "help": "Sends an approval request with the task token; the answer comes back as the output.",
         "state": {"Type": "Task", "Resource": callback,
                   "Parameters": {"FunctionName": "request_approval",
                                  "Payload": {"taskToken.$": "$$.Task.Token", "request.$": "$"}},
                   "TimeoutSeconds": 604800, "ResultPath": "$.approval"}},
        {"name": "Start another execution", "base": "Start execution",
         "help": "Starts a state machine and waits for it to finish (startExecution.sync:2).",
         "state": {"Type": "Task", "Resource": _resource("states", "startExecution", SYNC2),
                   "Parameters": {"StateMachineArn": _arn("stateMachine", "HelloWorld"),
                                  "Input.$": "$"}}},
    ]


def choice_operators() -> list[str]:
    """Every data-test operator of the engine's table, for the Choice rule editor (by family:
    BooleanEquals…, Is…, Numeric…, String…, Timestamp…)."""
    return sorted(DATA_TEST_OPERATORS)


def _draft_of(request, machine):
    return Draft.objects.filter(machine=machine, user=request.user).first()


def _body(request) -> dict | JsonResponse:
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
        return JsonResponse({"error": "The request is too big."}, status=400)
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("definition"), str):
        return JsonResponse({"error": 'The request body must be {"definition": "<text>"}.'}, status=400)
    if len(body["definition"]) > MAX_DEFINITION_CHARS:
        return JsonResponse({"error": f"A definition is at most {MAX_DEFINITION_CHARS} characters."},
                            status=400)
    return body


@with_code_editor_csp
def design(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    draft = _draft_of(request, machine)
    text = draft.definition if draft else machine.definition
    svg = graph.definition_svg(text)
    setup = {"machine": machine.name, "type": machine.type, "revision": machine.revision,
             "definition": text, "draftSaved": draft.updated.isoformat() if draft else None,
             "actions": palette_actions(), "operators": choice_operators()}
    return render(request, "designer/studio.html", {
        "machine": machine, "draft": draft, "definition": text, "setup": setup, "flow_types": FLOW_TYPES,
        "graph": mark_safe(svg) if svg else None,
    })


@require_POST
def draw(request, name):
    """The canvas: the draft drawn. A text that is not a JSON object with States keeps the page's last
    drawing (the answer says why); a readable one is drawn as far as it goes, missing targets marked."""
    get_object_or_404(StateMachine, name=name)
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    try:
        definition = json.loads(body["definition"])
    except (ValueError, RecursionError) as error:
        return JsonResponse({"readable": False, "reason": f"The definition is not valid JSON ({error})."})
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        return JsonResponse({"readable": False, "reason": "The definition has no States object."})
    svg = graph.definition_svg(definition)
    if svg is None:
        return JsonResponse({"readable": False, "reason": "Graphviz is not installed."})
    return JsonResponse({"readable": True, "svg": svg})


@require_http_methods(["GET", "POST", "DELETE"])
def draft(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    if request.method == "GET":
        found = _draft_of(request, machine)
        if found is None:
            return JsonResponse({"draft": None, "definition": machine.definition})
        return JsonResponse({"draft": True, "definition": found.definition,
                             "updated": found.updated.isoformat()})
    if request.method == "DELETE":
        Draft.objects.filter(machine=machine, user=request.user).delete()
        return JsonResponse({"draft": None, "definition": machine.definition})
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    saved, _ = Draft.objects.update_or_create(machine=machine, user=request.user,
                                              defaults={"definition": body["definition"]})
    return JsonResponse({"draft": True, "updated": saved.updated.isoformat()})


@require_POST
def save(request, name):
    """Save: a new revision (UpdateStateMachine); an invalid definition is refused with its problems
    and the draft stays."""
    machine = get_object_or_404(StateMachine, name=name)
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    try:
        machine = runtime.update_state_machine(machine, body["definition"])
    except runtime.InvalidDefinition as error:
        problems = [{"location": getattr(p, "path", None) or "", "message": getattr(p, "message", str(p)),
                     "code": getattr(p, "code", "")} for p in error.problems]
        return JsonResponse({"saved": False, "message": error.message, "problems": problems}, status=400)
    Draft.objects.filter(machine=machine, user=request.user).delete()
    return JsonResponse({"saved": True, "revision": machine.revision})
