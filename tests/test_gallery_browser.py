"""The list, the gallery, starting an execution and deleting, in Chromium against a real daphne."""

import json
from pathlib import Path

import pytest

from tests.live import DaphneServer

SCREENSHOTS = Path(__file__).parent / "screenshots"
WAIT = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    """A daphne of its own (these tests create machines; the session's server keeps an empty dashboard).
    It runs no worker: a Standard execution stays RUNNING, which the delete test needs."""
    server = DaphneServer(tmp_path_factory.mktemp("gallery"), template_db=migrated_db_file).start()
    yield server
    server.stop()


@pytest.fixture
def user_page(server, page):
    username = f"user{id(page)}"
    server.create_user(username, "gallery-password-1")
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("gallery-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")
    return page


def create_machine(page, server, name: str, definition: dict) -> None:
    """Through the New form's POST, as the page itself would send it."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(server.url + "/create/state-machine/", headers={"X-CSRFToken": token},
                                 form={"name": name, "type": "STANDARD",
                                       "definition": json.dumps(definition)},
                                 max_redirects=0)
    assert response.status == 302, response.text()
    page.request.get(server.url + "/")  # takes the "created" message, so that screenshots stay clean


def type_into(page, editor, text: str) -> None:
    editor.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (1280, 420):
        page.set_viewport_size({"width": width, "height": 860})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} overflows at {width}"
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_from_the_gallery_to_a_started_execution(server, user_page):
    page = user_page
    page.get_by_role("link", name="State machines", exact=True).click()
    page.wait_for_url("**/machines/")
    shoot(page, "machines-empty")
    page.get_by_role("link", name="Create a state machine").click()
    page.wait_for_url("**/create/")
    # Every preview is a drawn graph.
    previews = page.locator(".template-preview img")
    assert previews.count() == 9
    page.wait_for_function("() => [...document.querySelectorAll('.template-preview img')]"
                           ".every((img) => img.complete && img.naturalWidth > 0)")
    shoot(page, "gallery")
    page.locator(".template-card", has_text="Hello world").click()
    page.wait_for_url("**/create/state-machine/?template=hello-world")
    assert page.get_by_label("Name").input_value() == "HelloWorld"
    page.locator(".editor-status", has_text="No problems").wait_for()
    page.get_by_role("button", name="Create state machine").click()
    page.wait_for_url("**/machines/HelloWorld/")

    editor = page.locator(".input-field")
    editor.locator(".cm-content").wait_for()
    assert page.locator("textarea[name=input]").is_hidden()
    assert json.loads(page.evaluate(
        "document.querySelector('.input-field').editorView.state.doc.toString()")) == {"name": "Ada"}
    # A syntax error is shown at the field, at its place, and the form is not sent.
    error = page.locator("#execution-input-error")
    type_into(page, editor, '{\n  "name": "Grace",\n}')
    error.filter(has_text="line 3, column 1").wait_for()
    page.get_by_role("button", name="Start execution").click()
    assert "/machines/HelloWorld/" in page.url and error.is_visible()
    assert page.locator(".input-editor .cm-lintRange-error").count() == 1
    shoot(page, "start-input-error")
    # What JSON.parse accepts and AWS does not: the server's strict reader says so.
    type_into(page, editor, '{"name": "Grace", "big": 1e400}')
    error.filter(has_text="Number out of range: 1e400").wait_for()
    type_into(page, editor, '{"name": "Grace"}')
    page.wait_for_function("() => document.querySelector('#execution-input-error').hidden")
    page.get_by_label("Name", exact=False).last.fill("typed-in-the-editor")
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*/")
    assert page.locator("h1", has_text="typed-in-the-editor").is_visible()
    assert "Grace" in page.locator("main").inner_text()
    assert page.problems == []


def test_search_the_list_with_the_keyboard(server, user_page):
    page = user_page
    for name in ("OrderIntake", "OrderRefunds", "Billing", "Shipping"):
        create_machine(page, server, name, PASS)
    page.goto(server.url + "/machines/")
    total = page.locator("tr[data-machine-row]").count()  # the other tests' machines too
    assert total >= 4
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("order")
    # Filtered at once, then the server's answer (the URL follows, for reload and back).
    page.wait_for_url("**/machines/?q=order*")
    assert page.locator("tr[data-machine-row]:visible").all_inner_texts()[0].startswith("OrderIntake")
    assert page.locator("tr[data-machine-row]:visible").count() == 2
    assert page.locator("[data-machine-count]").inner_text() == "2"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("j")
    assert page.locator("tr[aria-selected=true]").inner_text().startswith("OrderRefunds")
    shoot(page, "machines-search")
    page.keyboard.press("k")
    assert page.locator("tr[aria-selected=true]").inner_text().startswith("OrderIntake")
    page.keyboard.press("Enter")
    page.wait_for_url("**/machines/OrderIntake/")
    page.go_back()
    # A search that finds nothing says so; Esc clears it and everything is back.
    page.keyboard.press("/")
    page.keyboard.insert_text("zzz")
    page.locator(".empty", has_text="No state machines match “zzz”").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_function("(total) => document.querySelectorAll('tr[data-machine-row]').length === total",
                           arg=total)
    # Sorted by name, the other way round.
    page.get_by_role("link", name="Name ↑").click()
    page.wait_for_url("**sort=-name*")
    assert page.locator("td.machine-name").first.inner_text() == "Shipping"
    assert page.problems == []


def test_delete_with_confirmation(server, user_page):
    page = user_page
    create_machine(page, server, "LongWait", WAIT)
    page.goto(server.url + "/machines/LongWait/")
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*/")
    page.goto(server.url + "/machines/LongWait/")
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url("**/machines/LongWait/delete/")
    assert "1 execution is still running" in page.locator("main").inner_text()
    shoot(page, "delete-confirm")
    page.get_by_role("button", name="Delete LongWait").click()
    page.locator(".message-error", has_text="LongWait has 1 running execution").wait_for()
    page.get_by_label("Stop it and delete").check()
    page.get_by_role("button", name="Delete LongWait").click()
    page.wait_for_url("**/machines/")
    assert page.get_by_text("State machine LongWait deleted.").is_visible()
    assert page.locator("td.machine-name", has_text="LongWait").count() == 0
    assert page.problems == []
