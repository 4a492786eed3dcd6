"""Failed logins are counted per username and client address; too many lock that pair out for a while.

The counts live in the `login` cache (settings.CACHES): a database table, or Redis when REDIS_URL is
set, so that every daphne process sees the same counts. A locked-out pair is refused before its
password is checked, so even the right password waits; a successful login clears its count.
"""

import hashlib
import math
import time

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import caches


def _keys(request, username: str) -> tuple[str, str]:
    # Usernames differing only in case count together: trying "Admin", "ADMIN"... is not a way round.
    who = f"{username.casefold()}\n{request.META.get('REMOTE_ADDR', '') if request else ''}"
    digest = hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()
    return f"login-failures:{digest}", f"login-locked:{digest}"


def seconds_locked(request, username: str) -> float:
    """How long this username from this address must still wait (0: it may try)."""
    until = caches["login"].get(_keys(request, username)[1])
    return max(0.0, until - time.time()) if until else 0.0


def record_failure(request, username: str) -> None:
    cache = caches["login"]
    failures, locked = _keys(request, username)
    lockout = settings.STEPWISE_LOGIN_LOCKOUT_SECONDS
    # A count is forgotten a lockout's length after its last failure.
    cache.add(failures, 0, timeout=lockout)
    try:
        count = cache.incr(failures)
    except ValueError:  # expired between add and incr
        cache.set(failures, count := 1, timeout=lockout)
    else:
        cache.touch(failures, timeout=lockout)
    if count >= settings.STEPWISE_LOGIN_FAILURE_LIMIT:
        cache.set(locked, time.time() + lockout, timeout=lockout)
        cache.delete(failures)


def forget_failures(request, username: str) -> None:
    caches["login"].delete_many(_keys(request, username))


def locked_out_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}."


class ThrottledLogin:
    """Mixed into Django's login forms (the pages' and the admin's)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = seconds_locked(self.request, username)
        if wait:
            raise forms.ValidationError(locked_out_message(wait), code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError as error:
            # A right password refused for another reason (the admin's staff check) is no failure.
            if error.code == "invalid_login" and self.user_cache is None:
                record_failure(self.request, username)
            raise
        forget_failures(self.request, username)
        return cleaned


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass
