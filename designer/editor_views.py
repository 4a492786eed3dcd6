"""The code editor's server side: validation as you type, by the validator the API uses.

The browser sends the definition as JSON text (a YAML view converts it first) and gets back the
diagnostics ValidateStateMachineDefinition would give, errors and warnings, each with its `location`
(`/States/Foo/Next`); static/js/editor.js maps a location to its place in the text.
"""

import json
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.utils.csp import CSP
from django.views.decorators.http import require_POST

from designer import api, pages
from designer.models import MachineType
from engine import MAX_PAYLOAD_BYTES

MAX_DEFINITION_CHARS = 1024 * 1024  # AWS's definition limit
MAX_BODY_BYTES = 4 * MAX_DEFINITION_CHARS + 4096  # JSON escapes may make the text up to 4x longer
INVALID_JSON = "INVALID_JSON_DESCRIPTION"


def with_code_editor_csp(view):
    """The site's Content-Security-Policy, loosened for a page with the code editor in two ways.

    CodeMirror writes its styles into <style> elements: they carry the page's nonce (`csp_nonce`,
    handed to static/js/editor.js). And Chromium's own editing of the editable text (typing over a
    selection that spans lines) writes style attributes that CodeMirror then redraws; blocked, each is
    a console error, so style attributes (only they, not <style> elements) are allowed here."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        policy = dict(settings.SECURE_CSP)
        policy["style-src"] = [*policy.get("style-src", [CSP.SELF]), CSP.NONCE]
        policy["style-src-attr"] = [CSP.UNSAFE_INLINE]
        response._csp_config = policy
        return response

    return wrapped


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


@require_POST
def validate_definition(request):
    """POST {"definition": "<JSON text>", "type": "STANDARD"|"EXPRESS"} → the validator's diagnostics.

    Logged-in users only (LoginRequiredMiddleware), with the page's CSRF token in X-CSRFToken."""
    if _content_length(request) > MAX_BODY_BYTES:
        return _bad_request(f"The request is over {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        return _bad_request("The request body is not JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("definition"), str):
        return _bad_request('The request body must be {"definition": "<the definition as JSON text>"}.')
    machine_type = body.get("type") or MachineType.STANDARD
    if machine_type not in MachineType.values:
        return _bad_request(f"type must be one of {', '.join(MachineType.values)}.")
    definition = body["definition"]
    if len(definition) > MAX_DEFINITION_CHARS:
        return JsonResponse({"result": "FAIL", "truncated": False, "diagnostics": [{
            "severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
            "message": f"The definition is {len(definition)} characters long; AWS accepts up to "
                       f"{MAX_DEFINITION_CHARS}."}]})
    try:
        answer = api.validate_state_machine_definition(
            {"definition": definition, "type": machine_type, "severity": "WARNING"})
    except RecursionError:
        # Python's json (and the validator's walk) give up on very deep nesting; AWS answers with a
        # diagnostic too, not a failure.
        return JsonResponse({"result": "FAIL", "truncated": False, "diagnostics": [{
            "severity": "ERROR", "code": INVALID_JSON,
            "message": "The definition is nested too deeply to be read."}]})
    for diagnostic in answer["diagnostics"]:
        if diagnostic["code"] == INVALID_JSON:
            diagnostic.update(_syntax_error_place(definition))
    return JsonResponse(answer)


def _syntax_error_place(text: str) -> dict:
    """Where Python's json stops reading `text`: line and column (1-based, counted in characters)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return {"line": error.lineno, "column": error.colno}
    except (ValueError, RecursionError):
        pass
    return {}


@require_POST
def check_input(request):
    """POST {"input": "<JSON text>"} → {"ok": true} or {"ok": false, "message", "line", "column"}: an
    execution's input as StartExecution's strict reader (engine.jsontext) reads it. The browser parses
    first; this catches what JSON.parse accepts and AWS does not (1e400, lone surrogates, deep nesting)."""
    if _content_length(request) > MAX_BODY_BYTES:
        return _bad_request(f"The request is over {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        return _bad_request("The request body is not JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("input"), str):
        return _bad_request('The request body must be {"input": "<the input as JSON text>"}.')
    text = body["input"].strip() or "{}"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        return JsonResponse({"ok": False, "message": f"The input is over {MAX_PAYLOAD_BYTES} bytes "
                                                     "(256 KiB), the most StartExecution accepts."})
    problem = pages.input_problem(text)
    if problem is None:
        return JsonResponse({"ok": True})
    return JsonResponse({"ok": False, "message": problem, **_syntax_error_place(text)})
