"""The state machines list, the New page's template gallery and deleting a machine.

Thin views: the list's numbers come from one annotated query (StateMachine.objects
.with_execution_summary), deleting goes through runtime.delete_state_machine.
"""

from django.contrib import messages
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control

from designer import graph, runtime
from designer.models import Execution, ExecutionStatus, MachineType, StateMachine
from designer.templates_gallery import all_templates, get_template

# The list's sort orders: ?sort=<key>. "Last run" puts machines that never ran last either way.
SORTS = {
    "name": [F("name").asc()],
    "-name": [F("name").desc()],
    "last": [F("last_start").desc(nulls_last=True), F("name").asc()],
    "-last": [F("last_start").asc(nulls_last=True), F("name").asc()],
}
# The columns of execution counts, in the order the list shows them.
COUNTED = [ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED,
           ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED]


def machine_list(request):
    query = request.GET.get("q", "").strip()
    machine_type = request.GET.get("type", "").upper()
    if machine_type not in MachineType.values:
        machine_type = ""
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    machines = list(StateMachine.objects.search(query).of_type(machine_type)
                    .with_execution_summary().order_by(*SORTS[sort]))
    for machine in machines:
        machine.counts = [(status.lower(), status.label, getattr(machine, f"count_{status.lower()}"))
                          for status in COUNTED]
    filtered = bool(query or machine_type)
    context = {
        "machines": machines,
        "query": query,
        "machine_type": machine_type,
        "sort": sort,
        "types": MachineType.choices,
        "filtered": filtered,
        # Whether there is anything at all: an empty search is not an empty installation.
        "any_machines": bool(machines) or (filtered and StateMachine.objects.exists()),
        # A sorted column's header turns its order around.
        "name_sort_url": _list_url(query, machine_type, "-name" if sort == "name" else "name"),
        "last_sort_url": _list_url(query, machine_type, "-last" if sort == "last" else "last"),
    }
    return render(request, "designer/machine_list.html", context)


def _list_url(query: str, machine_type: str, sort: str) -> str:
    params = {key: value for key, value in (("q", query), ("type", machine_type), ("sort", sort)) if value}
    return reverse("machines") + ("?" + urlencode(params) if params else "")


def new_machine(request):
    """The New page: start blank, from a template, or from a file."""
    return render(request, "designer/new_machine.html", {"templates": all_templates()})


@cache_control(private=True, max_age=3600)
def template_preview(request, slug):
    """A template's graph as an SVG image (an <img>: the cards' drawings keep their ids to themselves)."""
    template = get_template(slug)
    if template is None:
        raise Http404("No such template.")
    svg = graph.definition_svg(template.definition) or graph.placeholder_svg("Graphviz is not installed.")
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def delete_machine(request, name):
    """GET: what deleting would take with it. POST: delete it, through runtime.delete_state_machine.

    The runtime does what AWS's DeleteStateMachine does: running executions are stopped (ABORTED),
    then the machine goes with every execution. A page should not do that by surprise, so while
    executions run the POST is refused unless the user ticked that they are to be stopped."""
    machine = get_object_or_404(StateMachine, name=name)
    running = Execution.objects.of_machine(machine).filter(parent=None).running().count()
    if request.method == "POST":
        if running and request.POST.get("stop_running") != "yes":
            plural = "s" if running != 1 else ""
            messages.error(request, f"{machine.name} has {running} running execution{plural}: tick "
                                    "“Stop them” to delete it anyway, or wait until they finish.")
            return redirect("machine-delete", name=machine.name)
        runtime.delete_state_machine(machine)
        messages.success(request, f"State machine {machine.name} deleted.")
        return redirect("machines")
    # Every execution goes, a Map Run's children too.
    context = {"machine": machine, "running": running,
               "execution_count": Execution.objects.of_machine(machine).count()}
    return render(request, "designer/machine_delete.html", context)
