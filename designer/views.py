"""Pages. Views stay thin: they gather what a template shows and hand state changes to models/runtime.

Every view requires a logged-in user (LoginRequiredMiddleware); mark a public one with
django.contrib.auth.decorators.login_not_required.
"""

from django.shortcuts import render


def dashboard(request):
    # State machines and executions arrive with their models; the page already shows both lists.
    context = {
        "state_machines": [],
        "executions": [],
    }
    return render(request, "designer/dashboard.html", context)
