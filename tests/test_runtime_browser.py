"""Machine and execution pages in a real browser (Chromium) against the real daphne server."""

import os


def test_example_workflow_in_the_browser_with_the_json_check(daphne_server, page):
    daphne_server.create_user("cy", "browser-password-2")
    page.goto(daphne_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("cy")
    page.get_by_label("Password").fill("browser-password-2")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(daphne_server.url + "/")
    page.get_by_role("button", name="Create the example workflow").click()
    page.wait_for_url("**/machines/HelloStepwise/")
    # Input that is not JSON is caught before it is sent.
    page.get_by_label("Input (JSON)").fill("{not json")
    page.get_by_role("button", name="Start execution").click()
    assert page.locator("[data-json-error]").is_visible()
    assert "not valid JSON" in page.locator("[data-json-error]").inner_text()
    assert "/machines/HelloStepwise/" in page.url
    page.get_by_label("Input (JSON)").fill('{"name": "Cy", "numbers": [4, 5]}')
    # Checked as you type (the browser's reader, then the server's strict one): the error goes.
    page.locator("[data-json-error]").wait_for(state="hidden")
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*/")
    assert page.get_by_role("heading", name="History").is_visible()
    if os.environ.get("STEPWISE_SCREENSHOTS"):
        page.screenshot(path=os.environ["STEPWISE_SCREENSHOTS"] + "/execution.png", full_page=True)
        page.goto(daphne_server.url + "/machines/HelloStepwise/")
        page.screenshot(path=os.environ["STEPWISE_SCREENSHOTS"] + "/machine.png", full_page=True)
        page.goto(daphne_server.url + "/create/state-machine/")
        page.get_by_label("Name").fill("broken")
        broken = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}'
        page.get_by_label("Definition").fill(broken)
        page.get_by_role("button", name="Create state machine").click()
        page.screenshot(path=os.environ["STEPWISE_SCREENSHOTS"] + "/problems.png", full_page=True)
        page.goto(daphne_server.url + "/")
        page.screenshot(path=os.environ["STEPWISE_SCREENSHOTS"] + "/dashboard.png", full_page=True)
    assert page.problems == []
