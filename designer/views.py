"""Pages. Views stay thin: they gather what a template shows and hand state changes to models/runtime.

Every view requires a logged-in user (LoginRequiredMiddleware); mark a public one with
django.contrib.auth.decorators.login_not_required.
"""

from django.shortcuts import render

from designer.models import Execution, StateMachine


def dashboard(request):
    context = {
        "state_machines": list(StateMachine.objects.all()),
        # A Map Run's children are listed on their parent's page.
        "executions": list(Execution.objects.top_level().recent(20)),
    }
    return render(request, "designer/dashboard.html", context)
