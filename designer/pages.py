"""Pages for state machines and executions: thin views over the runtime (designer/runtime/).

Every state change goes through runtime; these views only gather what a template shows.
"""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from designer import definition_files, execution_views, graph, runtime
from designer.documents import attachment, show
from designer.examples import EXAMPLE_INPUT, EXAMPLE_NAME, example_definition
from designer.models import Execution, HistoryEvent, MachineType, StateMachine, TaskToken
from designer.templates_gallery import all_templates, get_template
from engine import iter_problems, jsontext

MAX_UPLOAD_BYTES = 1024 * 1024  # AWS's definition limit is 1 MiB
MAP_RUN_CHILDREN_SHOWN = 50  # a Map Run may have 10,000 children: the page links to the first ones
ATTEMPTS_SHOWN = 200


def machine_detail(request, name, *, input_text=None, input_error=None, execution_name=""):
    machine = get_object_or_404(StateMachine, name=name)
    if input_text is None:
        input_text = _earlier_input(machine, request.GET.get("from_execution", ""))
    if input_text is None:
        input_text = json.dumps(EXAMPLE_INPUT, indent=2) if name == EXAMPLE_NAME else _sample_input(machine)
    context = {
        "machine": machine,
        "definition": show(machine.definition),
        "graph": _graph(machine.definition),
        # A Map Run's children are listed on their parent's page, not among the machine's executions.
        "executions": Execution.objects.of_machine(machine).top_level().recent(50),
        "input": input_text,
        "input_error": input_error,
        "execution_name": execution_name,
    }
    return render(request, "designer/machine.html", context, status=400 if input_error else 200)


def _earlier_input(machine: StateMachine, execution_id: str) -> str | None:
    """"New execution with this input" (the execution page): an earlier execution's input, indented."""
    if not execution_id.isdigit():
        return None
    text = (Execution.objects.filter(machine=machine, pk=int(execution_id))
            .values_list("input", flat=True).first())
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _sample_input(machine: StateMachine) -> str:
    """The input to try a machine made from a gallery template with: the template's sample. (Compared
    as JSON: a browser sends a textarea's lines ended with CRLF.)"""
    template = next((template for template in all_templates() if template.machine_name == machine.name), None)
    if template is None or not template.sample_input:
        return "{}"
    try:
        unchanged = jsontext.loads(machine.definition) == template.definition
    except jsontext.JsonTextError:
        unchanged = False
    return json.dumps(template.sample_input, indent=2) if unchanged else "{}"


@require_POST
def start_execution(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    input_text = request.POST.get("input", "").strip() or "{}"
    execution_name = request.POST.get("name", "").strip() or None
    try:
        if machine.type == MachineType.EXPRESS:
            execution = runtime.start_sync_express(machine, input_text, execution_name)
        else:
            execution = runtime.start_execution(machine, input_text, execution_name)
    except runtime.InvalidExecutionInput as error:
        # Shown at the input field, with the text kept as typed.
        return machine_detail(request, name, input_text=input_text, input_error=input_problem(input_text)
                              or error.message, execution_name=execution_name or "")
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
        return machine_detail(request, name, input_text=input_text, execution_name=execution_name or "")
    return redirect(execution)


def input_problem(input_text: str) -> str | None:
    """What the strict reader (engine.jsontext, the one StartExecution uses) says about an input, with
    its line and column when it is a syntax error; None when the input is JSON as AWS reads it."""
    try:
        jsontext.loads(input_text)
    except jsontext.JsonTextError as error:
        return f"The input is not valid JSON: {error}"
    return None


def create_machine(request):
    form = {"name": "", "type": MachineType.STANDARD, "definition": ""}
    problems = []
    template = get_template(request.GET.get("template", ""))
    if request.method == "GET" and template is not None:
        form = {"name": template.machine_name, "type": template.machine_type,
                "definition": template.definition_text()}
    if request.method == "POST":
        form = {
            "name": request.POST.get("name", "").strip(),
            "type": request.POST.get("type", MachineType.STANDARD),
            "definition": request.POST.get("definition", ""),
        }
        upload = request.FILES.get("file")
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                messages.error(request, "That file is over 1 MiB, the largest definition AWS accepts.")
                return _machine_form(request, form)
            try:
                form["definition"] = definition_files.definition_text(upload.read(), upload.name)
            except definition_files.DefinitionFileError as error:
                messages.error(request, f"{upload.name}: {error}")
                return _machine_form(request, form)
        problems = [p for p in iter_problems(form["definition"], state_machine_type=form["type"])
                    if p.severity == "ERROR"]
        if not problems:
            try:
                machine = runtime.create_state_machine(form["name"], form["definition"], form["type"])
            except runtime.StepwiseError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"State machine {machine.name} created.")
                return redirect(machine)
    # A form with problems is shown again with them (200, as Django's form views do).
    return _machine_form(request, form, problems, template)


def _machine_form(request, form: dict, problems=(), template=None):
    return render(request, "designer/machine_form.html",
                  {"form": form, "problems": problems, "types": MachineType.values, "template": template})


@require_POST
def create_example(request):
    machine = StateMachine.objects.filter(name=EXAMPLE_NAME).first()
    if machine is None:
        machine = runtime.create_state_machine(EXAMPLE_NAME, example_definition())
        messages.success(request, "The example workflow is ready: start it with the input below.")
    return redirect(machine)


def execution_detail(request, pk):
    execution = get_object_or_404(
        Execution.objects.select_related("machine", "revision", "parent", "map_run"), pk=pk)
    event_count = execution.events.count()
    context = {
        "execution": execution,
        "input": show(execution.input),
        "output": show(execution.output),
        "cause": show(execution.cause),
        "event_count": event_count,
        **execution_views.history_context(execution, request.GET, event_count),
        "attempts": execution.attempts.all()[:ATTEMPTS_SHOWN],
        "attempt_count": execution.attempts.count(),
        "map_runs": [{"run": run, "counts": run.counts(),
                      "children": run.executions.order_by("id")[:MAP_RUN_CHILDREN_SHOWN]}
                     for run in execution.map_runs.order_by("start_date", "id")],
        "children_shown": MAP_RUN_CHILDREN_SHOWN,
        "failed_state": execution_views.failed_state(execution) if execution.error is not None else None,
        "redrivable": execution.type == MachineType.STANDARD and runtime.redrive_problem(execution) is None,
        "graph": _graph(execution.revision.definition, execution),
        # The live view (static/js/live.js) follows a Standard execution from the last event shown;
        # a finished one may be redriven, so it is followed too.
        "live": execution.type == MachineType.STANDARD,
        "waiting_tasks": runtime.waiting_tasks(execution) if execution.is_running else [],
        "approvals": [{"approval": approval, "may_act": approval.status == "OPEN" and execution.is_running
                       and runtime.may_act_on_approval(request.user, approval)}
                      for approval in execution.approvals.select_related("token").prefetch_related(
                          "audit", "recipients__user")],
    }
    return render(request, "designer/execution.html", context)


def _graph(definition: str, execution: Execution | None = None):
    """The definition's drawing as inline SVG (safe: built from our own DOT with escaped labels and
    checked element by element in graph.py), with each state's status when it is an execution's;
    None when Graphviz is not installed."""
    svg = graph.definition_svg(definition)
    if svg is None:
        return None
    if execution is not None:
        events = execution.events.order_by("seq").values_list(
            "seq", "type", "previous_event_id", "details__name")
        svg = graph.with_statuses(svg, graph.state_statuses(events.iterator(), execution.status))
    return mark_safe(svg)


_event_row = execution_views.event_row  # the live view's rows (watchers.py) are the page's rows


# -- whole documents, downloaded (the pages show them cut short) ------------------------------------
def machine_definition(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    return attachment(machine.definition, f"{machine.name}.asl.json")


def execution_input(request, pk):
    execution = get_object_or_404(Execution.objects.only("name", "input"), pk=pk)
    return attachment(execution.input, f"{execution.name}-input.json")


def execution_output(request, pk):
    execution = get_object_or_404(Execution.objects.only("name", "output"), pk=pk)
    if execution.output is None:
        raise Http404("This execution has no output (yet).")
    return attachment(execution.output, f"{execution.name}-output.json")


def execution_event(request, pk, seq):
    event = get_object_or_404(HistoryEvent.objects.select_related("execution"), execution_id=pk, seq=seq)
    return attachment(execution_views.event_json(event), f"{event.execution.name}-event-{seq}.json")


def execution_history(request, pk):
    """The whole history as GetExecutionHistory lists it, as a download."""
    execution = get_object_or_404(Execution.objects.only("name"), pk=pk)
    return execution_views.streamed_history(execution, f"{execution.name}-history.json")


@require_POST
def stop_execution(request, pk):
    execution = get_object_or_404(Execution, pk=pk)
    try:
        runtime.stop_execution(execution, error=request.POST.get("error") or None,
                               cause=request.POST.get("cause") or None)
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    return redirect(execution)


@require_POST
def redrive_execution(request, pk):
    execution = get_object_or_404(Execution, pk=pk)
    try:
        runtime.redrive_execution(execution)
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
    return redirect(execution)


def _waiting_token(pk, token_pk):
    """The open callback of the execution the page shows (a token of another execution is no answer)."""
    execution = get_object_or_404(Execution, pk=pk)
    return execution, get_object_or_404(TaskToken, pk=token_pk, execution=execution)


@require_POST
def send_task_success(request, pk, token_pk):
    """The execution page's "Send success": SendTaskSuccess with the output typed in (checked)."""
    execution, token = _waiting_token(pk, token_pk)
    try:
        runtime.send_task_success(token.token, request.POST.get("output", ""))
        messages.success(request, f"Sent success to {token.state_name}.")
    except runtime.StepwiseError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect(execution)


@require_POST
def send_task_failure(request, pk, token_pk):
    """The execution page's "Send failure": SendTaskFailure with the error and cause typed in."""
    execution, token = _waiting_token(pk, token_pk)
    try:
        runtime.send_task_failure(token.token, request.POST.get("error") or None,
                                  request.POST.get("cause") or None)
        messages.success(request, f"Sent failure to {token.state_name}.")
    except runtime.StepwiseError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect(execution)
