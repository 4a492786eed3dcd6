"""The Activities page: every activity with its open tasks (waiting for a worker, or taken by one) and
its recently ended ones. Activities are made and deleted through the API (CreateActivity,
DeleteActivity) and the admin; workers answer tasks through the API."""

from __future__ import annotations

from django.shortcuts import render

from designer import runtime
from designer.models import Activity

OPEN_SHOWN = 50  # per activity: the oldest open tasks
RECENT_SHOWN = 10  # per activity: the latest ended tasks


def activity_list(request):
    activities = []
    for activity in Activity.objects.order_by("name").prefetch_related("tags"):
        open_tasks, recent = runtime.activity_tasks(activity, open_limit=OPEN_SHOWN,
                                                    recent_limit=RECENT_SHOWN)
        activities.append({"activity": activity, "open": open_tasks, "recent": recent,
                           "waiting": sum(1 for task in open_tasks if task.started_at is None)})
    return render(request, "designer/activities.html", {"activities": activities})
