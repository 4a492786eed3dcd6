"""Pages through Django's test client: who may see what."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct-horse-battery")


def test_every_page_but_login_requires_login(client):
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"] == "/accounts/login/?next=/"
    assert client.get("/accounts/login/").status_code == 200


def test_dashboard_shows_empty_lists_with_friendly_wording(client, alice):
    client.force_login(alice)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "No state machines yet" in html and "Nothing has run yet" in html
    assert page.context["state_machines"] == [] and page.context["executions"] == []


def test_logged_in_user_is_sent_from_login_page_to_dashboard(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/login/").headers["Location"] == "/"


def test_unknown_page_for_a_logged_in_user_is_a_friendly_404(client, alice):
    client.force_login(alice)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "find that page" in response.content.decode()


def test_favicon_is_public(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"] == "/static/img/logo.svg"
