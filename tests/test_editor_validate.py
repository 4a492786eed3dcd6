"""The code editor's validation endpoint: the API's validator, answered as JSON, never a 500."""

import json
import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = "/editor/validate/"
UNKNOWN_NEXT = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}, "B": {"Type": "Succeed"}}}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("val", password="validate-password-1"))
    return client


def post(client, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data, content_type="application/json", **extra)


def test_the_url_is_named_for_the_template():
    assert reverse("editor-validate") == URL


def test_problems_come_with_the_validators_locations(user_client):
    answer = post(user_client, {"definition": json.dumps(UNKNOWN_NEXT)})
    assert answer.status_code == 200
    body = answer.json()
    assert body["result"] == "FAIL"
    by_location = {problem["location"]: problem for problem in body["diagnostics"]}
    assert by_location["/States/A/Next"]["code"] == "MISSING_TRANSITION_TARGET"
    assert "Nope" in by_location["/States/A/Next"]["message"]
    assert by_location["/States/B"]["severity"] == "ERROR"  # not reachable


def test_the_same_answer_as_the_api_gives(user_client):
    from designer.api import validate_state_machine_definition

    definition = json.dumps(UNKNOWN_NEXT)
    api = validate_state_machine_definition({"definition": definition, "severity": "WARNING"})
    assert post(user_client, {"definition": definition}).json() == api


def test_a_valid_definition_is_ok(user_client):
    valid = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}
    assert post(user_client, {"definition": json.dumps(valid)}).json() == {
        "result": "OK", "diagnostics": [], "truncated": False}


def test_the_type_is_passed_on(user_client):
    # Express machines cannot wait for a task token.
    definition = json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True}}})
    standard = post(user_client, {"definition": definition, "type": "STANDARD"}).json()
    express = post(user_client, {"definition": definition, "type": "EXPRESS"}).json()
    assert standard["result"] == "OK" and express["result"] == "FAIL"


def test_a_json_syntax_error_comes_with_its_line_and_column(user_client):
    text = '{\n  "StartAt": "A",\n  "States": {,}\n}'
    [problem] = post(user_client, {"definition": text}).json()["diagnostics"]
    assert problem["code"] == "INVALID_JSON_DESCRIPTION"
    assert (problem["line"], problem["column"]) == (3, 14)


@pytest.mark.parametrize("body", [
    "not json", "[]", "{}", '{"definition": 5}', '{"definition": "{}", "type": "BATCH"}', b"\xff\xfe",
])
def test_a_bad_body_is_a_400_with_a_json_error(user_client, body):
    answer = post(user_client, body)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"]


def test_login_is_required(client):
    answer = post(client, {"definition": "{}"})
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/accounts/login/")


def test_a_csrf_token_is_required(django_user_model):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("csrf", password="validate-password-2"))
    assert post(client, {"definition": "{}"}).status_code == 403


def test_only_post(user_client):
    assert user_client.get(URL).status_code == 405


@pytest.mark.parametrize("definition", [
    "[" * 100_000,
    '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": ' + '{"a": ' * 5000 + "1"
    + "}" * 5000 + ', "End": true}}}',
    "\ud800",
    '{"StartAt": "\\ud800", "States": {}}',
    "9" * 100_000,
])
def test_hostile_definitions_get_a_json_answer_not_a_500(user_client, definition):
    answer = post(user_client, json.dumps({"definition": definition}))
    assert answer.status_code == 200
    assert answer.json()["result"] == "FAIL"


def test_a_deeply_nested_body_is_a_400(user_client):
    answer = post(user_client, '{"definition": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert answer.status_code == 400


def test_a_definition_over_the_aws_limit_is_refused_with_a_diagnostic(user_client):
    big = {"Type": "Pass", "Result": "x" * 1_100_000, "End": True}
    text = json.dumps({"StartAt": "A", "States": {"A": big}})
    [problem] = post(user_client, {"definition": text}).json()["diagnostics"]
    assert "AWS accepts up to" in problem["message"]


def test_the_form_page_admits_the_editors_styles_by_nonce_and_no_other_page_does(user_client):
    form = user_client.get(reverse("machine-create"))
    policy = form["Content-Security-Policy"]
    [nonce] = re.findall(r'data-csp-nonce="([^"]+)"', form.content.decode())
    assert f"style-src 'self' 'nonce-{nonce}'" in policy
    assert "style-src-attr 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy  # scripts stay as strict as everywhere
    dashboard = user_client.get(reverse("dashboard"))["Content-Security-Policy"]
    assert "nonce" not in dashboard and "style-src-attr" not in dashboard
