# mypy: disable-error-code="import-not-found"
"""An upload link, made as an operator makes it (`orders senders link demo --days 1 --endpoint
... --url ... --json`, in its own process), opened in the browser: the page keeps the token in
the tab's session storage only, strips it from the address, is signed in as the upload link
(no profile to save) and runs a dry run whose counts match the API's, read with the token.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import steps
from tests.browser.conftest import Shot
from tests.browser.files import orders_csv
from tests.browser.server import Server
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def made_link(server: Server) -> dict[str, str]:
    orders = Path(sys.executable).with_name("orders")
    command = [str(orders), "senders", "link", "demo", "--days", "1"]
    command += ["--endpoint", server.endpoint, "--url", server.page, "--json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    made = json.loads(done.stdout)
    assert made["token"].startswith("ofl_"), made
    assert made["link"] == server.page + "#link=" + made["token"], made
    return {"token": made["token"], "link": made["link"]}


def test_an_upload_link_signs_the_page_in_and_runs_a_dry_run(
    page: Page, server: Server, tmp_path: Path, shot: Shot
) -> None:
    link = made_link(server)
    steps.open_page(page, link["link"])
    expect(steps.signed_in(page, "upload link")).to_be_visible()
    assert page.url == server.page, page.url  # the fragment, and the token, gone
    stored = page.evaluate("() => Object.values(sessionStorage)")
    assert link["token"] in stored
    assert page.evaluate("() => Object.values(localStorage)") == []
    assert link["token"] not in page.content()
    save = page.get_by_role("button", name="Save as my profile")
    assert save.count() == 0 or save.is_disabled()
    orders = orders_csv(tmp_path / "linked.csv", "ln", 100)
    steps.check_file(page, orders.path)
    dry = steps.wait_for_dry_run(page)
    listed = server.call("GET", "/batches?limit=1", key=link["token"])
    assert listed.status == 200, listed.body
    batch_id = listed.body["batches"][0]["batch_id"]
    batch = server.call("GET", f"/batches/{batch_id}", key=link["token"]).body
    assert (batch["dry_run"], batch["total"]) == (True, 100), batch
    assert steps.counts(dry) == steps.api_counts(batch)
    assert server.call("GET", "/profile", key=link["token"]).status == 403
    shot("1-dry-run")
