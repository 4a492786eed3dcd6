"""The pages in a real browser (Chromium), against the real daphne server."""


def test_user_logs_in_with_the_browser_and_the_pages_break_no_csp_rule(daphne_server, page):
    daphne_server.create_user("bea", "browser-password-1")
    page.goto(daphne_server.url + "/")
    assert page.url.endswith("/accounts/login/?next=/")
    page.get_by_label("Username").fill("bea")
    page.get_by_label("Password").fill("browser-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(daphne_server.url + "/")
    assert page.get_by_role("heading", name="State machines", exact=True).is_visible()
    # The stylesheet applied and the ES module ran, under the Content-Security-Policy.
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
    assert page.evaluate("document.documentElement.classList.contains('js')")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    assert page.problems == []
