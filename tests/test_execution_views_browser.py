"""The executions list and the execution page's tools in a real browser (Chromium), on a daphne and a
db_worker of their own: search by a value in the input, step details, the replay slider. Screenshots
at 1280 and 420 px under tests/screenshots/."""

import json
import subprocess
import sys
import time

import pytest

from tests.live import ROOT, DaphneServer
from tests.test_live_browser import SCREENSHOTS, _status, pytestmark  # noqa: F401 (needs Graphviz)

FLOW = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"name.$": "$.customer", "order.$": "$.order"},
                "Next": "Greet"},
    "Greet": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet",
              "ResultPath": "$.greeting", "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
START = f"""
import json
from designer import runtime
machine = runtime.create_state_machine("orders-flow", {json.dumps(json.dumps(FLOW))})
for number, customer in ((41, "Bob"), (42, "Ada"), (43, "Cy")):
    runtime.start_execution(machine, json.dumps({{"customer": customer, "order": {{"id": number}}}}),
                            f"order-{{number}}")
"""
COUNT_RUNNING = """
from designer.models import Execution
print(Execution.objects.filter(status="RUNNING").count())
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    server = DaphneServer(tmp_path_factory.mktemp("views"), template_db=migrated_db_file).start()
    server.manage("shell", "--no-imports", "-c", START)
    with open(server.workdir / "worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay",
                                   "--no-reload", "--interval", "0.05", "--worker-id", "views-browser"],
                                  cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while server.manage("shell", "--no-imports", "-c", COUNT_RUNNING).split()[-1] != "0":
            assert time.monotonic() < deadline, "the worker did not finish the executions"
            time.sleep(0.3)
    finally:
        worker.terminate()
        worker.wait(10)
    server.create_user("viewer", "views-password-9")
    yield server
    server.stop()


def _screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _log_in(page, server):
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("views-password-9")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")


def _names(page):
    return page.locator("tr[data-execution-row] td.execution-name a").all_inner_texts()


def test_search_executions_by_an_input_value_then_open_step_details_and_replay(server, page):
    _log_in(page, server)
    page.get_by_role("link", name="Executions", exact=True).click()
    assert _names(page) == ["order-43", "order-42", "order-41"]
    page.keyboard.press("/")
    page.keyboard.type("$.order.id = 42")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=*")
    assert _names(page) == ["order-42"]
    assert page.locator("tr[data-execution-row] .status").inner_text() == "SUCCEEDED"
    _screenshot(page, "executions-1-search-1280.png")

    # A path that names no single value is explained at the box.
    page.locator("[data-search-input]").fill("$.order[*].id = 1")
    page.keyboard.press("Enter")
    page.locator("[data-search-error]").wait_for()
    assert "Invalid path" in page.locator("[data-search-error]").inner_text()
    page.locator("[data-search-input]").fill("$.order.id = 42")
    page.keyboard.press("Enter")
    page.locator("tr[data-execution-row]").first.wait_for()

    # The keyboard opens the row.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/executions/*/")
    page.locator('[id="state-Greet"]').click()
    panel = page.locator("[data-step-panel]")
    panel.locator("[data-step-visit]").wait_for()
    assert page.locator("[data-step-title]").inner_text() == "Greet"
    text = panel.inner_text()
    assert '"name": "Ada"' in text and "greeting" in text
    _screenshot(page, "executions-2-step-details-1280.png")
    page.keyboard.press("Escape")
    assert panel.is_hidden()

    # Replay: back to the first Pass's entry, Greet had not been entered; at the end, all succeeded.
    slider = page.locator("[data-replay-slider]")
    first_entered = int(page.locator("tr.event-PassStateEntered td:first-child").inner_text())
    slider.fill(str(first_entered))
    page.locator(f'[data-replay][data-replay-seq="{first_entered}"]').wait_for()
    assert [_status(page, name) for name in ("Prepare", "Greet", "Done")] == ["running", "not-entered",
                                                                              "not-entered"]
    assert page.locator("tr.replay-future").count() > 0
    _screenshot(page, "executions-3-replay-1280.png")
    end = slider.get_attribute("max")
    slider.fill(end)
    page.locator(f'[data-replay][data-replay-seq="{end}"]').wait_for()
    assert [_status(page, name) for name in ("Prepare", "Greet", "Done")] == ["succeeded"] * 3

    # Narrow screens: the list and the step panel still fit.
    page.set_viewport_size({"width": 420, "height": 860})
    page.locator("tr.event-TaskStateEntered").click()
    panel.locator("[data-step-visit]").wait_for()
    assert panel.bounding_box()["width"] <= 420
    _screenshot(page, "executions-4-step-details-420.png")
    page.goto(server.url + "/executions/")
    _screenshot(page, "executions-5-list-420.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 440
    assert page.problems == []
