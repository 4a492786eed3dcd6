"""Answering a callback from the execution page in a real browser (Debian's Chromium) against a real
daphne and db_worker: the page shows the waiting Task, "Send success" answers it, the execution goes on."""

import json
from pathlib import Path

import pytest

from tests.durable import Deployment
from tests.live import DaphneServer
from tests.test_callbacks_live import waiting

SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, migrated_db_file):
    workdir = tmp_path_factory.mktemp("callbacks-browser")
    server = DaphneServer(workdir, template_db=migrated_db_file)
    deployment = Deployment(workdir, server.env)  # the same environment: database, functions
    server.start()
    deployment.start_worker()
    server.create_user("rita", "reviewer-password-1")
    yield server, deployment
    deployment.close()
    server.stop()


def test_send_success_from_the_execution_page_and_see_the_execution_continue(stack, page):
    server, deployment = stack
    definition = json.dumps(waiting(HeartbeatSeconds=600, TimeoutSeconds=3600))
    pk = deployment.django(
        "from designer import runtime\n"
        f"m = runtime.create_state_machine('approval', {definition!r})\n"
        "result = runtime.start_execution(m, '{\"order\": 42}', name='order-42').pk\n")
    deployment.wait_until("SELECT count(*) FROM designer_historyevent WHERE type = 'TaskSubmitted'", 1)

    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("reviewer-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")
    page.goto(f"{server.url}/executions/{pk}/")
    waiting_panel = page.locator("[data-waiting-tasks]")
    assert "waiting for a callback since" in waiting_panel.inner_text()
    assert "heartbeat due at" in waiting_panel.inner_text() and "times out at" in waiting_panel.inner_text()
    output = page.get_by_label("Output (JSON)")

    # Not JSON: the page says so and sends nothing.
    output.fill("{approved: yes}")
    page.get_by_role("button", name="Send success").click()
    page.locator("[data-json-error]").wait_for()
    assert "not valid JSON" in page.locator("[data-json-error]").inner_text()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "callback-waiting.png"), full_page=True)
    assert deployment.scalar("SELECT status FROM designer_tasktoken") == "OPEN"

    output.fill('{"approved": true, "by": "rita"}')
    page.get_by_role("button", name="Send success").click()
    page.locator(".message", has_text="Sent success to Ask").wait_for()
    deployment.wait_until("SELECT status FROM designer_execution WHERE name = 'order-42'", "SUCCEEDED")
    page.reload()
    page.locator(".status-succeeded").first.wait_for()
    assert page.locator("[data-waiting-tasks]").count() == 0
    output_panel = page.locator("section", has=page.get_by_role("heading", name="Output"))
    assert '"by": "rita"' in output_panel.inner_text()
    assert page.locator("td", has_text="TaskSucceeded").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "callback-answered.png"), full_page=True)
