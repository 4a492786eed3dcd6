"""Pages for state machines and executions, through Django's test client."""

import json

import pytest
from django.urls import reverse

from designer import runtime
from designer.examples import EXAMPLE_NAME
from designer.models import Execution, StateMachine
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def test_dashboard_lists_machines_and_recent_executions(client):
    machine = runtime.create_state_machine("listed", PASS)
    execution = runtime.start_execution(machine, name="run-1")
    html = client.get(reverse("dashboard")).content.decode()
    assert machine.get_absolute_url() in html and execution.get_absolute_url() in html
    assert "status-running" in html


def test_create_machine_from_pasted_definition(client):
    form = {"name": "pasted", "type": "STANDARD", "definition": PASS}
    response = client.post(reverse("machine-create"), form)
    machine = StateMachine.objects.get(name="pasted")
    assert response.status_code == 302 and response.headers["Location"] == machine.get_absolute_url()


def test_create_machine_from_uploaded_file(client, tmp_path):
    path = tmp_path / "machine.asl.json"
    path.write_text(PASS)
    with open(path, "rb") as upload:
        response = client.post(reverse("machine-create"),
                               {"name": "uploaded", "type": "EXPRESS", "definition": "", "file": upload})
    assert response.status_code == 302
    assert StateMachine.objects.get(name="uploaded").type == "EXPRESS"


def test_invalid_definition_shows_each_problem_at_its_path(client):
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    response = client.post(reverse("machine-create"), {"name": "bad", "type": "STANDARD", "definition": bad})
    assert response.status_code == 200
    html = response.content.decode()
    assert "MISSING_TRANSITION_TARGET" in html and "/States/A/Next" in html
    assert not StateMachine.objects.exists()
    assert "Nowhere" in html  # the definition is kept in the form


def test_start_execution_from_the_machine_page_and_see_its_history(client):
    machine = runtime.create_state_machine("startable", PASS)
    page = client.get(machine.get_absolute_url()).content.decode()
    assert "data-json-input" in page and "js/input-editor.js" in page
    form = {"input": '{"a": 1}', "name": "mine"}
    response = client.post(reverse("machine-start", args=["startable"]), form)
    execution = Execution.objects.get(name="mine")
    assert response.headers["Location"] == execution.get_absolute_url()
    drain()
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "PassStateEntered" in html and "ExecutionSucceeded" in html and "status-succeeded" in html
    assert "&quot;ok&quot;: true" in html


def test_bad_input_is_refused_with_a_message_and_kept(client):
    machine = runtime.create_state_machine("picky", PASS)
    response = client.post(reverse("machine-start", args=["picky"]), {"input": "{oops"})
    html = response.content.decode()
    # The page again, with the strict reader's reason at the input field and the text kept.
    assert response.status_code == 400
    assert "The input is not valid JSON: Expecting property name enclosed in double quotes" in html
    assert "{oops" in html
    assert not Execution.objects.filter(machine=machine).exists()


def test_failed_execution_shows_error_and_cause(client):
    machine = runtime.create_state_machine("failing", json.dumps(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "it broke"}}}))
    execution = runtime.start_execution(machine)
    drain()
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "Oops" in html and "it broke" in html and "status-failed" in html


def test_stop_button_aborts_a_running_execution(client):
    machine = runtime.create_state_machine("long", json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}))
    execution = runtime.start_execution(machine)
    drain()
    assert "Stop execution" in client.get(execution.get_absolute_url()).content.decode()
    client.post(reverse("execution-stop", args=[execution.pk]))
    execution.refresh_from_db()
    assert execution.status == "ABORTED"


def test_example_workflow_is_one_click_and_runs(client):
    response = client.post(reverse("machine-example"))
    machine = StateMachine.objects.get(name=EXAMPLE_NAME)
    assert response.headers["Location"] == machine.get_absolute_url()
    assert "Ada" in client.get(machine.get_absolute_url()).content.decode()  # the suggested input
    execution = runtime.start_execution(machine, json.dumps({"name": "Ada", "numbers": [1, 2, 3]}))
    drain()
    execution.refresh_from_db()
    assert execution.status == "RUNNING"  # parked on its one-second Wait
    assert client.post(reverse("machine-example")).headers["Location"] == machine.get_absolute_url()


def test_sync_express_from_the_page_shows_the_result(client):
    runtime.create_state_machine("fast", PASS, "EXPRESS")
    response = client.post(reverse("machine-start", args=["fast"]), {"input": "{}"}, follow=True)
    html = response.content.decode()
    assert "status-succeeded" in html and "keep no history" in html


def test_redrive_button_continues_a_failed_execution(client):
    machine = runtime.create_state_machine("again", json.dumps(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops"}}}))
    execution = runtime.start_execution(machine)
    drain()
    assert "Redrive" in client.get(execution.get_absolute_url()).content.decode()
    client.post(reverse("execution-redrive", args=[execution.pk]))
    execution.refresh_from_db()
    assert execution.redrive_count == 1
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "ExecutionRedriven" in html and "status-failed" in html  # a Fail state fails again, as on AWS


def test_execution_page_lists_task_attempts(client):
    machine = runtime.create_state_machine("attempted", json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet", "End": True}}}))
    execution = runtime.start_execution(machine, '{"name": "Di"}')
    drain()
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "Task attempts" in html and "status-succeeded" in html and "Hello, Di!" in html
