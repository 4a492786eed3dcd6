"""The New page: the template gallery, importing JSON and YAML files, and deleting a machine."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from designer import runtime
from designer.definition_files import DefinitionFileError, yaml_to_json
from designer.models import Execution, StateMachine
from designer.templates_gallery import all_templates
from engine import iter_problems
from tests.test_runtime import drain, make_due

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATES = all_templates()
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
# Seven levels of ten aliases each: 10**6 values from a few hundred bytes ("billion laughs").
ALIAS_BOMB = "l0: &l0 [1]\n" + "".join(
    f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]\n" for level in range(1, 8))
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def test_the_gallery_has_every_template_the_issue_names():
    titles = {template.title for template in TEMPLATES}
    assert titles == {"Hello world", "Retry and catch", "Parallel", "Map over items", "Distributed map",
                      "Wait for a callback", "Human approval", "Nested execution", "JSONata with variables"}
    assert len({template.slug for template in TEMPLATES}) == len(TEMPLATES)
    assert all(t.description.endswith(".") and "\n" not in t.description for t in TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.slug)
def test_every_template_passes_the_engine_validator(template):
    problems = list(iter_problems(template.definition_text(), state_machine_type=template.machine_type))
    assert problems == []  # not even a warning


def test_the_templates_use_what_they_are_named_for():
    by_slug = {template.slug: template.definition_text() for template in TEMPLATES}
    assert "arn:aws:states:::lambda:invoke.waitForTaskToken" in by_slug["wait-for-callback"]
    approval = next(t for t in TEMPLATES if t.slug == "human-approval").definition["States"]
    assert approval["AskForApproval"]["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert approval["Decision"]["Type"] == "Choice"
    assert "arn:aws:states:::states:startExecution.sync:2" in by_slug["nested-execution"]
    assert '"Mode": "DISTRIBUTED"' in by_slug["distributed-map"]
    jsonata = by_slug["jsonata-variables"]
    assert '"QueryLanguage": "JSONata"' in jsonata and '"Assign"' in jsonata


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.slug)
def test_choosing_a_template_prefills_the_form_and_creates_the_machine(client, template):
    page = client.get(reverse("machine-create"), {"template": template.slug})
    assert page.context["form"]["name"] == template.machine_name
    assert json.loads(page.context["form"]["definition"]) == template.definition
    form = {"name": template.machine_name, "type": template.machine_type,
            "definition": page.context["form"]["definition"]}
    response = client.post(reverse("machine-create"), form)
    machine = StateMachine.objects.get(name=template.machine_name)
    assert response.status_code == 302 and response.headers["Location"] == machine.get_absolute_url()
    # Its page offers the template's sample input to start with.
    assert json.loads(client.get(machine.get_absolute_url()).context["input"]) == template.sample_input


def test_the_hello_world_template_runs_to_the_end(client, settings):
    template = TEMPLATES[0]
    machine = runtime.create_state_machine(template.machine_name, template.definition_text())
    execution = runtime.start_execution(machine, json.dumps(template.sample_input))
    drain()
    settings.STEPWISE_CLOCK_OFFSET += 1.5  # past its Wait of one second
    make_due()
    drain()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED", execution.cause
    assert json.loads(execution.output) == {"message": "Hello, Ada!", "done": True}


def test_the_new_page_shows_blank_import_and_each_template_with_its_preview(client):
    html = client.get(reverse("machine-new")).content.decode()
    assert "Blank" in html and "Import a file" in html
    for template in TEMPLATES:
        assert f"?template={template.slug}" in html and template.description in html
        assert reverse("template-preview", args=[template.slug]) in html


def test_a_template_preview_is_its_graph_as_an_svg_image(client):
    response = client.get(reverse("template-preview", args=["parallel"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert "max-age=3600" in response.headers["Cache-Control"]
    svg = response.content.decode()
    assert svg.startswith("<svg") and "state&#45;Both" in svg and "state&#45;Join" in svg
    assert client.get(reverse("template-preview", args=["no-such"])).status_code == 404


def test_an_unknown_template_gives_the_blank_form(client):
    page = client.get(reverse("machine-create"), {"template": "nope"})
    assert page.context["form"]["definition"] == "" and page.context["template"] is None


# -- import ---------------------------------------------------------------------------------------
def upload(client, name: str, content: str | bytes, machine_name: str = "imported"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(reverse("machine-create"), {
        "name": machine_name, "type": "STANDARD", "definition": "",
        "file": SimpleUploadedFile(name, data)})


def test_import_a_yaml_file(client):
    response = upload(client, "flow.yaml", "StartAt: Hello\nStates:\n  Hello:\n    Type: Pass\n"
                                           "    End: true\n")
    machine = StateMachine.objects.get(name="imported")
    assert response.headers["Location"] == machine.get_absolute_url()
    assert json.loads(machine.definition) == {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass",
                                                                                      "End": True}}}


def test_import_a_json_file_keeps_its_text(client):
    upload(client, "flow.asl.json", PASS)
    assert StateMachine.objects.get(name="imported").definition == PASS


def test_yaml_is_read_as_the_editor_reads_it_yaml_1_2_core():
    # PyYAML's YAML 1.1 would make `No` false, `on` true, 010 eight and 1:30 ninety.
    text = ("StartAt: No\nStates:\n"
            "  No: {Type: Pass, End: true, Result: [on, 010, '1:30', 1:30, 0x1F, 2024-01-01]}\n")
    value = json.loads(yaml_to_json(text))
    assert value["StartAt"] == "No"
    assert value["States"]["No"]["Result"] == ["on", 10, "1:30", "1:30", 31, "2024-01-01"]


@pytest.mark.parametrize(("text", "message"), [
    ("StartAt: [unclosed\n", "not valid YAML: "),
    ("- StartAt: A\n", "must be a mapping (an object with StartAt and States); this YAML document is a list"),
    ("just a string\n", "this YAML document is a string"),
    ("", "this YAML document is empty"),
    ("StartAt: A\nStates:\n  A: {Type: Pass, End: true, Result: !!timestamp 2024-01-01}\n",
     "At /States/A/Result: the date 2024-01-01 has no JSON form"),
    ("StartAt: A\nStates:\n  A: {Type: Pass, End: true, Result: .nan}\n",
     "At /States/A/Result: nan is not a JSON number"),
    ("StartAt: A\nStates:\n  A: {Type: Pass, End: true, Result: -.inf}\n", "-inf is not a JSON number"),
    ("StartAt: A\n1: x\n", "At /: the key 1 is a number; JSON keys are strings"),
    ("a: !!python/object/apply:os.system [echo pwned]\n", "could not determine a constructor"),
    (ALIAS_BOMB, "expands to more than"),
])
def test_bad_yaml_is_refused_with_a_clear_message(text, message):
    with pytest.raises(DefinitionFileError) as refused:
        yaml_to_json(text)
    assert message in str(refused.value)


def test_bad_yaml_upload_shows_the_reason_on_the_form(client):
    response = upload(client, "broken.yml", "StartAt: A\nStates: [unclosed\n")
    assert response.status_code == 200
    html = response.content.decode()
    assert "broken.yml: The file is not valid YAML:" in html and "line 3" in html
    assert not StateMachine.objects.exists()


def test_a_yaml_definition_with_problems_is_shown_converted_with_them(client):
    response = upload(client, "flow.yaml", "StartAt: A\nStates:\n  A: {Type: Pass, Next: Nowhere}\n")
    assert response.status_code == 200
    assert "MISSING_TRANSITION_TARGET" in response.content.decode()
    assert json.loads(response.context["form"]["definition"])["States"]["A"]["Next"] == "Nowhere"


def test_a_file_that_is_not_utf8_is_refused(client):
    response = upload(client, "flow.yaml", b"StartAt: \xff\n")
    assert "not UTF-8" in response.content.decode() and not StateMachine.objects.exists()


# -- delete ---------------------------------------------------------------------------------------
def test_the_confirmation_says_how_many_executions_go(client):
    machine = runtime.create_state_machine("doomed", PASS)
    for _ in range(3):
        runtime.start_execution(machine)
    drain()
    html = client.get(reverse("machine-delete", args=["doomed"])).content.decode()
    assert "Delete doomed?" in html and "3 executions" in html and "still running" not in html
    assert 'name="csrfmiddlewaretoken"' in html
    # The machine page links to it.
    machine_page = client.get(machine.get_absolute_url()).content.decode()
    assert reverse("machine-delete", args=["doomed"]) in machine_page


def test_delete_removes_the_machine_and_its_executions_and_returns_to_the_list(client):
    machine = runtime.create_state_machine("doomed", PASS)
    runtime.start_execution(machine)
    drain()
    response = client.post(reverse("machine-delete", args=["doomed"]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("machines")
    assert "State machine doomed deleted." in response.content.decode()
    assert not StateMachine.objects.exists() and not Execution.objects.exists()


def test_delete_is_refused_while_executions_run_unless_they_are_to_be_stopped(client):
    machine = runtime.create_state_machine("busy", WAIT)
    running = runtime.start_execution(machine)
    drain()
    html = client.get(reverse("machine-delete", args=["busy"])).content.decode()
    assert "1 execution is still running" in html and 'name="stop_running"' in html
    response = client.post(reverse("machine-delete", args=["busy"]), follow=True)
    assert "busy has 1 running execution" in response.content.decode()
    assert StateMachine.objects.filter(name="busy").exists()
    running.refresh_from_db()
    assert running.status == "RUNNING"
    # Ticked, the runtime stops it (as AWS's DeleteStateMachine does) and deletes everything.
    response = client.post(reverse("machine-delete", args=["busy"]), {"stop_running": "yes"})
    assert response.headers["Location"] == reverse("machines")
    assert not StateMachine.objects.exists() and not Execution.objects.exists()


def test_delete_needs_a_post_with_the_csrf_token(client, django_user_model):
    from django.test import Client

    runtime.create_state_machine("kept", PASS)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.get(username="alice"))
    assert strict.post(reverse("machine-delete", args=["kept"])).status_code == 403
    assert StateMachine.objects.filter(name="kept").exists()


# -- start execution: the input checked at the field ------------------------------------------------
def test_an_invalid_input_is_shown_at_the_field_with_the_text_kept(client):
    runtime.create_state_machine("startable", PASS)
    response = client.post(reverse("machine-start", args=["startable"]),
                           {"input": '{"a": 1,}', "name": "mine"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and "The input is not valid JSON" in html
    assert "line 1 column 8" in html
    assert "{&quot;a&quot;: 1,}" in html and 'value="mine"' in html
    assert not Execution.objects.exists()


def test_the_strict_reader_refuses_what_json_parse_accepts(client):
    response = client.post(reverse("editor-check-input"), {"input": '{"big": 1e400}'},
                           content_type="application/json")
    answer = response.json()
    assert answer == {"ok": False, "message": "The input is not valid JSON: Number out of range: 1e400"}
    assert client.post(reverse("editor-check-input"), {"input": '{"a": [1, 2]}'},
                       content_type="application/json").json() == {"ok": True}
    answer = client.post(reverse("editor-check-input"), {"input": '{\n  "a": tru\n}'},
                         content_type="application/json").json()
    assert (answer["ok"], answer["line"], answer["column"]) == (False, 2, 8)
    assert client.post(reverse("editor-check-input"), {"nope": 1},
                       content_type="application/json").status_code == 400
