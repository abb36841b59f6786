# mypy: disable-error-code="import-not-found"
"""The page's Content Security Policy as the browser receives and enforces it: spec22's
directives on `/` and every file of the page, and an inline script refused (the violation is
seen by the same watch that fails every flow test on one: conftest.watch).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response

from tests.browser import steps
from tests.browser.conftest import watch
from tests.browser.server import Server

pytestmark = pytest.mark.browser


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def expected(server: Server) -> dict[str, list[str]]:
    s3 = urlsplit(server.endpoint)
    return {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", f"{s3.scheme}://{s3.netloc}"],
        "form-action": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }


def test_the_page_and_its_files_carry_the_policy(page: Page, server: Server) -> None:
    answers: list[Response] = []
    page.on("response", lambda answer: answers.append(answer))
    steps.open_page(page, server.page)
    page.wait_for_load_state("networkidle")
    own = [a for a in answers if a.url.startswith(server.api) and a.ok]
    document = own[0]
    assert document.url == server.page
    headers = document.all_headers()
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    files = [a for a in own if "/static/" in a.url]
    assert files, "the page loaded none of its files"
    for answer in [document, *files]:
        headers = answer.all_headers()
        assert directives(headers["content-security-policy"]) == expected(server), answer.url
        assert headers["x-content-type-options"] == "nosniff", answer.url


def test_an_inline_script_is_refused_and_the_refusal_is_seen(
    browser: Browser, server: Server
) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    steps.open_page(page, server.page)
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran === undefined")
    context.close()
    assert any("script-src" in problem for problem in problems), problems
