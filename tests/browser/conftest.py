"""The browser tests: headless Chromium (Debian's) driven by Playwright, and the model fixtures
of tests/conftest.py. Each test module sets ``pytestmark = BROWSER_MARKS``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = os.environ.get("SKINPORTAL_CHROMIUM", "/usr/bin/chromium")
# CI sets SKINPORTAL_REQUIRE_BROWSER=1: there a missing Chromium fails the test instead of skipping it.
BROWSER_REQUIRED = os.environ.get("SKINPORTAL_REQUIRE_BROWSER") == "1"
HAVE_CHROMIUM = Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,  # a live server and headless Chromium
    pytest.mark.skipif(
        not HAVE_CHROMIUM and not BROWSER_REQUIRED,
        reason=f"needs headless Chromium at {CHROMIUM} (Debian package 'chromium'; `make test` installs it as root)",
    ),
]


@pytest.fixture
def browser_page(live_server, transactional_db, monkeypatch):
    """A Chromium page. Set up after the database so that the connections the test opens
    inside Playwright's event-loop context are closed before the test database is dropped."""
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are
    # still synchronous, so Django's async-safety guard does not apply here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        connections.close_all()


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now (injected by Playwright's evaluate, which
    the page's CSP does not govern; the page itself keeps its CSP)."""
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe_module.Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(
            node["target"][0] if isinstance(node["target"][0], str) else str(node["target"])
            for node in violation["nodes"][:3]
        )
        for violation in results.response["violations"]
    ]
