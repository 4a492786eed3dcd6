"""Stepwise served by a real daphne with DEBUG off, as `make run` serves it."""

import pytest

from tests.live import Browser


@pytest.fixture(scope="module")
def users(daphne_server):
    daphne_server.create_users(
        ("alice", "correct-horse-battery", False, False),
        ("root", "staple-root-admin", True, True),
    )


def test_anonymous_visitor_is_redirected_to_the_login_page(daphne_server):
    response = Browser(daphne_server.url).get("/", follow=False)
    assert response.status == 302
    assert response.headers["Location"] == "/accounts/login/?next=/"


def test_login_page_shows_the_form_with_csrf_and_security_headers(daphne_server):
    response = Browser(daphne_server.url).get("/accounts/login/")
    assert response.status == 200
    assert 'name="username"' in response.text and 'name="password"' in response.text
    assert "csrfmiddlewaretoken" in response.text
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_user_logs_in_through_the_form_and_sees_the_empty_dashboard(daphne_server, users):
    browser = Browser(daphne_server.url)
    response = browser.log_in("alice", "correct-horse-battery")
    assert response.status == 200
    assert response.url_path == "/"
    assert "State machines" in response.text and "Recent executions" in response.text
    assert "No state machines yet" in response.text and "Nothing has run yet" in response.text
    # A plain user gets no admin link.
    assert 'href="/admin/"' not in response.text
    session = next(c for c in browser.cookies if c.name == "sessionid")
    assert session.has_nonstandard_attr("HttpOnly")
    assert session._rest.get("SameSite") == "Lax" or session.get_nonstandard_attr("SameSite") == "Lax"


def test_wrong_password_shows_an_error_and_no_session(daphne_server, users):
    browser = Browser(daphne_server.url)
    response = browser.log_in("alice", "not-the-password")
    assert response.status == 200
    assert "Please enter a correct username and password" in response.text
    assert not any(c.name == "sessionid" for c in browser.cookies)
    assert browser.get("/", follow=False).status == 302


def test_log_out_is_a_post_and_ends_the_session(daphne_server, users):
    browser = Browser(daphne_server.url)
    dashboard = browser.log_in("alice", "correct-horse-battery")
    assert browser.get("/accounts/logout/").status == 405  # a link cannot log anyone out
    assert browser.get("/", follow=False).status == 200
    response = browser.submit("/", {})  # the dashboard's log-out form is its only form
    assert 'action="/accounts/logout/"' in dashboard.text
    assert response.url_path == "/accounts/login/"
    assert browser.get("/", follow=False).status == 302


def test_admin_logs_in_on_the_admin_login_and_sees_the_admin(daphne_server, users):
    browser = Browser(daphne_server.url)
    assert browser.get("/admin/", follow=False).headers["Location"].startswith("/admin/login/")
    response = browser.log_in("root", "staple-root-admin", path="/admin/login/?next=/admin/")
    assert response.status == 200
    assert response.url_path == "/admin/"
    assert "Stepwise administration" in response.text
    assert "Users" in response.text
    # and the dashboard links to the admin for staff
    assert 'href="/admin/"' in browser.get("/").text


def test_static_files_are_served_by_daphne_without_login(daphne_server):
    browser = Browser(daphne_server.url)
    css = browser.get("/static/css/stepwise.css", follow=False)
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "--accent" in css.text
    js = browser.get("/static/js/app.js", follow=False)
    assert js.status == 200 and "javascript" in js.headers["Content-Type"]
    admin_css = browser.get("/static/admin/css/base.css", follow=False)
    assert admin_css.status == 200
    assert browser.get("/static/nope.css", follow=False).status in (302, 404)
