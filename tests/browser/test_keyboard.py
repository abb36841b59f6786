# mypy: disable-error-code="import-not-found"
"""The CSV flow with the keyboard alone: Tab and Shift+Tab to move, Enter and Space to press,
arrow keys in the select, typing in the boxes; every control is reached by Tab and shows a
visible focus (`:focus-visible` with a computed outline) when it is.

One step is not a key press: the file is set on the focused file input with
`set_input_files`, because pressing Enter there opens the operating system's file dialog,
which no browser automation can drive. The file input itself is reached with Tab first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import steps
from tests.browser.conftest import Shot
from tests.browser.files import orders_csv
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROWS = 200
_DESCRIBE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "(body)";
  const label = el.getAttribute("aria-label") || (el.labels && el.labels[0]
    ? el.labels[0].textContent : "") || el.textContent || el.getAttribute("name") || "";
  return el.tagName.toLowerCase() + " " + JSON.stringify(label.trim().slice(0, 40));
}"""
_FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {visible: el.matches(":focus-visible"), outline: style.outlineStyle,
          width: style.outlineWidth};
}"""


def tab_to(page: Page, target: Locator, *, back: bool = False, presses: int = 150) -> None:
    """Presses Tab (Shift+Tab with `back`) until `target` has the focus; then its focus must
    be visible."""
    expect(target).to_be_visible()
    passed: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if target.evaluate("el => el === document.activeElement"):
            focus = page.evaluate(_FOCUS)
            assert focus["visible"], f"{passed[-1:]} -> target: not :focus-visible"
            assert focus["outline"] != "none", focus
            assert focus["width"] != "0px", focus
            return
        passed.append(str(page.evaluate(_DESCRIBE)))
    raise AssertionError(f"not reached with the keyboard; the focus went through {passed}")


def choose_with_arrows(page: Page, select: Locator, label: str) -> None:
    """Moves a focused select down with the arrow key until it shows `label`."""
    for _ in range(40):
        shown = str(select.evaluate("s => s.selectedOptions[0]?.textContent.trim() ?? ''"))
        if steps.names(shown, label):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{label!r} is not one of the select's options")


def test_the_csv_flow_with_the_keyboard_alone(
    page: Page, server: Server, tmp_path: Path, shot: Shot
) -> None:
    orders = orders_csv(tmp_path / "keyboard.csv", "kb", ROWS)
    steps.open_page(page, server.page)
    key_box = page.get_by_label("API key")
    tab_to(page, key_box)
    page.keyboard.type(server.api_key)
    use = page.get_by_role("button", name="Use this key")
    tab_to(page, use)
    tab_to(page, key_box, back=True)  # Shift+Tab goes back the same way
    tab_to(page, use)
    shot("1-focus")
    page.keyboard.press("Enter")
    expect(steps.signed_in(page)).to_be_visible()
    file_input = page.get_by_label("Order file")
    tab_to(page, file_input)
    file_input.set_input_files(orders.path)  # the one step no key can do (see the docstring)
    tab_to(page, page.get_by_role("button", name="Check the file"))
    page.keyboard.press("Space")
    dry = steps.wait_for_dry_run(page)
    dry_run = server.ended(server.newest_batch()["batch_id"])
    assert steps.counts(dry) == steps.api_counts(dry_run)
    tab_to(page, dry.get_by_role("button", name="Send for real"))
    page.keyboard.press("Enter")
    steps.wait_for_counts(steps.region(page, "Batch progress"))
    first = server.ended(server.next_batch(dry_run["batch_id"]))
    rejected = steps.region(page, "Rejected rows")
    select = rejected.get_by_label("Filter by reason")
    tab_to(page, select)
    choose_with_arrows(page, select, "qty.not_positive_integer")
    qty_order = orders.first_invalid("qty")
    rows = server.get(f"/batches/{first['batch_id']}/rejections?limit=500")["rejections"]
    row = next(r["row"] for r in rows if r["order_id"] == qty_order)
    tab_to(page, steps.new_value(page, "qty", row))
    page.keyboard.type("3")
    shot("2-fixed")
    tab_to(page, rejected.get_by_role("button", name="Re-validate corrected rows"))
    page.keyboard.press("Enter")
    check = server.ended(server.next_batch(first["batch_id"]))
    assert (check["dry_run"], check["stored"]) == (True, 1), check
    expect(rejected.get_by_text("Would be stored.")).to_have_count(1)
    tab_to(page, rejected.get_by_role("button", name="Resend corrected rows"))
    page.keyboard.press("Enter")
    resent = server.ended(server.next_batch(first["batch_id"], check["batch_id"]))
    assert (resent["corrects"], resent["stored"]) == (first["batch_id"], 1), resent
    assert server.get(f"/orders/{qty_order}")["order-info"]["qty"] == 3
    shot("3-resent")
