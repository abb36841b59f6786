# mypy: disable-error-code="import-not-found"
"""The partners' page driven as a person uses it, by role and accessible name only (spec22's
"The page's DOM contract"): each step waits for what the person would wait for, so a test reads
as the flow it walks. Nothing here reaches into the page's script or its private markup, but
the `data-count` numbers the contract names.

(Playwright is installed only by `make browser-test`: the mypy comment above lets `make
typecheck` check these files without it.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

COUNTS = ("total", "stored", "unchanged", "conflict", "rejected")
SLOW = 240_000  # ms: a batch of thousands of orders on the emulator, with room to spare


def region(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name, exact=True)


def open_page(page: Page, url: str) -> None:
    answer = page.goto(url)
    assert answer is not None, url
    assert answer.ok, (url, answer.status)


def signed_in(page: Page, who: str = "") -> Locator:
    """The page's "Signed in as <who>" (the status line may say it too: the first one)."""
    return page.get_by_text(f"Signed in as {who}".strip()).first


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()
    expect(signed_in(page)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def choose_file(page: Page, path: Path) -> None:
    page.get_by_label("Order file").set_input_files(path)


def check_file(page: Page, path: Path) -> None:
    choose_file(page, path)
    page.get_by_role("button", name="Check the file").click()


def number(text: str | None) -> int:
    """A count as the page shows it (thousands separators allowed)."""
    digits = re.sub(r"[,\s\u00a0\u202f.']", "", text or "")
    assert digits.isdigit(), f"not a count: {text!r}"
    return int(digits)


def counts(scope: Locator) -> dict[str, int]:
    """The `data-count` numbers inside `scope`."""
    return {name: number(scope.locator(f'[data-count="{name}"]').text_content()) for name in COUNTS}


def wait_for_counts(scope: Locator, timeout: float = SLOW) -> dict[str, int]:
    """The counts once the page shows a total."""
    expect(scope.locator('[data-count="total"]')).to_have_text(re.compile(r"\d"), timeout=timeout)
    return counts(scope)


def api_counts(batch: dict[str, Any]) -> dict[str, int]:
    """What the page's counts must equal, from GET /batches/{id}."""
    by_reason = batch.get("rejected_by_reason") or {}
    return {
        "total": batch["total"],
        "stored": batch["stored"],
        "unchanged": batch.get("unchanged") or 0,
        "conflict": by_reason.get("conflict", 0),
        "rejected": batch["rejected"],
    }


def wait_for_dry_run(page: Page, timeout: float = SLOW) -> Locator:
    dry_run = region(page, "Dry run")
    expect(dry_run.get_by_role("button", name="Send for real")).to_be_enabled(timeout=timeout)
    wait_for_counts(dry_run)
    return dry_run


def send_for_real(page: Page) -> Locator:
    """Sends the checked file; answers the "Batch progress" region once the batch ended."""
    region(page, "Dry run").get_by_role("button", name="Send for real").click()
    progress = region(page, "Batch progress")
    expect(progress.get_by_role("progressbar", name="Batch progress")).to_be_visible()
    wait_for_counts(progress)
    return progress


def progress_value(page: Page, name: str) -> float | None:
    """A `<progress>` bar's value as a fraction of its max (None while indeterminate)."""
    bar = page.get_by_role("progressbar", name=name)
    value = bar.evaluate(
        "bar => bar.hasAttribute('value') ? bar.value / (bar.max || 1)"
        " : (bar.getAttribute('aria-valuenow') === null ? null"
        " : Number(bar.getAttribute('aria-valuenow')) / Number(bar.getAttribute('aria-valuemax')"
        " || 100))"
    )
    return None if value is None else float(value)


def new_value(page: Page, field: str, row: int) -> Locator:
    return page.get_by_label(f"New value for {field} in row {row}", exact=True)


def names(label: str, option: str) -> bool:
    """Whether a filter's option label names `option`: "All", "Code: email.invalid",
    "Reason: invalid (a value breaks a rule)"."""
    return re.fullmatch(rf"(?:\w+: )?{re.escape(option)}(?: .*)?", label) is not None


def filter_by(page: Page, option: str) -> Locator:
    """Filters the rejected rows by one reason or code; answers the table's body rows."""
    rejected = region(page, "Rejected rows")
    select = rejected.get_by_label("Filter by reason")
    labels = [text.strip() for text in select.locator("option").all_text_contents()]
    shown = [label for label in labels if names(label, option)]
    assert shown, f"no option {option!r} in {labels}"
    select.select_option(label=shown[0])
    return rejected.get_by_role("table").locator("tbody tr")
