# mypy: disable-error-code="import-not-found"
"""A workbook whose German headers match none of our fields: its dry run is quarantined for
missing columns, the page offers the file's headers for each field (preselecting the API's
suggestions), the partner completes the mapping, checks again (every row would be stored) and
saves it as the profile; a second workbook with the same headers, sent with no mapping, is read
with the profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import steps
from tests.browser.conftest import Shot
from tests.browser.files import GERMAN, HEADERS, german_xlsx
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROWS = 50
NOT_IN_FILE = "(not in the file)"


def chosen(page: Page, field: str) -> str:
    """The label of the option the "Column for <field>" select shows."""
    select = steps.region(page, "Column mapping").get_by_label(f"Column for {field}", exact=True)
    expect(select).to_be_visible()
    return str(select.evaluate("s => s.selectedOptions[0]?.textContent.trim() ?? ''"))


def quarantined(page: Page, server: Server, path: Path) -> dict[str, Any]:
    """Checks `path`; answers its quarantined dry run as the API gives it, once the page offers
    the mapping."""
    steps.check_file(page, path)
    mapping = steps.region(page, "Column mapping")
    expect(mapping.get_by_label("Column for OrderId", exact=True)).to_be_visible(timeout=steps.SLOW)
    batch = server.ended(server.newest_batch()["batch_id"])
    assert batch["status"] == "quarantined", batch
    assert batch["error"]["code"] == "file.missing_columns", batch
    assert batch["file"]["headers"] == list(GERMAN)
    expect(page.get_by_role("alert")).to_contain_text("file.missing_columns")
    return batch


def test_a_workbook_is_mapped_saved_as_the_profile_and_the_next_one_uses_it(
    page: Page, server: Server, tmp_path: Path, shot: Shot
) -> None:
    steps.open_page(page, server.page)
    steps.sign_in(page, server.api_key)
    first = quarantined(page, server, german_xlsx(tmp_path / "bestellungen.xlsx", "xa", ROWS))
    shot("1-quarantined", of="Column mapping")
    suggestions = first["file"]["suggestions"]
    assert suggestions["item-id"][0] == "Artikel"  # the API's own closeness rule
    assert suggestions["email"][0] == "E-Mail-Adresse"
    for field in HEADERS:  # preselected: the first suggestion, else nothing
        assert chosen(page, field) == (suggestions.get(field) or [NOT_IN_FILE])[0], field
    mapping = steps.region(page, "Column mapping")
    for field, header in zip(HEADERS, GERMAN, strict=True):
        if chosen(page, field) != header:
            mapping.get_by_label(f"Column for {field}", exact=True).select_option(label=header)
        assert chosen(page, field) == header
    shot("2-mapped", of="Column mapping")
    mapping.get_by_role("button", name="Check again with this mapping").click()
    expect(mapping.get_by_label("Column for OrderId", exact=True)).to_be_visible()
    dry = steps.wait_for_dry_run(page)
    checked = server.ended(server.next_batch(first["batch_id"]))
    assert checked["dry_run"] is True
    assert (checked["status"], checked["stored"]) == ("succeeded", ROWS), checked
    assert checked["file"]["mapping_from"] == "upload"
    assert steps.counts(dry) == steps.api_counts(checked)
    shot("3-checked")
    mapping.get_by_role("button", name="Save as my profile").click()
    expect(page.locator("#status")).to_contain_text("profile")
    profile = server.get("/profile")["profile"]
    assert profile is not None
    assert profile["columns"]["qty"] == "Menge", profile
    second = german_xlsx(tmp_path / "bestellungen-2.xlsx", "xb", ROWS)
    steps.check_file(page, second)  # a new file: no mapping of its own
    again = server.ended(server.next_batch(first["batch_id"], checked["batch_id"]))
    assert again["file"]["mapping_from"] == "profile", again["file"]
    assert (again["status"], again["stored"]) == ("succeeded", ROWS), again
    detected = steps.region(page, "What was detected")
    expect(detected).to_contain_text("profile", timeout=steps.SLOW)
    dry = steps.wait_for_dry_run(page)
    assert steps.counts(dry) == steps.api_counts(again)
    shot("4-profile-applied")
    server.call("DELETE", "/profile")
