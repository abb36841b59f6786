# mypy: disable-error-code="import-not-found"
"""The whole CSV flow in a real browser, as a partner walks it: sign in with the key, check a
2,000-row file (a tenth invalid, hostile cells near the top) as a dry run, send it for real,
filter the rejected rows, fix two in place, re-validate, resend them as a batch that corrects
the first; every number the page shows is checked against what the API answers, and the two
fixed orders are then read back through the API.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import steps
from tests.browser.conftest import Shot
from tests.browser.files import BELL, FORMULA, IMG, SCRIPT, OrdersFile, orders_csv
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture
def orders(tmp_path: Path) -> OrdersFile:
    return orders_csv(tmp_path / "orders.csv", "csv")


def rejected_rows(server: Server, batch_id: str) -> dict[str, dict[str, Any]]:
    """The batch's rejections by OrderId, through the API."""
    page = server.get(f"/batches/{batch_id}/rejections?limit=500")
    return {r["order_id"]: r for r in page["rejections"]}


def check_hostile_cells_are_text(page: Page) -> None:
    """Each hostile cell of the preview is shown as itself, and nothing of it ran or was
    parsed as markup (a dialog would also fail the test: see conftest.watch)."""
    preview = steps.region(page, "Preview")
    for text in (SCRIPT, FORMULA):
        expect(preview.get_by_role("cell", name=text, exact=True).first).to_be_visible()
    # the control character as itself, or made visible (an escape, a control picture)
    shown = preview.get_by_role("cell").filter(has_text="Bell").first.text_content()
    assert shown in {BELL.replace("\x07", c) for c in ("\x07", "\\u0007", "\u2407")}, shown
    assert page.locator("script:not([src])").count() == 0  # nothing the file held
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("a[href^='http://x']").count() == 0


def dry_run(page: Page, server: Server, orders: OrdersFile, shot: Shot) -> dict[str, Any]:
    steps.check_file(page, orders.path)
    expect(steps.region(page, "Preview").get_by_role("table")).to_be_visible()
    check_hostile_cells_are_text(page)
    shot("2-preview", of="Preview")
    dry = steps.wait_for_dry_run(page)
    batch = server.ended(server.newest_batch()["batch_id"])
    assert batch["dry_run"] is True
    assert (batch["total"], batch["rejected"]) == (orders.rows, len(orders.invalid))
    assert steps.counts(dry) == steps.api_counts(batch)
    detected = steps.region(page, "What was detected")
    expect(detected.get_by_text("csv", exact=False).first).to_be_visible()
    shot("3-dry-run", of="Dry run")
    return batch


def real_run(page: Page, server: Server, orders: OrdersFile, shot: Shot) -> dict[str, Any]:
    dry_id = server.newest_batch()["batch_id"]
    progress = steps.send_for_real(page)  # its live progress: test_large_file.py
    batch = server.ended(server.next_batch(dry_id))
    assert (batch.get("dry_run"), batch["status"]) == (None, "succeeded"), batch
    assert batch["stored"] == orders.rows - len(orders.invalid)
    assert steps.counts(progress) == steps.api_counts(batch)
    shot("4-sent", of="Batch progress")
    return batch


def check_report_link(page: Page, rejected: int) -> None:
    link = steps.region(page, "Rejected rows").get_by_role(
        "link", name="Download the rejection report (CSV)"
    )
    href = link.get_attribute("href")
    assert href
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(href) as answer:
        lines = answer.read().decode("utf-8").splitlines()
    assert len(lines) >= rejected + 1  # the header, then a line (or more) a rejected row


def fix_two_rows(page: Page, by_order: dict[str, dict[str, Any]], orders: OrdersFile) -> None:
    qty_order, email_order = orders.first_invalid("qty"), orders.first_invalid("email")
    rows = steps.filter_by(page, "qty.not_positive_integer")
    expect(rows.first).to_be_visible()
    for code in rows.locator("td:nth-child(3)").all_text_contents():
        assert code.strip() == "qty.not_positive_integer"
    steps.new_value(page, "qty", by_order[qty_order]["row"]).fill("3")
    rows = steps.filter_by(page, "email.invalid")
    expect(rows.get_by_text(IMG, exact=True)).to_be_visible()  # the value as sent, as text
    steps.new_value(page, "email", by_order[email_order]["row"]).fill("fixed@example.com")
    steps.filter_by(page, "All")
    expect(steps.new_value(page, "qty", by_order[qty_order]["row"])).to_have_value("3")


def test_a_csv_goes_through_the_page_and_two_rejected_rows_are_fixed_and_resent(
    page: Page, server: Server, orders: OrdersFile, shot: Shot
) -> None:
    steps.open_page(page, server.page)
    shot("1-start")
    steps.sign_in(page, server.api_key)
    dry_run(page, server, orders, shot)
    first = real_run(page, server, orders, shot)
    expect(steps.region(page, "Rejected rows").get_by_role("table")).to_be_visible()
    shot("5-rejected-rows")
    check_report_link(page, first["rejected"])
    by_order = rejected_rows(server, first["batch_id"])
    fix_two_rows(page, by_order, orders)
    shot("6-fixed", of="Rejected rows")
    rejected = steps.region(page, "Rejected rows")
    rejected.get_by_role("button", name="Re-validate corrected rows").click()
    check = server.ended(server.next_batch(first["batch_id"]))
    assert (check["dry_run"], check["total"], check["stored"]) == (True, 2, 2), check
    expect(rejected.get_by_text("Would be stored.")).to_have_count(2)  # said for each row
    shot("7-revalidated", of="Rejected rows")
    rejected.get_by_role("button", name="Resend corrected rows").click()
    resent = server.ended(server.next_batch(first["batch_id"], check["batch_id"]))
    assert (resent.get("dry_run"), resent["stored"]) == (None, 2), resent
    assert resent["corrects"] == first["batch_id"]
    listed = server.get("/batches?limit=5")["batches"]
    assert listed[0]["batch_id"] == resent["batch_id"]
    assert listed[0]["corrects"] == first["batch_id"]
    qty = server.get(f"/orders/{orders.first_invalid('qty')}")
    assert qty["order-info"]["qty"] == 3
    email = server.get(f"/orders/{orders.first_invalid('email')}")
    assert email["contact-info"]["email"] == "fixed@example.com"
    recent = steps.region(page, "Recent batches")
    recent.get_by_role("button", name="Refresh").click()
    expect(recent.get_by_role("row").filter(has_text=resent["batch_id"][:8])).to_contain_text(
        first["batch_id"][:8]
    )
    shot("8-resent")
