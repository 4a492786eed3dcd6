"""The live execution view in a real browser (Chromium): a daphne and a db_worker of its own; the page
follows the execution as the worker advances it, without reloading."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT, DaphneServer

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")

SCREENSHOTS = Path(os.environ.get("STEPWISE_SCREENSHOTS") or Path(__file__).parent / "screenshots")
MACHINE = {"StartAt": "Hold", "States": {
    "Hold": {"Type": "Wait", "Seconds": 2, "Next": "Greet"},
    "Greet": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet",
              "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
START = f"""
import json
from designer import runtime
machine = runtime.create_state_machine("live-browser", {json.dumps(json.dumps(MACHINE))})
print(runtime.start_execution(machine, json.dumps({{"name": "Ada"}}), "watched-live").pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    server = DaphneServer(tmp_path_factory.mktemp("live"), template_db=migrated_db_file).start()
    yield server
    server.stop()


def _screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _status(page, state):
    classes = page.locator(f'[id="state-{state}"]').get_attribute("class").split()
    return next(name.removeprefix("state-status-") for name in classes if name.startswith("state-status-"))


def test_the_execution_page_follows_the_worker_without_reloading(server, page):
    server.create_user("liv", "live-password-9")
    pk = server.manage("shell", "--no-imports", "-c", START).split()[-1]
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("liv")
    page.get_by_label("Password").fill("live-password-9")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")
    page.goto(f"{server.url}/executions/{pk}/")
    page.locator("body[data-live=connected]").wait_for()  # wait_for_function would need CSP's unsafe-eval
    page.evaluate("window.notReloaded = true")
    # The execution was started but no worker ran its first step yet: nothing entered.
    assert _status(page, "Hold") == "not-entered"
    assert page.locator("[data-live-status]").inner_text() == "Running"
    assert page.locator("[data-live-history] tr td:nth-child(2)").all_inner_texts() == ["ExecutionStarted"]
    _screenshot(page, "live-0-not-picked-up.png")

    # The Wait and the Task are the worker's; the page sees each step as it happens.
    with open(server.workdir / "live-worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay",
                                   "--no-reload", "--interval", "0.05", "--worker-id", "live-browser"],
                                  cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        page.locator('[id="state-Hold"].state-status-running').wait_for(timeout=10000)
        assert _status(page, "Greet") == "not-entered"
        assert page.locator("[data-live-history] tr").count() >= 2
        _screenshot(page, "live-1-waiting.png")
        page.locator("body[data-live-refreshed=SUCCEEDED]").wait_for(timeout=20000)
    finally:
        worker.terminate()
        worker.wait(10)
    assert page.evaluate("window.notReloaded") is True
    assert [_status(page, state) for state in ("Hold", "Greet", "Done")] == ["succeeded"] * 3
    assert page.locator("[data-live-status]").inner_text() == "Succeeded"
    types = page.locator("[data-live-history] tr td:nth-child(2)").all_inner_texts()
    assert types[:2] == ["ExecutionStarted", "WaitStateEntered"]
    assert types[-1] == "ExecutionSucceeded" and "LambdaFunctionSucceeded" in types
    seqs = [int(text) for text in page.locator("[data-live-history] tr td:first-child").all_inner_texts()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert page.locator("[data-live-count]").inner_text() == str(len(seqs))
    # The summary came from the server again: the Stop button is gone, the output is shown.
    assert page.get_by_role("button", name="Stop execution").count() == 0
    assert "Ada" in page.locator('[data-live-region="output"]').inner_text()
    _screenshot(page, "live-2-succeeded.png")
    assert page.problems == []
