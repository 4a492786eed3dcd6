"""Pages. Views stay thin: they gather what a template shows and hand state changes to models/runtime.

Every view requires a logged-in user (LoginRequiredMiddleware); mark a public one with
django.contrib.auth.decorators.login_not_required.
"""

from django.shortcuts import render

from designer.models import Execution, StateMachine

DASHBOARD_MACHINES = 8  # the dashboard's short list; the State machines page has them all


def dashboard(request):
    context = {
        "state_machines": list(StateMachine.objects.all()[:DASHBOARD_MACHINES]),
        "machine_count": StateMachine.objects.count(),
        # A Map Run's children are listed on their parent's page.
        "executions": list(Execution.objects.top_level().recent(20)),
    }
    return render(request, "designer/dashboard.html", context)
