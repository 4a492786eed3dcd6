"""The designer page's server side: the page, its drawing, the user's autosaved draft and Save."""

import json

import pytest
from django.test import Client

from designer import runtime
from designer.models import Draft, StateMachineRevision
from designer.studio_views import choice_operators, palette_actions
from engine import iter_problems

pytestmark = pytest.mark.django_db

VALID = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
UNKNOWN_NEXT = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}


@pytest.fixture
def users(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return [django_user_model.objects.create_user(name, password="x") for name in ("ann", "bob")]


@pytest.fixture
def machine():
    return runtime.create_state_machine("Designed", json.dumps(VALID))


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post(client, url, definition, **extra):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return client.post(url, json.dumps({"definition": text}), content_type="application/json", **extra)


URL = "/machines/Designed/design/"


def test_the_machine_page_links_to_the_designer(users, machine):
    page = logged_in(users[0]).get("/machines/Designed/")
    assert b'href="/machines/Designed/design/"' in page.content and b"Edit in designer" in page.content


def test_the_page_has_the_three_panes_the_code_tab_and_no_inline_script(users, machine):
    page = logged_in(users[0]).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    for part in ("data-studio", "studio-palette", "data-canvas", "data-inspector", 'id="tab-code"',
                 "data-definition-editor", 'id="state&#45;A"'):
        assert part in html
    # The setup travels as JSON data, not as a script to run (the CSP forbids inline scripts).
    assert '<script id="studio-setup" type="application/json">' in html
    assert "<script>" not in html
    assert "'unsafe-inline'" not in page["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_login_is_needed(machine):
    assert Client().get(URL).status_code == 302
    assert post(Client(), URL + "draft/", VALID).status_code == 302


def test_posts_need_the_csrf_token(users, machine):
    client = logged_in(users[0], enforce_csrf_checks=True)
    assert post(client, URL + "draft/", VALID).status_code == 403
    assert post(client, URL + "save/", VALID).status_code == 403


def test_a_draft_is_kept_invalid_or_not_and_found_again(users, machine):
    client = logged_in(users[0])
    assert client.get(URL + "draft/").json() == {"draft": None, "definition": machine.definition}
    broken = '{"StartAt": "A", "States": {'
    answer = post(client, URL + "draft/", broken)
    assert answer.status_code == 200 and answer.json()["draft"] is True
    assert client.get(URL + "draft/").json()["definition"] == broken
    # A second save replaces it: one draft per machine and user.
    post(client, URL + "draft/", UNKNOWN_NEXT)
    assert Draft.objects.count() == 1
    # The page opens on the draft, not on the saved definition.
    page = client.get(URL)
    assert json.loads(page.context["setup"]["definition"]) == UNKNOWN_NEXT
    assert page.context["setup"]["draftSaved"]
    machine.refresh_from_db()
    assert json.loads(machine.definition) == VALID  # a draft is not a revision


def test_another_users_draft_is_not_visible(users, machine):
    post(logged_in(users[0]), URL + "draft/", UNKNOWN_NEXT)
    other = logged_in(users[1])
    assert other.get(URL + "draft/").json()["draft"] is None
    assert json.loads(other.get(URL).context["setup"]["definition"]) == VALID


def test_save_makes_a_revision_and_clears_the_draft(users, machine):
    client = logged_in(users[0])
    changed = json.loads(json.dumps(VALID))
    changed["States"]["A"]["Comment"] = "changed"
    post(client, URL + "draft/", changed)
    answer = post(client, URL + "save/", changed)
    assert answer.status_code == 200 and answer.json() == {"saved": True, "revision": 2}
    machine.refresh_from_db()
    assert machine.revision == 2 and json.loads(machine.definition) == changed
    assert StateMachineRevision.objects.filter(machine=machine).count() == 2
    assert not Draft.objects.exists()


def test_save_refuses_an_invalid_definition_with_its_problems(users, machine):
    client = logged_in(users[0])
    post(client, URL + "draft/", UNKNOWN_NEXT)
    answer = post(client, URL + "save/", UNKNOWN_NEXT)
    assert answer.status_code == 400
    body = answer.json()
    assert body["saved"] is False
    assert any(p["location"] == "/States/A/Next" and "Nowhere" in p["message"] for p in body["problems"])
    machine.refresh_from_db()
    assert machine.revision == 1
    assert Draft.objects.get().definition == json.dumps(UNKNOWN_NEXT)  # the draft stays


def test_the_canvas_draws_a_readable_draft_and_says_why_not_otherwise(users, machine):
    client = logged_in(users[0])
    drawn = post(client, URL + "graph/", UNKNOWN_NEXT).json()
    assert drawn["readable"] is True and 'id="missing&#45;Nowhere"' in drawn["svg"]
    refused = post(client, URL + "graph/", '{"StartAt": ').json()
    assert refused["readable"] is False and "not valid JSON" in refused["reason"]
    assert post(client, URL + "graph/", "[1]").json()["readable"] is False


def test_bad_requests_are_400(users, machine):
    client = logged_in(users[0])
    assert client.post(URL + "draft/", "nope", content_type="application/json").status_code == 400
    not_text = json.dumps({"definition": 3})
    assert client.post(URL + "save/", not_text, content_type="application/json").status_code == 400
    assert client.get("/machines/Nope/design/").status_code == 404


@pytest.mark.parametrize("action", palette_actions(), ids=lambda action: action["name"])
def test_every_palette_action_is_a_valid_task(action):
    definition = {"StartAt": "T", "States": {"T": {**action["state"], "End": True}}}
    errors = [p for p in iter_problems(json.dumps(definition)) if p.severity == "ERROR"]
    assert errors == []


def test_the_rule_editor_offers_every_operator_of_the_engine():
    from engine.choice import DATA_TEST_OPERATORS

    assert set(choice_operators()) == DATA_TEST_OPERATORS
