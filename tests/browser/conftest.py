"""Browser tests: the real app on a free port (tests/browser/server.py) and Debian's Chromium.

Chromium is required: CI installs it, and a missing binary fails the run instead of skipping
it (a skipped browser suite would hide a broken portal). Nothing leaves the machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from portal_server import Server, start


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("the browser tests need Chromium on PATH (Debian: apt-get install chromium)")
    return path


# Module scope, not session: Playwright's sync API keeps an event loop set on this thread while
# it runs, and the async tests collected after this directory need the thread to themselves.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("portal-data"))
    yield running
    running.stop()
