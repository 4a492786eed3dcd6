import os

import pytest

from tests.live import DaphneServer, migrated_database


@pytest.fixture(scope="session")
def migrated_db_file(tmp_path_factory):
    """A migrated SQLite file, made once per run; copy it rather than migrating again."""
    workdir = tmp_path_factory.mktemp("migrated")
    migrated_database(workdir)
    return workdir / "db.sqlite3"


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory, migrated_db_file):
    """Stepwise under a real daphne (DEBUG off) on a free port, with its own migrated SQLite file."""
    server = DaphneServer(tmp_path_factory.mktemp("daphne"), template_db=migrated_db_file).start()
    yield server
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (never `playwright install`); skips if it is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (make test installs it with apt-get when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser page (own cookies); console errors and page errors collect in `page.problems`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()
