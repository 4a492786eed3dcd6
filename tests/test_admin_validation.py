"""The admin changes state machines only through the runtime's checks, and executions not at all."""

import json

import pytest

from designer import runtime
from designer.models import AccessKey, Execution, HistoryEvent, StateMachine
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/designer/statemachine/add/"


def _pass(result) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}})


@pytest.fixture
def admin_client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    return client


def _change_url(machine) -> str:
    return f"/admin/designer/statemachine/{machine.pk}/change/"


def _post_form(client, url, **fields):
    """GET the admin form at `url`, then POST it with `fields` changed, as a browser would."""
    page = client.get(url)
    form = page.context["adminform"].form
    data = {form.add_prefix(name): form.initial.get(name, field.initial)
            for name, field in form.fields.items()}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form.initial
        data.update({f"{formset.prefix}-{key}": value for key, value in management.items()})
        for each in formset.initial_forms:
            data[each.add_prefix("id")] = each.instance.pk
            data[each.add_prefix("machine")] = each.instance.machine_id
    data.update(fields)
    return client.post(url, {key: "" if value is None else value for key, value in data.items()})


def _errors(response, field) -> str:
    return " ".join(response.context["adminform"].form.errors.get(field, []))


def test_adding_a_machine_with_bad_json_and_an_html_name_is_refused_on_the_fields(admin_client):
    response = _post_form(admin_client, ADD, name="<b>bold</b>", type="STANDARD",
                          definition="not json at all")
    assert response.status_code == 200
    assert "Invalid Name: '<b>bold</b>'" in _errors(response, "name")
    assert "INVALID_JSON_DESCRIPTION" in _errors(response, "definition")
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.content.decode()  # shown escaped
    assert not StateMachine.objects.exists()


def test_an_invalid_definition_is_refused_with_the_validators_message(admin_client):
    broken = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    response = _post_form(admin_client, ADD, name="broken", type="STANDARD", definition=broken)
    assert "MISSING_TRANSITION_TARGET" in _errors(response, "definition")
    assert "/States/A/Next" in _errors(response, "definition")
    express_only = _post_form(admin_client, ADD, name="fast", type="EXPRESS", definition=_pass(1),
                              role_arn="not-an-arn")
    assert "Invalid Arn" in _errors(express_only, "role_arn")
    assert not StateMachine.objects.exists()


def test_a_valid_machine_added_in_the_admin_is_made_by_the_runtime(admin_client):
    response = _post_form(admin_client, ADD, name="added", type="STANDARD", definition=_pass(1))
    assert response.status_code == 302
    machine = StateMachine.objects.get(name="added")
    assert machine.revision == 1 and machine.current_revision().definition == _pass(1)


def test_editing_a_definition_refuses_bad_json_and_keeps_the_old_one(admin_client):
    machine = runtime.create_state_machine("kept", _pass("old"))
    response = _post_form(admin_client, _change_url(machine), definition="not json at all")
    assert response.status_code == 200 and "INVALID_JSON_DESCRIPTION" in _errors(response, "definition")
    machine.refresh_from_db()
    assert machine.definition == _pass("old") and machine.revision == 1


def test_a_valid_edit_makes_a_new_revision_that_new_executions_run(admin_client):
    machine = runtime.create_state_machine("edited", _pass("old"))
    before = runtime.start_execution(machine, "{}")
    response = _post_form(admin_client, _change_url(machine), definition=_pass("new"), name="renamed")
    assert response.status_code == 302
    machine.refresh_from_db()
    assert machine.name == "edited"  # names never change, as on AWS
    assert machine.revision == 2 and machine.current_revision().definition == _pass("new")
    after = runtime.start_execution(machine, "{}")
    drain()
    before.refresh_from_db(), after.refresh_from_db()
    assert (before.revision.number, json.loads(before.output)) == (1, "old")
    assert (after.revision.number, json.loads(after.output)) == (2, "new")


def test_deleting_a_machine_in_the_admin_goes_through_the_runtime(admin_client, monkeypatch):
    machine = runtime.create_state_machine("doomed", _pass(1))
    runtime.start_execution(machine, "{}")
    deleted = []
    real_delete = runtime.delete_state_machine
    monkeypatch.setattr(runtime, "delete_state_machine", lambda m: (deleted.append(m.name), real_delete(m)))
    response = admin_client.post(f"/admin/designer/statemachine/{machine.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and deleted == ["doomed"]
    assert not StateMachine.objects.exists() and not Execution.objects.exists()


def test_executions_and_keys_are_shown_but_never_saved_in_the_admin(admin_client, django_user_model):
    machine = runtime.create_state_machine("watched", _pass(1))
    execution = runtime.start_execution(machine, "{}")
    drain()
    url = f"/admin/designer/execution/{execution.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert f"/executions/{execution.pk}/history.json" in page.content.decode()
    assert admin_client.post(url, {"status": "RUNNING"}).status_code == 403
    delete = admin_client.post(f"/admin/designer/execution/{execution.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    event = execution.events.last()
    HistoryEvent.objects.filter(pk=event.pk).update(details={"s": "\ud800", "big": "z" * 300_000})
    shown = admin_client.get(f"/admin/designer/historyevent/{event.pk}/change/")
    assert shown.status_code == 200 and "\\ud800" in shown.content.decode() and len(shown.content) < 200_000
    for model in ("historyevent", "taskattempt", "maprun"):
        assert admin_client.get(f"/admin/designer/{model}/add/").status_code == 403
    key, _secret = AccessKey.issue(django_user_model.objects.get(username="root"))
    assert admin_client.post(f"/admin/designer/accesskey/{key.pk}/change/", {}).status_code == 403
    admin_client.post("/admin/designer/accesskey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"
