"""Pages for state machines and executions: thin views over designer/runtime.py.

Every state change goes through runtime; these views only gather what a template shows.
"""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from designer import runtime
from designer.examples import EXAMPLE_INPUT, EXAMPLE_NAME, example_definition
from designer.models import Execution, MachineType, StateMachine
from engine import iter_problems, jsontext

MAX_UPLOAD_BYTES = 1024 * 1024  # AWS's definition limit is 1 MiB
MAP_RUN_CHILDREN_SHOWN = 50  # a Map Run may have 10,000 children: the page links to the first ones


def _pretty(text: str | None) -> str | None:
    """JSON text indented for reading; as it is if the strict reader refuses it (a row saved before it
    existed may hold a lone surrogate escape or be nested too deeply to indent: shown, never a 500)."""
    if text is None:
        return None
    try:
        return json.dumps(jsontext.loads(text), indent=2, ensure_ascii=False)
    except jsontext.JsonTextError:
        return text


def machine_detail(request, name):
    machine = get_object_or_404(StateMachine, name=name)
    context = {
        "machine": machine,
        "definition": _pretty(machine.definition),
        # A Map Run's children are listed on their parent's page, not among the machine's executions.
        "executions": Execution.objects.of_machine(machine).filter(parent=None).recent(50),
        "input": request.session.pop("last_input", None)
                 or (json.dumps(EXAMPLE_INPUT, indent=2) if name == EXAMPLE_NAME else "{}"),
    }
    return render(request, "designer/machine.html", context)


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
    except runtime.StepwiseError as error:
        messages.error(request, error.message)
        request.session["last_input"] = input_text
        return redirect(machine)
    return redirect(execution)


def create_machine(request):
    form = {"name": "", "type": MachineType.STANDARD, "definition": ""}
    problems = []
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
                return render(request, "designer/machine_form.html",
                              {"form": form, "types": MachineType.values})
            form["definition"] = upload.read().decode("utf-8", "replace")
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
    return render(request, "designer/machine_form.html",
                  {"form": form, "problems": problems, "types": MachineType.values})


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
    events = [
        {"seq": e.seq, "type": e.type, "name": e.name, "timestamp": e.timestamp,
         "previous": e.previous_event_id, "details": _details_text(e.details)}
        for e in execution.events.all()
    ]
    context = {
        "execution": execution,
        "input": _pretty(execution.input),
        "output": _pretty(execution.output),
        "events": events,
        "attempts": execution.attempts.all(),
        "map_runs": [{"run": run, "counts": run.counts(),
                      "children": run.executions.order_by("id")[:MAP_RUN_CHILDREN_SHOWN]}
                     for run in execution.map_runs.order_by("start_date", "id")],
        "children_shown": MAP_RUN_CHILDREN_SHOWN,
        "redrivable": execution.type == MachineType.STANDARD and runtime.redrive_problem(execution) is None,
    }
    return render(request, "designer/execution.html", context)


def _details_text(details):
    if not details:
        return ""
    shown = {key: value for key, value in details.items() if key != "name" and not key.endswith("Details")}
    return json.dumps(shown, ensure_ascii=False) if shown else ""


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
