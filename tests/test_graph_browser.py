"""The graph on the machine and execution pages, in a real browser (Chromium) against daphne."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.live import DaphneServer

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")

SCREENSHOTS = Path(os.environ.get("STEPWISE_SCREENSHOTS") or Path(__file__).parent / "screenshots")
HOSTILE = "<img src=x onerror=alert(1)>"
DEFINITION = {
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.mode", "StringEquals": "wait", "Next": "Hold"},
            {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Work"},
        ], "Default": "Fan"},
        "Hold": {"Type": "Wait", "Seconds": 3600, "Next": "Fan"},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Fan",
                 "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Recover"}]},
        "Fan": {"Type": "Parallel", "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                "Branches": [
                    {"StartAt": "Items", "States": {"Items": {
                        "Type": "Map", "ItemsPath": "$.items", "End": True,
                        "ItemProcessor": {"StartAt": "Shape",
                                          "States": {"Shape": {"Type": "Pass", "End": True}}}}}},
                    {"StartAt": HOSTILE, "States": {HOSTILE: {"Type": "Fail", "Error": "Broken"}}},
                ]},
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
RUN_TWO_EXECUTIONS = f"""
import json
from designer import runtime
machine = runtime.create_state_machine("graph-demo", {json.dumps(json.dumps(DEFINITION))})
caught = runtime.start_execution(machine, json.dumps({{"mode": "go", "n": 1, "items": [1, 2, 3]}}), "caught")
waiting = runtime.start_execution(machine, json.dumps({{"mode": "wait"}}), "waiting")
print(caught.pk, waiting.pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    """A daphne of its own: the session's server is expected to keep an empty dashboard."""
    server = DaphneServer(tmp_path_factory.mktemp("graph"), template_db=migrated_db_file).start()
    yield server
    server.stop()


def _screenshot(page, name, full_page=False):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def _classes(page, element_id):
    return page.locator(f'[id="{element_id}"]').get_attribute("class").split()


def test_machine_and_execution_pages_draw_the_graph_with_the_execution_path(server, page):
    server.create_user("gus", "browser-password-5")
    caught, waiting = server.manage("shell", "--no-imports", "-c", RUN_TWO_EXECUTIONS).split()[-2:]
    server.manage("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("gus")
    page.get_by_label("Password").fill("browser-password-5")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")

    page.goto(server.url + "/machines/graph-demo/")
    view = page.locator("[data-graph]")
    assert view.locator("svg.graph-svg").count() == 1
    for name, kind in [("Route", "choice"), ("Hold", "wait"), ("Work", "task"), ("Fan", "parallel"),
                       ("Items", "map"), ("Shape", "pass"), (HOSTILE, "fail"), ("Recover", "pass"),
                       ("Done", "succeed")]:
        assert f"state-type-{kind}" in _classes(page, f"state-{name}"), name
    assert "cluster" in _classes(page, "group-Fan") and "cluster" in _classes(page, "group-Items")
    assert page.locator('[id="edge-Route-Hold-choice"]').text_content().strip() == '$.mode == "wait"'
    assert page.locator('[id="edge-Route-Fan-default"]').text_content().strip() == "Default"
    assert page.locator('[id="edge-Fan-Recover-catch"]').text_content().strip() == "States.ALL"
    # The hostile name is text in the drawing, never an element.
    assert view.locator("img, script, foreignObject").count() == 0
    assert "onerror=alert(1)>" in page.locator(f'[id="state-{HOSTILE}"]').text_content()
    # Pan and zoom change only the viewBox; Fit brings the whole drawing back.
    svg = view.locator("svg")

    def view_box():
        return [round(float(n), 2) for n in svg.get_attribute("viewBox").split()]

    home = view_box()
    page.get_by_role("button", name="Zoom in").click()
    zoomed = view_box()
    assert zoomed != home
    box = view.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 40, steps=4)
    page.mouse.up()
    assert view_box() not in (home, zoomed)
    page.get_by_role("button", name="Fit").click()
    assert view_box() == home
    _screenshot(page, "graph-machine-1280.png")

    page.goto(f"{server.url}/executions/{caught}/")
    expected = {"Route": "succeeded", "Fan": "caught", "Items": "succeeded", "Shape": "succeeded",
                HOSTILE: "failed", "Recover": "succeeded", "Done": "succeeded", "Hold": "not-entered",
                "Work": "not-entered"}
    for name, status in expected.items():
        assert f"state-status-{status}" in _classes(page, f"state-{name}"), name
    assert "state-status-caught" in _classes(page, "group-Fan")
    page.locator(".graph-panel").scroll_into_view_if_needed()
    _screenshot(page, "graph-execution-1280.png")

    page.goto(f"{server.url}/executions/{waiting}/")
    assert "state-status-running" in _classes(page, "state-Hold")
    assert "state-status-succeeded" in _classes(page, "state-Route")
    assert "state-status-not-entered" in _classes(page, "state-Fan")

    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{server.url}/executions/{caught}/")
    assert page.locator("[data-graph]").bounding_box()["width"] <= 420
    _screenshot(page, "graph-execution-420.png", full_page=True)
    page.goto(server.url + "/machines/graph-demo/")
    _screenshot(page, "graph-machine-420.png")
    assert page.problems == []
