"""Failed logins lock a username + address out for a while, in every process (the real login form)."""

import html
import time

import pytest

from tests.live import Browser, DaphneServer

LIMIT = 3
LOCKOUT = 4  # seconds
RIGHT = "right-password-1"
LOCKED = "Too many failed attempts; try again in 1 minute."


@pytest.fixture(params=["database", "redis"])
def two_servers(request, tmp_path, migrated_db_file):
    """Two daphne processes on one SQLite file, sharing the `login` cache (its table, or Redis)."""
    extra = {"STEPWISE_LOGIN_FAILURE_LIMIT": str(LIMIT), "STEPWISE_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT)}
    if request.param == "redis":
        extra["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    servers = [DaphneServer(tmp_path / name, template_db=migrated_db_file) for name in ("a", "b")]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    extra["DATABASE_URL"] = servers[0].env["DATABASE_URL"]  # the second serves the first one's database
    try:
        for server in servers:
            server.env.update(extra)
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _log_in(server, username, password):
    response = Browser(server.url).log_in(username, password)
    return response.url_path, html.unescape(response.text)


def test_after_too_many_failures_even_the_right_password_waits_in_every_process(two_servers):
    first, second = two_servers
    username = f"locked-{time.time_ns()}"  # Redis outlives the test: a name of its own
    first.create_users((username, RIGHT, False, False), ("bystander", RIGHT, False, False))
    for _ in range(LIMIT):
        path, text = _log_in(first, username, "wrong-password")
        assert path == "/accounts/login/" and "Please enter a correct username and password" in text
    locked_at = time.monotonic()
    path, text = _log_in(second, username, RIGHT)
    assert path == "/accounts/login/" and LOCKED in text
    path, text = _log_in(first, username.upper(), RIGHT)  # another case is the same name here
    assert LOCKED in text
    assert _log_in(second, "bystander", RIGHT)[0] == "/"  # others from the same address may log in
    time.sleep(max(0.0, LOCKOUT + 0.5 - (time.monotonic() - locked_at)))
    assert _log_in(second, username, RIGHT)[0] == "/"


def test_a_successful_login_forgets_the_failures_before_it(two_servers):
    first, second = two_servers
    username = f"forgiven-{time.time_ns()}"
    first.create_user(username, RIGHT)
    for server in (first, second):
        for _ in range(LIMIT - 1):
            assert _log_in(server, username, "wrong-password")[0] == "/accounts/login/"
        assert _log_in(server, username, RIGHT)[0] == "/"


@pytest.mark.django_db
def test_the_admin_login_is_throttled_with_the_same_message(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STEPWISE_LOGIN_FAILURE_LIMIT = LIMIT
    django_user_model.objects.create_superuser("root", password=RIGHT)
    django_user_model.objects.create_user("plain", password=RIGHT)
    for _ in range(LIMIT + 2):  # a right password that the admin refuses (not staff) is no failure
        assert "Please enter the correct username" in client.post(
            "/admin/login/", {"username": "plain", "password": RIGHT}).content.decode()
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "root", "password": "wrong-password"})
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": RIGHT})
    assert response.status_code == 200 and "Too many failed attempts; try again in 15 minutes." in \
        response.content.decode()
    assert client.post("/accounts/login/", {"username": "plain", "password": RIGHT}).status_code == 302
