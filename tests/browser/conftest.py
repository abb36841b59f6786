# mypy: disable-error-code="import-not-found"
"""The browser tests' fixtures: Debian's Chromium driven by Playwright for Python, against
`orders serve` started as a subprocess (tests/browser/server.py), one server per test module.

Guarantees every test of this folder gets:
- the browser is `CHROMIUM` (default /usr/bin/chromium), never a browser Playwright would
  download; it runs headless with no sandbox (the machines run as root), no GPU and no
  background network of its own;
- `page` is a fresh context (its own session storage) on which any Content Security Policy
  violation, uncaught script error, console error (but a failed request's, which the page
  reports itself) or dialog (an `alert` a hostile cell would fire) fails the test at its end;
- `shot(name, of=region)` saves a screenshot of the page (or of one of its regions) to
  build/screenshots/<module>-<name>.png.

`make test` runs without Playwright (make browser-test installs it): then nothing here is
collected.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from tests.browser.server import Server, start, stop
from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

if importlib.util.find_spec("playwright") is None:
    collect_ignore_glob = ["test_*.py"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "build" / "screenshots"
AXE = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"

# Posted by the init script below for every securitypolicyviolation event of the page.
_VIOLATION = "securitypolicyviolation:"
_WATCH = f"""document.addEventListener("securitypolicyviolation", (event) => {{
  console.error("{_VIOLATION} " + event.violatedDirective + " " + event.blockedURI);
}});"""
# A request the API answered with an error: the page shows it in its alert, Chromium logs it.
_FAILED_REQUEST = re.compile(r"^Failed to load resource: the server responded with a status of")


class Shot(Protocol):
    def __call__(self, name: str, of: str | None = None) -> Path: ...


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = start(tmp_path_factory.mktemp("serve"))
    try:
        yield served
    finally:
        stop(served)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: make browser-test installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def watch(page: Page, problems: list[str]) -> None:
    """Records on `problems` what must not happen on a page (see the module's docstring)."""

    def console(message: ConsoleMessage) -> None:
        text = message.text
        if message.type == "error" and not _FAILED_REQUEST.match(text):
            problems.append(f"console error: {text}")
        elif "Content Security Policy" in text or _VIOLATION in text:
            problems.append(f"console: {text}")

    def dialog(opened: Dialog) -> None:
        problems.append(f"a dialog opened: {opened.message!r}")
        opened.dismiss()

    page.add_init_script(_WATCH)
    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", dialog)


@contextmanager
def watched(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a new context (`options`: Playwright's), watched from its first request;
    closing it, any problem `watch` saw fails the test."""
    context = browser.new_context(**options)
    opened = context.new_page()
    problems: list[str] = []
    watch(opened, problems)
    yield opened
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched(browser, viewport={"width": 1280, "height": 900}) as opened:
        yield opened


@pytest.fixture
def shot(request: pytest.FixtureRequest, page: Page) -> Shot:
    module = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, of: str | None = None) -> Path:
        """The whole page, or only its region named `of`."""
        path = SCREENSHOTS / f"{module}-{name}.png"
        if of is None:
            page.screenshot(path=path, full_page=True)
        else:
            page.get_by_role("region", name=of, exact=True).screenshot(path=path)
        return path

    return take
