"""Settings that come from the environment, checked in a fresh process each."""

import json
import subprocess
import sys
import threading

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from designer.config import mailer_from_url
from tests.live import ROOT, free_port


def settings_in_fresh_process(env, *names, command=None):
    code = (
        f"import sys; sys.argv[1:] = {[command] if command else []!r}; "
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    base = {"DJANGO_SETTINGS_MODULE": "designer.settings", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_a_safe_local_setup():
    s = settings_in_fresh_process(
        {},
        "DEBUG",
        "DATABASES",
        "CHANNEL_LAYERS",
        "MAILERS",
        "TASKS",
        "SESSION_COOKIE_SECURE",
        "STEPWISE_REGION",
        "STEPWISE_ACCOUNT_ID",
        "SECRET_KEY",
    )
    assert s["DEBUG"] is False
    db = s["DATABASES"]["default"]
    # Django's SQLite backend, with writers taking turns on a lock (designer/sqlite/base.py).
    assert db["ENGINE"] == "designer.sqlite" and db["NAME"].endswith("var/db.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert s["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert s["MAILERS"]["default"]["BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert s["TASKS"]["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    assert s["SESSION_COOKIE_SECURE"] is False
    assert (s["STEPWISE_REGION"], s["STEPWISE_ACCOUNT_ID"]) == ("us-east-1", "123456789012")
    assert len(s["SECRET_KEY"]) >= 50
    assert s["SECRET_KEY"] == (ROOT / "var" / "secret_key").read_text().strip()


def test_environment_switches_to_postgres_redis_and_smtp():
    s = settings_in_fresh_process(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "EMAIL_URL": "smtp://127.0.0.1:1025",
            "SECRET_KEY": "from-the-environment",
            "SECURE_COOKIES": "true",
            "ALLOWED_HOSTS": "stepwise.example.com,localhost",
        },
        "DATABASES",
        "CHANNEL_LAYERS",
        "MAILERS",
        "SECRET_KEY",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "ALLOWED_HOSTS",
    )
    assert s["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert "transaction_mode" not in s["DATABASES"]["default"].get("OPTIONS", {})
    assert s["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert s["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == ["redis://127.0.0.1:6379/0"]
    smtp = s["MAILERS"]["default"]
    assert smtp["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert smtp["OPTIONS"]["host"] == "127.0.0.1" and smtp["OPTIONS"]["port"] == 1025
    assert s["SECRET_KEY"] == "from-the-environment"
    assert s["SESSION_COOKIE_SECURE"] is True and s["CSRF_COOKIE_SECURE"] is True
    assert s["ALLOWED_HOSTS"] == ["stepwise.example.com", "localhost"]


def test_email_url_parses_credentials_and_tls():
    options = mailer_from_url("smtp+tls://me%40example.com:p%3Ass@mail.example.com:587")["OPTIONS"]
    assert options["username"] == "me@example.com" and options["password"] == "p:ss"
    assert options["use_tls"] is True and options["port"] == 587
    assert mailer_from_url("smtps://mail.example.com")["OPTIONS"] == {
        "host": "mail.example.com", "port": 465, "use_ssl": True, "timeout": 20,
    }  # fmt: skip
    with pytest.raises(ValueError, match="unsupported scheme"):
        mailer_from_url("ftp://nope")


class Inbox:
    def __init__(self):
        self.messages = []
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        self.received.set()
        return "250 Message accepted for delivery"


def test_smtp_email_url_delivers_mail_to_an_smtp_server(settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.MAILERS = {"default": mailer_from_url(f"smtp://127.0.0.1:{port}")}
        mail.send_mail("Approval needed", "Please approve.", "stepwise@localhost", ["ops@example.com"])
        assert inbox.received.wait(10)
    finally:
        controller.stop()
    assert inbox.messages[0].rcpt_tos == ["ops@example.com"]
    assert b"Subject: Approval needed" in inbox.messages[0].content


def test_a_task_worker_keeps_its_database_connection_and_web_requests_do_not():
    worker = settings_in_fresh_process({}, "DATABASES", command="db_worker")["DATABASES"]["default"]
    assert (worker["CONN_MAX_AGE"], worker["CONN_HEALTH_CHECKS"]) == (None, True)
    web = settings_in_fresh_process({}, "DATABASES", command="serve")["DATABASES"]["default"]
    assert web.get("CONN_MAX_AGE", 0) == 0
    chosen = settings_in_fresh_process({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test?conn_max_age=5"},
                                       "DATABASES", command="db_worker")["DATABASES"]["default"]
    assert chosen["CONN_MAX_AGE"] == 5  # the URL's own choice wins
