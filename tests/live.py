"""A real Stepwise server for tests: daphne in a subprocess, against its own migrated SQLite file.

Use the `daphne_server` fixture (tests/conftest.py). It gives you `.url`, `.env` (the environment the
server runs with: point other processes at the same database with it) and `.manage(...)` to run a
management command against that database, e.g. to create users:

    def test_something(daphne_server):
        daphne_server.create_user("alice", "s3cret-pass", staff=False)
        browser = Browser(daphne_server.url)
        browser.log_in("alice", "s3cret-pass")
"""

import html
import http.cookiejar
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def server_env(workdir: Path, **extra: str) -> dict:
    """Environment for a Stepwise process using a SQLite file in `workdir`, DEBUG off."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DEBUG": "false",
        "SECRET_KEY": "test-" + secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def manage(env: dict, *args: str, input: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def migrated_database(workdir: Path, template: Path | None = None) -> dict:
    """Give `workdir` a migrated SQLite database (a copy of `template` if given, which is much
    faster than migrating again) and return the environment that points at it."""
    env = server_env(workdir)
    if template is not None:
        shutil.copyfile(template, workdir / "db.sqlite3")
    else:
        manage(env, "migrate", "--noinput", "-v", "0")
    return env


class DaphneServer:
    def __init__(self, workdir: Path, template_db: Path | None = None):
        self.workdir = workdir
        self.template_db = template_db
        self.env = server_env(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "daphne.log"
        self.process = None

    def start(self) -> "DaphneServer":
        migrated_database(self.workdir, self.template_db)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 "designer.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(self.log.read_text()) from None
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def create_user(self, username: str, password: str, *, staff: bool = False, superuser: bool = False):
        self.create_users((username, password, staff, superuser))

    def create_users(self, *users: tuple[str, str, bool, bool]):
        """Create (or update) users given as (username, password, is_staff, is_superuser), at once."""
        code = "from django.contrib.auth import get_user_model\nUser = get_user_model()\n"
        for username, password, staff, superuser in users:
            code += (
                f"u, _ = User.objects.get_or_create(username={username!r})\n"
                f"u.set_password({password!r}); u.is_staff = {staff or superuser}; "
                f"u.is_superuser = {superuser}; u.save()\n"
            )
        self.manage("shell", "--no-imports", "-c", code)


class Browser:
    """A tiny cookie-keeping HTTP client that fills in Django's real forms (CSRF included)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None, follow: bool = True):
        url = urllib.parse.urljoin(self.base_url, path)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Referer": self.base_url + "/"} if data is not None else {}
        for _ in range(10):
            try:
                response = self.opener.open(urllib.request.Request(url, body, headers), timeout=10)
            except urllib.error.HTTPError as error:
                response = error
            response.text = response.read().decode("utf-8", "replace")
            response.url_full = url
            response.url_path = urllib.parse.urlsplit(url).path
            if follow and response.status in (301, 302, 303) and response.headers["Location"]:
                url = urllib.parse.urljoin(url, response.headers["Location"])
                body, headers = None, {}
                continue
            return response
        raise AssertionError("too many redirects")

    def get(self, path: str, follow: bool = True):
        return self.request(path, follow=follow)

    def submit(self, path: str, fields: dict, follow: bool = True):
        """GET the page at `path`, then POST its first POST form (to its action) with the CSRF token
        and `fields`, as a browser would."""
        page = self.get(path)
        form = re.search(r'<form\b[^>]*method="post"[^>]*>', page.text, re.IGNORECASE)
        assert form, f"no POST form at {path}"
        action = re.search(r'action="([^"]*)"', form.group(0))
        target = urllib.parse.urljoin(page.url_full, html.unescape(action.group(1)) if action else "")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text[form.start() :])
        assert token, f"no CSRF token in the form at {path}"
        return self.request(target, {"csrfmiddlewaretoken": token.group(1), **fields}, follow)

    def log_in(self, username: str, password: str, path: str = "/accounts/login/"):
        return self.submit(path, {"username": username, "password": password})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
