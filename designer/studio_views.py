"""The designer page for one machine (/machines/<name>/design/): palette, canvas, inspector and code.

The browser (static/js/designer/) edits a draft; these views draw it, keep it and save it:
  - GET  design/         the page, with the user's draft if they have one
  - POST design/graph/   {"definition"} → {"svg"} or {"readable": false, "reason"}: the canvas
  - GET/POST design/draft/  the user's draft (any text, an invalid one too), saved as they type
  - POST design/save/    a new revision through the runtime, or 400 with the validator's problems
  - POST design/test/    Test this state: the API's TestState on the draft
  - GET/POST design/export/<json|yaml|svg>/  a download of the saved definition or the posted draft
Validation as you type is /editor/validate/ (designer/editor_views.py), the code editor's.
"""

import json
import re

import yaml
from django.conf import settings
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from designer import graph, runtime
from designer.editor_views import MAX_BODY_BYTES, MAX_DEFINITION_CHARS, with_code_editor_csp
from designer.models import Draft, StateMachine
from designer.runtime.errors import StepwiseError
from designer.teststate import test_state
from engine import DATA_TEST_OPERATORS, jsontext, palette

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


# -- Test this state -------------------------------------------------------------------------------
TEST_FIELDS = ("stateName", "input", "variables", "mock", "inspectionLevel", "context")


@require_POST
def test_one_state(request, name):
    """Test this state: the API's TestState (designer/teststate.py) on the draft, as JSON. The answer is
    the API's (status, output, nextState, error, cause, inspectionData); a request it refuses comes back
    with 400 and its AWS error code and message, so the inspector shows it like a result."""
    get_object_or_404(StateMachine, name=name)
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    test = {key: body[key] for key in TEST_FIELDS if body.get(key) not in (None, "")}
    test["definition"] = body["definition"]
    test.setdefault("inspectionLevel", "DEBUG")
    try:
        answer = test_state(test)
    except StepwiseError as error:
        problems = [getattr(p, "message", str(p)) for p in getattr(error, "problems", ())]
        return JsonResponse({"error": error.code, "message": error.message, "problems": problems}, status=400)
    except (KeyError, TypeError, AttributeError) as error:  # a mock or configuration of the wrong shape
        return JsonResponse({"error": "ValidationException", "message": f"Malformed request: {error}"},
                            status=400)
    return JsonResponse(answer)


# -- Export ----------------------------------------------------------------------------------------
EXPORT_TYPES = {"json": "application/json", "yaml": "application/yaml", "svg": "image/svg+xml"}


def export(request, name, kind):
    """The ASL as JSON or YAML, or the graph as SVG, as a download. GET exports the saved definition
    (or ?revision=N); the designer POSTs its draft's text (a form field) to export what it shows."""
    machine = get_object_or_404(StateMachine, name=name)
    if kind not in EXPORT_TYPES:
        raise Http404("No such export format.")
    if request.method == "POST":
        text = request.POST.get("definition", "")
        if len(text) > MAX_DEFINITION_CHARS:
            return HttpResponseBadRequest("The definition is too long.")
        suffix = "-draft"
    elif request.method == "GET":
        number = request.GET.get("revision")
        revision = (get_object_or_404(machine.revisions, number=number) if number and number.isdigit()
                    else machine.current_revision())
        text, suffix = revision.definition, f"-r{revision.number}"
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        definition = jsontext.loads(text)
    except jsontext.JsonTextError as error:
        return HttpResponseBadRequest(f"The definition is not valid JSON, so it cannot be exported: {error}",
                                      content_type="text/plain")
    if kind == "json":
        content = json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    elif kind == "yaml":
        # safe_dump quotes what YAML 1.1 readers would turn into booleans (no, on, yes).
        content = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=1_000_000)
    else:
        content = graph.definition_svg(definition)
        if content is None:
            return HttpResponse("Graphviz is not installed.", status=503, content_type="text/plain")
    response = HttpResponse(content, content_type=f"{EXPORT_TYPES[kind]}; charset=utf-8")
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", machine.name) + suffix
    response["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    return response
