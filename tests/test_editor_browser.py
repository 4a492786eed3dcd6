"""The definition's code editor in a real browser (Chromium) against the real daphne server."""

import json
from pathlib import Path

import pytest

from tests.live import DaphneServer

SCREENSHOTS = Path(__file__).parent / "screenshots"
VALID = {
    "Comment": "Greets, then waits for nothing.",
    "StartAt": "Greet",
    "States": {
        "Greet": {"Type": "Pass", "Result": {"greeting": "hello", "count": 2, "on": True}, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    """A daphne of its own: these tests create machines, and the session's server is expected to keep
    an empty dashboard."""
    server = DaphneServer(tmp_path_factory.mktemp("editor"), template_db=migrated_db_file).start()
    yield server
    server.stop()


@pytest.fixture
def editor_page(server, page):
    """A logged-in page on the new-machine form, every request it makes recorded in `page.requests`."""
    server.create_user("ed", "editor-password-1")
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("ed")
    page.get_by_label("Password").fill("editor-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/create/state-machine/")
    page.locator(".cm-content").wait_for()
    return page


def replace_text(page, text: str) -> None:
    """Select everything in the editor and type `text` over it, as a user pasting would."""
    page.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def editor_text(page) -> str:
    return page.evaluate("document.querySelector('.definition-field').editorView.state.doc.toString()")


def wait_for_status(page, text: str) -> None:
    page.locator(".editor-status", has_text=text).wait_for()


def line_of(page, selector: str) -> str:
    """The text of the editor line holding the first element matching `selector`."""
    return page.locator(f".cm-line:has({selector})").first.inner_text()


def marked_lines(page) -> list[str]:
    """The (stripped) text of every editor line with an error marker."""
    return [line.strip() for line in page.locator(".cm-line:has(.cm-lintRange-error)").all_inner_texts()]


def test_the_editor_loads_offline_and_marks_an_unknown_next_at_its_line(server, editor_page):
    page = editor_page
    assert page.locator("textarea[name=definition]").is_hidden()
    assert page.locator(".cm-lineNumbers").is_visible()
    definition = json.loads(json.dumps(VALID))
    definition["States"]["Greet"]["Next"] = "Nowhere"
    replace_text(page, json.dumps(definition, indent=2))
    problem = page.locator(".editor-problem", has_text="Missing 'Next' target: Nowhere")
    problem.wait_for()
    # Done is now unreachable: a second problem, marked on its own name.
    assert page.locator(".editor-problem").count() == 2
    assert marked_lines(page) == ['"Next": "Nowhere"', '"Done": {']
    # The form's textarea follows the editor, for the normal POST.
    assert json.loads(page.locator("textarea[name=definition]").input_value()) == definition
    # A click on the problem puts the cursor on it.
    problem.click()
    assert page.evaluate("""(() => { const view = document.querySelector('.definition-field').editorView;
        const range = view.state.selection.main; return view.state.sliceDoc(range.from, range.to); })()""") \
        == '"Nowhere"'
    # The validator's message is in the marker's tooltip too.
    page.locator(".cm-lintRange-error").first.hover()
    page.locator(".cm-tooltip-lint", has_text="Missing 'Next' target: Nowhere").wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "editor-problems-1280.png", full_page=True)
    # Fixed, the markers go.
    replace_text(page, json.dumps(VALID, indent=2))
    wait_for_status(page, "No problems")
    assert page.locator(".cm-lintRange-error").count() == 0
    assert page.locator(".editor-problem").count() == 0
    assert page.problems == []
    outside = [url for url in page.requests if not url.startswith(server.url + "/")]
    assert outside == []
    assert any(url.endswith("/editor/validate/") for url in page.requests)
    assert any("/static/vendor/codemirror-6.0.2/codemirror.js" in url for url in page.requests)


def test_a_json_syntax_error_shows_at_its_line_and_column(editor_page):
    page = editor_page
    replace_text(page, '{\n  "StartAt": "A",\n  "States": {\n    "A": {"Type": "Pass" "End": true}\n  }\n}')
    problem = page.locator(".editor-problem", has_text="Expecting")
    problem.wait_for()
    assert "Line 4" in problem.inner_text() and "Expecting ',' delimiter" in problem.inner_text()
    # Python's reader stops at the second string: the marker is there.
    marked = page.locator(".cm-lintRange-error").first
    assert marked.inner_text() == '"'
    assert '"Type": "Pass" "End"' in line_of(page, ".cm-lintRange-error")
    assert page.problems == []


def test_yaml_and_back_keeps_the_definition(editor_page):
    page = editor_page
    replace_text(page, json.dumps(VALID, indent=2))
    wait_for_status(page, "No problems")
    page.locator(".format-toggle label", has_text="YAML").click()
    assert "StartAt: Greet" in editor_text(page)
    assert page.get_by_role("radio", name="YAML").is_checked()
    wait_for_status(page, "No problems")
    # Problems are marked in YAML too, at their place.
    replace_text(page, editor_text(page).replace("Next: Done", "Next: Gone"))
    page.locator(".editor-problem", has_text="Missing 'Next' target: Gone").wait_for()
    assert "Next: Gone" in line_of(page, ".cm-lintRange-error")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "editor-yaml-1280.png", full_page=True)
    replace_text(page, editor_text(page).replace("Next: Gone", "Next: Done"))
    page.locator(".format-toggle label", has_text="JSON").click()
    assert json.loads(editor_text(page)) == VALID
    assert json.loads(page.locator("textarea[name=definition]").input_value()) == VALID
    assert page.problems == []


def test_invalid_json_refuses_to_switch_and_keeps_the_text(editor_page):
    page = editor_page
    broken = '{"StartAt": "A",\n "States": {"A": {"Type": "Pass", "End": true},}\n}'
    replace_text(page, broken)
    page.locator(".format-toggle label", has_text="YAML").click()
    message = page.locator(".editor-message")
    assert message.is_visible()
    assert "cannot be shown as YAML" in message.inner_text() and "line 2" in message.inner_text()
    assert page.get_by_role("radio", name="JSON").is_checked()
    assert editor_text(page) == broken
    page.locator(".editor-problem", has_text="Illegal trailing comma").wait_for()
    page.set_viewport_size({"width": 420, "height": 800})
    page.screenshot(path=SCREENSHOTS / "editor-refused-420.png", full_page=True)
    assert page.problems == []


def test_submitting_from_the_yaml_view_creates_the_machine(server, editor_page):
    page = editor_page
    page.get_by_label("Name").fill("FromTheEditor")
    page.locator(".format-toggle label", has_text="YAML").click()  # an empty text switches too
    replace_text(page, "StartAt: Greet\nStates:\n  Greet:\n    Type: Pass\n    End: true\n")
    wait_for_status(page, "No problems")
    page.get_by_role("button", name="Create state machine").click()
    page.wait_for_url("**/machines/FromTheEditor/")
    assert page.get_by_text("State machine FromTheEditor created.").is_visible()
    stored = json.loads(page.request.get(server.url + "/machines/FromTheEditor/definition.json").text())
    assert stored == {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "End": True}}}
    assert page.problems == []


def test_the_editor_at_phone_width(editor_page):
    page = editor_page
    page.set_viewport_size({"width": 420, "height": 860})
    definition = json.loads(json.dumps(VALID))
    definition["States"]["Greet"]["Next"] = "Nowhere"
    replace_text(page, json.dumps(definition, indent=2))
    page.locator(".editor-problem", has_text="Nowhere").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    # Nothing in the form is cut off by the panel's edge (the file input used to be).
    overflowing = page.evaluate("""(() => { const form = document.querySelector('.machine-form');
        const edge = form.getBoundingClientRect().right;
        return [...form.children].filter((child) => child.getBoundingClientRect().right > edge)
                                 .map((child) => child.className); })()""")
    assert overflowing == []
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "editor-problems-420.png", full_page=True)
    assert page.problems == []


def test_without_javascript_the_plain_textarea_form_works(server, chromium):
    server.create_user("nojs", "editor-password-2")
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "/accounts/login/")
        page.get_by_label("Username").fill("nojs")
        page.get_by_label("Password").fill("editor-password-2")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(server.url + "/")
        page.goto(server.url + "/create/state-machine/")
        assert page.locator(".cm-editor").count() == 0
        assert page.locator("[data-editor-format]").is_hidden()
        page.get_by_label("Name").fill("WithoutScript")
        page.get_by_label("Definition").fill(json.dumps(VALID, indent=2))
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "editor-no-javascript-1280.png", full_page=True)
        page.get_by_role("button", name="Create state machine").click()
        page.wait_for_url("**/machines/WithoutScript/")
        assert page.get_by_text("State machine WithoutScript created.").is_visible()
    finally:
        context.close()
