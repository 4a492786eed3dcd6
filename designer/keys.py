"""The signed-in user's API keys: create one (its secret is shown once, on the page that created it)
and revoke one. Keys sign requests to the AWS-compatible API (designer/api.py)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from designer.models import AccessKey


def api_keys(request):
    created = None
    if request.method == "POST":
        key, secret = AccessKey.issue(request.user, request.POST.get("description", "").strip()[:200])
        created = {"key": key, "secret": secret}  # rendered, never stored in the session or shown again
    context = {
        "keys": AccessKey.objects.filter(user=request.user),
        "created": created,
        "endpoint": request.build_absolute_uri("/").rstrip("/"),
    }
    response = render(request, "designer/api_keys.html", context)
    response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@require_POST
def revoke_key(request, pk):
    key = get_object_or_404(AccessKey, pk=pk, user=request.user)
    if AccessKey.objects.filter(pk=key.pk).revoke():
        messages.success(request, f"Access key {key.access_key_id} revoked.")
    return redirect("api-keys")
