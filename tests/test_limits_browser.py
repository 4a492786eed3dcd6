"""A huge, deep execution's page and the login lockout in a real browser (Chromium) against daphne."""

import os
from pathlib import Path

import pytest

from tests.live import DaphneServer

SCREENSHOTS = Path(os.environ.get("STEPWISE_SCREENSHOTS") or Path(__file__).parent / "screenshots")

STORE_HUGE_EXECUTION = """
import json
from designer import runtime
from designer.models import Execution
definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
machine = runtime.create_state_machine("huge-pass", definition, "EXPRESS")
execution = runtime.start_sync_express(machine, "{}", "huge")
deep = "[" * 5000 + "]" * 5000
huge = json.dumps({"html": "<script>alert(1)</script>", "items": ["x" * 100 for _ in range(2500)]})
Execution.objects.filter(pk=execution.pk).update(input=huge, output=deep)
print(execution.pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    """A daphne of its own: the session's server is expected to keep an empty dashboard."""
    server = DaphneServer(tmp_path_factory.mktemp("limits"), template_db=migrated_db_file).start()
    yield server
    server.stop()


def _screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=False)


def _log_in(page, server, username, password):
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_huge_execution_page_is_cut_short_with_download_links(server, page):
    server.create_user("dee", "browser-password-3")
    pk = server.manage("shell", "--no-imports", "-c", STORE_HUGE_EXECUTION).split()[-1]
    _log_in(page, server, "dee", "browser-password-3")
    response = page.goto(f"{server.url}/executions/{pk}/")
    assert len(response.body()) < 500_000
    assert page.get_by_text("… truncated, 254 KB in all.").is_visible()
    assert page.locator("script", has_text="alert(1)").count() == 0  # shown as text, never run
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the whole input").click()
    assert download.value.suggested_filename == "huge-input.json"
    assert os.path.getsize(download.value.path()) == 260_048  # the whole input
    page.get_by_role("heading", name="Input").scroll_into_view_if_needed()
    _screenshot(page, "execution-truncated.png")
    assert page.problems == []


def test_the_login_page_says_how_long_a_locked_out_user_waits(server, page):
    server.create_user("eve", "browser-password-4")
    for _ in range(5):  # STEPWISE_LOGIN_FAILURE_LIMIT's default
        _log_in(page, server, "eve", "not-the-password")
        assert page.get_by_text("Please enter a correct username and password").is_visible()
    _log_in(page, server, "eve", "browser-password-4")
    assert page.url.endswith("/accounts/login/")
    assert page.get_by_role("alert").inner_text() == "Too many failed attempts; try again in 15 minutes."
    _screenshot(page, "login-locked-out.png")
    assert page.problems == []
