"""The designer page in Chromium against a real daphne: a user edits a machine with only the palette,
the canvas and the inspector, undoes and redoes, finds the draft after a reload, breaks and fixes the
code, and saves a revision."""

import json
from pathlib import Path

import pytest

from tests.live import DaphneServer

SCREENSHOTS = Path(__file__).parent / "screenshots"
START = {"StartAt": "Fetch",
         "States": {"Fetch": {"Type": "Pass", "Next": "Done"}, "Done": {"Type": "Succeed"}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory, migrated_db_file):
    """A daphne of its own: these tests create machines and drafts."""
    server = DaphneServer(tmp_path_factory.mktemp("designer"), template_db=migrated_db_file).start()
    yield server
    server.stop()


@pytest.fixture
def user_page(server, page):
    server.create_user("designer", "designer-password-1")
    page.goto(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("designer")
    page.get_by_label("Password").fill("designer-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")
    return page


def create_machine(page, server, name: str, definition: dict) -> None:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(server.url + "/create/state-machine/", headers={"X-CSRFToken": token},
                                 form={"name": name, "type": "STANDARD",
                                       "definition": json.dumps(definition)},
                                 max_redirects=0)
    assert response.status == 302, response.text()
    page.request.get(server.url + "/")  # takes the "created" message


def draft(page) -> dict:
    return json.loads(page.evaluate("window.studio.draft.text"))


def open_designer(page, server, name):
    page.goto(f"{server.url}/machines/{name}/design/")
    page.locator("[data-studio][data-ready]").wait_for()


def click_state(page, name: str) -> None:
    page.locator(f'[data-canvas] g.state[id="state-{name}"]').click()
    page.locator(".inspector-form input[name=StateName]").wait_for()
    assert page.locator(".inspector-form input[name=StateName]").input_value() == name


def shoot(page, name: str, selector: str | None = None) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    target = page.locator(selector) if selector else page
    target.screenshot(path=SCREENSHOTS / f"{name}.png")


def wait_for_draft_saved(page) -> None:
    page.locator("[data-draft-status]", has_text="Draft saved").wait_for()


def test_build_with_palette_canvas_and_inspector_then_undo_reload_code_and_save(server, user_page):
    page = user_page
    create_machine(page, server, "Studio", START)
    open_designer(page, server, "Studio")
    page.locator("[data-problems]", has_text="Valid").wait_for()

    # The palette inserts after the selected state, rewiring its Next.
    click_state(page, "Fetch")
    page.get_by_role("button", name="Python function").click()
    page.locator('[data-canvas] g.state[id="state-Call function"]').wait_for()
    assert draft(page)["States"]["Fetch"]["Next"] == "Call function"
    assert draft(page)["States"]["Call function"]["Next"] == "Done"
    page.get_by_role("button", name="Choice").click()
    page.locator('[data-canvas] g.state[id="state-Choice"]').wait_for()
    page.get_by_role("button", name="Fail").click()  # after the Choice: on its Default path
    page.locator('[data-canvas] g.state[id="state-Fail"]').wait_for()
    definition = draft(page)
    assert definition["States"]["Call function"]["Next"] == "Choice"
    assert definition["States"]["Choice"]["Default"] == "Fail"

    # The Choice's rules, in the inspector: two branches.
    click_state(page, "Choice")
    inspector = page.locator("[data-inspector]")
    inspector.get_by_label("Rule 1 variable").fill("$.result.ok")
    inspector.get_by_label("Rule 1 operator").select_option("BooleanEquals")
    inspector.get_by_label("Rule 1 value").fill("true")
    inspector.get_by_label("Rule 1 Next").select_option("Done")
    inspector.get_by_role("button", name="Add rule").click()
    inspector.get_by_label("Rule 2 variable").fill("$.result.retry")
    inspector.get_by_label("Rule 2 operator").select_option("IsPresent")
    inspector.get_by_label("Rule 2 Next").select_option("Fetch")
    rules = draft(page)["States"]["Choice"]["Choices"]
    assert rules == [{"Variable": "$.result.ok", "BooleanEquals": True, "Next": "Done"},
                     {"Variable": "$.result.retry", "IsPresent": True, "Next": "Fetch"}]

    # A field's problem is shown at the field, from the server's validator.
    inspector.get_by_label("Rule 2 variable").fill("no-dollar")
    inspector.locator(".inspector-item .inspector-problems li").first.wait_for()
    inspector.get_by_label("Rule 2 variable").fill("$.result.retry")
    page.locator("[data-problems]", has_text="Valid").wait_for()

    # A Catch on the Task, to the Fail state.
    click_state(page, "Call function")
    inspector.get_by_role("button", name="Add catcher").click()
    inspector.get_by_label("Catch 1 Next").select_option("Fail")
    page.locator('[data-canvas] g[id="edge-Call function-Fail-catch"]').wait_for()
    shoot(page, "designer-canvas-1280", ".studio-centre")
    shoot(page, "designer-inspector-1280", ".studio-inspector")
    shoot(page, "designer-palette-1280", ".studio-palette")

    # Rename updates every reference.
    click_state(page, "Fail")
    name = inspector.locator("input[name=StateName]")
    name.fill("Rejected")
    name.press("Enter")
    page.locator('[data-canvas] g.state[id="state-Rejected"]').wait_for()
    definition = draft(page)
    assert "Fail" not in definition["States"]
    assert definition["States"]["Choice"]["Default"] == "Rejected"
    assert definition["States"]["Call function"]["Catch"][0]["Next"] == "Rejected"

    # Undo and redo (the keyboard, outside the code editor).
    page.locator("[data-canvas] .graph-view").focus()
    page.keyboard.press("Control+z")
    assert "Fail" in draft(page)["States"] and "Rejected" not in draft(page)["States"]
    page.locator('[data-canvas] g.state[id="state-Fail"]').wait_for()
    page.keyboard.press("Control+Shift+z")
    assert draft(page)["States"]["Choice"]["Default"] == "Rejected"
    page.locator('[data-canvas] g.state[id="state-Rejected"]').wait_for()
    built = draft(page)

    # Autosaved: a reload (or a second browser) finds the draft.
    wait_for_draft_saved(page)
    open_designer(page, server, "Studio")
    assert draft(page) == built
    page.locator('[data-canvas] g.state[id="state-Rejected"]').wait_for()
    assert "Your draft" in page.locator("[data-draft-status]").inner_text()

    # The code: same draft; a state selected on the graph puts the cursor on its key.
    click_state(page, "Choice")
    page.get_by_role("tab", name="Code").click()
    page.locator(".cm-content").wait_for()
    selected = page.evaluate("""(() => { const view = document.querySelector('.definition-field').editorView;
        const r = view.state.selection.main; return view.state.sliceDoc(r.from, r.to); })()""")
    assert selected == '"Choice"'
    # Break the JSON: the marker shows, the canvas keeps its last drawing and says why.
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(",")
    page.locator(".cm-lintRange-error").first.wait_for()
    page.locator(".editor-problem").first.wait_for()
    shoot(page, "designer-code-1280", ".studio-centre")
    page.get_by_role("tab", name="Graph").click()
    page.locator("[data-canvas-note]", has_text="last drawing").wait_for()
    assert page.locator('[data-canvas] g.state[id="state-Rejected"]').count() == 1
    # Fixed: the marker goes.
    page.get_by_role("tab", name="Code").click()
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Backspace")
    page.locator(".editor-status", has_text="No problems").wait_for()
    assert page.locator(".cm-lintRange-error").count() == 0
    assert draft(page) == built

    # Save: a new revision.
    page.locator("[data-problems]", has_text="Valid").wait_for()
    page.get_by_role("button", name="Save").click()
    page.locator("[data-save-result]", has_text="Saved as revision 2").wait_for()
    saved = page.request.get(f"{server.url}/machines/Studio/definition.json").json()
    assert saved == built
    page.set_viewport_size({"width": 420, "height": 860})
    page.get_by_role("tab", name="Graph").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    page.screenshot(path=SCREENSHOTS / "designer-page-420.png", full_page=True)
    assert page.problems == []


def test_save_refuses_an_invalid_draft_and_lists_the_problems(server, user_page):
    page = user_page
    create_machine(page, server, "Refused", START)
    open_designer(page, server, "Refused")
    click_state(page, "Done")
    page.get_by_role("button", name="Delete state").click()  # Fetch now ends
    assert draft(page)["States"] == {"Fetch": {"Type": "Pass", "End": True}}
    click_state(page, "Fetch")
    page.get_by_role("button", name="Python function").click()
    page.locator('[data-canvas] g.state[id="state-Call function"]').wait_for()
    resource = page.locator("[data-inspector]").get_by_label("Resource")
    resource.fill("not-an-arn")
    # The validator's problem is shown at the field it names.
    at_resource = '.inspector-field[data-location="/States/Call function/Resource"] .inspector-problems li'
    page.locator(at_resource).wait_for()
    page.get_by_role("button", name="Save").click()
    refused = page.locator("[data-save-result]")
    refused.locator("li", has_text="/States/Call function/Resource").wait_for()
    assert "Not saved" in refused.inner_text()
    shoot(page, "designer-refused-1280")
    # The invalid draft is kept.
    page.locator("[data-draft-status]", has_text="Draft saved").wait_for()
    open_designer(page, server, "Refused")
    assert draft(page)["States"]["Call function"]["Resource"] == "not-an-arn"
    # Discarded, the page is back on the saved revision, and a reload finds no draft.
    page.get_by_role("button", name="Discard draft").click()
    page.locator("[data-draft-status]", has_text="Draft discarded").wait_for()
    assert draft(page) == START
    open_designer(page, server, "Refused")
    assert draft(page) == START and page.get_by_role("button", name="Discard draft").is_hidden()
    # The refused Save is a 400, which Chromium logs; nothing else went wrong.
    refused_save = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert page.problems == [refused_save]


def test_drag_from_the_palette_onto_a_state_or_an_edge(server, user_page):
    page = user_page
    create_machine(page, server, "Dragged", {
        "StartAt": "Check",
        "States": {"Check": {"Type": "Choice", "Default": "Done",
                             "Choices": [{"Variable": "$.ok", "IsPresent": True, "Next": "Done"}]},
                   "Done": {"Type": "Succeed"}}})
    open_designer(page, server, "Dragged")
    # Onto an edge (its label): the Default now goes through the new state.
    page.get_by_role("button", name="Wait", exact=True).drag_to(
        page.locator('[data-canvas] g[id="edge-Check-Done-default"] text'))
    page.locator('[data-canvas] g.state[id="state-Wait"]').wait_for()
    states = draft(page)["States"]
    assert states["Check"]["Default"] == "Wait" and states["Wait"]["Next"] == "Done"
    assert states["Check"]["Choices"][0]["Next"] == "Done"
    # Onto a state: appended after it.
    page.get_by_role("button", name="Pass").drag_to(page.locator('[data-canvas] g.state[id="state-Wait"]'))
    page.locator('[data-canvas] g.state[id="state-Pass"]').wait_for()
    states = draft(page)["States"]
    assert states["Wait"]["Next"] == "Pass" and states["Pass"]["Next"] == "Done"
    page.locator("[data-problems]", has_text="Valid").wait_for()
    # The selected state can be picked from the keyboard too, and deleted: its neighbours are rewired.
    page.locator("[data-inspector]").get_by_label("Selected state").select_option("Wait")
    page.locator("[data-canvas] .graph-view").focus()
    page.keyboard.press("Delete")
    page.locator('[data-canvas] g.state[id="state-Wait"]').wait_for(state="detached")
    assert draft(page)["States"]["Check"]["Default"] == "Pass"
    # Ctrl+D duplicates the selected state right after it.
    click_state(page, "Pass")
    page.locator("[data-canvas] .graph-view").focus()
    page.keyboard.press("Control+d")
    page.locator('[data-canvas] g.state[id="state-Pass copy"]').wait_for()
    states = draft(page)["States"]
    assert states["Pass"]["Next"] == "Pass copy" and states["Pass copy"]["Next"] == "Done"
    assert page.problems == []


def test_jsonata_fields_and_selecting_in_the_code_selects_on_the_graph(server, user_page):
    page = user_page
    create_machine(page, server, "Jsonata", {
        "QueryLanguage": "JSONata", "StartAt": "Decide",
        "States": {"Decide": {"Type": "Choice", "Default": "Work",
                              "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Next": "Work"}]},
                   "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Arguments": {"FunctionName": "greet", "Payload": "{% $states.input %}"},
                            "End": True}}})
    open_designer(page, server, "Jsonata")
    inspector = page.locator("[data-inspector]")
    click_state(page, "Decide")
    assert inspector.get_by_label("Rule 1 condition").input_value() == "{% $states.input.n > 1 %}"
    assert inspector.get_by_label("Rule 1 variable").count() == 0
    shoot(page, "designer-inspector-choice-1280", ".studio-inspector")
    click_state(page, "Work")
    assert inspector.locator("textarea[name=Arguments]").count() == 1
    assert inspector.locator("textarea[name=Parameters]").count() == 0
    assert inspector.locator("input[name=ResultPath]").count() == 0
    inspector.locator("textarea[name=Arguments]").fill('{"FunctionName": "add"}')
    assert draft(page)["States"]["Work"]["Arguments"] == {"FunctionName": "add"}
    # Text that is not JSON yet is kept in the field and not applied.
    inspector.locator("textarea[name=Arguments]").fill('{"FunctionName": ')
    assert inspector.locator("textarea[name=Arguments][aria-invalid=true]").count() == 1
    assert draft(page)["States"]["Work"]["Arguments"] == {"FunctionName": "add"}
    # The cursor put in a state's text in the code selects it.
    page.get_by_role("tab", name="Code").click()
    page.locator(".cm-line", has_text='"Decide": {').click()
    page.locator(".inspector-form input[name=StateName]").wait_for()
    assert inspector.locator("input[name=StateName]").input_value() == "Decide"
    page.get_by_role("tab", name="Graph").click()
    assert page.locator('[data-canvas] g.state.is-selected').get_attribute("id") == "state-Decide"
    assert page.problems == []


def test_an_edit_on_a_100_state_machine_is_validated_and_redrawn_quickly(server, user_page):
    page = user_page
    names = [f"Step {n}" for n in range(100)]
    states = {name: {"Type": "Pass", "Next": names[n + 1]} for n, name in enumerate(names[:-1])}
    states[names[-1]] = {"Type": "Succeed"}
    create_machine(page, server, "Hundred", {"StartAt": names[0], "States": states})
    open_designer(page, server, "Hundred")
    click_state(page, "Step 50")
    rounds = []
    for n in range(5):
        page.evaluate("window.studio.timings.drawMs = window.studio.timings.validateMs = null")
        page.locator("[data-inspector]").get_by_label("Comment").fill(f"edit {n}")
        page.wait_for_function("() => window.studio.timings.drawMs !== null"
                               " && window.studio.timings.validateMs !== null")
        timings = page.evaluate("window.studio.timings")
        rounds.append(max(timings["drawMs"], timings["validateMs"]))
    rounds.sort()
    print(f"edit round trip on 100 states (validate and redraw, after the debounce): "
          f"median {rounds[2]:.0f} ms, worst {rounds[-1]:.0f} ms")
    # The goal is 300 ms; the machine is shared with other test runs, hence the margin.
    assert rounds[2] < 900
    assert page.problems == []


TESTED = {"StartAt": "Call", "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "greet", "Payload.$": "$.who"},
             "ResultSelector": {"greeting.$": "$.Payload"}, "ResultPath": "$.result",
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}], "Next": "Done"},
    "Done": {"Type": "Succeed"}, "Oops": {"Type": "Fail", "Error": "Oops"}}}


def test_test_this_state_shows_every_stage_the_next_state_and_a_caught_error(server, user_page):
    page = user_page
    create_machine(page, server, "Tested", TESTED)
    open_designer(page, server, "Tested")
    click_state(page, "Call")
    panel = page.locator("[data-inspector] [data-test-state]")
    panel.locator("summary").click()
    panel.get_by_label("Test input").fill('{"who": "Ada"}')
    panel.get_by_label("Mock", exact=True).select_option("result")
    panel.get_by_label("Mock result").fill('{"Payload": "Hello Ada"}')
    panel.get_by_role("button", name="Test this state").click()
    outcome = panel.locator(".test-outcome")
    outcome.wait_for()
    assert outcome.inner_text() == "SUCCEEDED · next: Done"
    # No error line for a success (and no stray text where it would be).
    assert panel.locator("[data-test-answer]").evaluate(
        "a => [...a.childNodes].map(n => n.nodeName)") == ["P", "OL"]
    stages = panel.locator(".test-stages li")
    assert [stage.get_attribute("data-stage") for stage in stages.all()] == [
        "input", "afterInputPath", "afterParameters", "result", "afterResultSelector", "afterResultPath",
        "output"]
    parameters = json.loads(panel.locator('[data-stage="afterParameters"] pre').inner_text())
    assert parameters == {"FunctionName": "greet", "Payload": "Ada"}
    output = json.loads(panel.locator('[data-stage="output"] pre').inner_text())
    assert output == {"who": "Ada", "result": {"greeting": "Hello Ada"}}
    page.set_viewport_size({"width": 1280, "height": 2000})  # the inspector grows with the window
    shoot(page, "designer-test-state-1280", ".studio-inspector")

    # An edit elsewhere redraws the inspector: the panel keeps what was typed and stays open.
    page.locator("[data-inspector]").get_by_label("Comment").fill("greets")
    assert panel.get_by_label("Test input").input_value() == '{"who": "Ada"}'
    # A mocked error goes to the catcher; the draft as it is now is what runs (no save needed).
    panel.get_by_label("Mock", exact=True).select_option("error")
    panel.get_by_label("Mock error").fill("Boom")
    panel.get_by_label("Mock cause").fill("it broke")
    panel.get_by_role("button", name="Test this state").click()
    panel.locator(".test-outcome", has_text="CAUGHT_ERROR").wait_for()
    assert outcome.inner_text() == "CAUGHT_ERROR · next: Oops"
    assert panel.locator(".test-error").inner_text() == "Boom: it broke"
    # Input that is not JSON is refused before it is sent.
    panel.get_by_label("Test input").fill("{who")
    panel.get_by_role("button", name="Test this state").click()
    panel.locator(".test-outcome", has_text="not valid JSON").wait_for()
    assert panel.get_by_label("Test input").get_attribute("aria-invalid") == "true"
    shoot(page, "designer-test-state-error-1280", ".studio-inspector")
    assert page.problems == []


def test_compare_two_revisions_and_export_from_the_designer(server, user_page, tmp_path):
    page = user_page
    create_machine(page, server, "Compared", TESTED)
    open_designer(page, server, "Compared")
    # Revision 2: Oops removed (its catcher with it), a Wait added, the Task's timeout changed.
    click_state(page, "Call")
    page.locator("[data-inspector]").get_by_role("button", name="Remove catcher 1").click()
    click_state(page, "Oops")
    page.get_by_role("button", name="Delete state").click()
    click_state(page, "Call")
    page.get_by_role("button", name="Wait", exact=True).click()
    page.locator('[data-canvas] g.state[id="state-Wait"]').wait_for()
    click_state(page, "Call")
    page.locator("[data-inspector]").get_by_label("TimeoutSeconds").fill("30")
    page.locator("[data-problems]", has_text="Valid").wait_for()
    page.get_by_role("button", name="Save").click()
    page.locator("[data-save-result]", has_text="Saved as revision 2").wait_for()

    # Exports of the draft: JSON and YAML from the server, PNG drawn in the page.
    page.locator("[data-export] summary").click()
    with page.expect_download() as got:
        page.get_by_role("button", name="ASL as JSON").click()
    exported = json.loads(Path(got.value.path()).read_text())
    assert exported == draft(page) and exported["States"]["Call"]["TimeoutSeconds"] == 30
    with page.expect_download() as got:
        page.get_by_role("button", name="ASL as YAML").click()
    assert got.value.suggested_filename == "Compared-draft.yaml"
    assert "TimeoutSeconds: 30" in Path(got.value.path()).read_text()
    with page.expect_download() as got:
        page.get_by_role("button", name="Graph as PNG").click()
    png = Path(got.value.path()).read_bytes()
    assert got.value.suggested_filename == "Compared-draft.png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    got.value.save_as(SCREENSHOTS / "designer-export.png")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 100 and height > 300  # four states, top to bottom, drawn at twice their size

    # Compare, from the machine page's two selects.
    page.goto(f"{server.url}/machines/Compared/")
    compare_form = page.locator("form.compare-form")
    compare_form.locator("select[name=a]").select_option("1")
    compare_form.locator("select[name=b]").select_option("2")
    page.get_by_role("button", name="Compare revisions").click()
    page.wait_for_url("**/machines/Compared/compare/?a=1&b=2")
    assert page.locator("[data-compare-summary]").inner_text() == "1 added · 1 removed · 1 changed"
    old, new = page.locator('[data-compare-side="old"]'), page.locator('[data-compare-side="new"]')
    assert old.locator("g.state-diff-removed").get_attribute("id") == "state-Oops"
    assert old.locator("g.state-diff-changed").get_attribute("id") == "state-Call"
    assert new.locator("g.state-diff-added").get_attribute("id") == "state-Wait"
    assert new.locator("g.state-diff-changed").get_attribute("id") == "state-Call"
    # The marks are drawn: a removed state's outline is red, an added one's green.
    assert old.locator("g.state-diff-removed > path").evaluate("p => getComputedStyle(p).stroke") \
        == "rgb(180, 35, 24)"
    assert new.locator("g.state-diff-added > path").evaluate("p => getComputedStyle(p).stroke") \
        == "rgb(21, 128, 61)"
    diff = page.locator("[data-diff]")
    changed_rows = diff.locator("tr.diff-replace, tr.diff-insert")
    assert changed_rows.filter(has_text='"TimeoutSeconds": 30').count() == 1
    page.screenshot(path=SCREENSHOTS / "designer-compare-1280.png", full_page=True)
    assert page.problems == []
