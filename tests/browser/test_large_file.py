# mypy: disable-error-code="import-not-found"
"""A 100,000-row CSV (about 7 MB) through the page: the upload progress bar moves through
values between 0 and 100%, never backwards, and the tab's JavaScript heap stays flat. And a
batch long enough to watch (10,000 orders, about 20 s here) shows its live progress: the bar
moving and "<done> of <total> orders, <rate> orders/s".

The upload goes to the emulated S3 on this machine, which takes megabytes in milliseconds: the
test throttles the tab's uploads (Chrome DevTools Protocol, `UPLOAD_BYTES_PER_SECOND`, a fast
office line) so the bar has time to be seen moving, as it would be by a partner.

Memory: the page must not hold the file (at most its first 64 KiB, for the preview). A page
that read it whole (`file.text()`, a FileReader, the rows parsed into objects) would add at
least its size to the heap when it read it: V8 keeps an ASCII string at one byte a character.
So the heap (CDP `Performance.getMetrics`, JSHeapUsedSize) is sampled every 50 ms through the
upload, and its peak may grow by at most a quarter of the file's size (room for the preview and
garbage not yet collected); after the dry run and a garbage collection, by at most a tenth.
(Measured here: about 0.3 MB at the peak, 0.4 MB after, for a 7 MB file. The peak over the
whole dry run, garbage included, was 2.7 MB: two minutes of status polls, collected at once.)

The dry run is enough: it reads and judges all 100,000 rows in the pipeline, as the real run
would (about two minutes here), without the emulator's 600-a-second stores (about three
minutes more).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page

from tests.browser import steps
from tests.browser.conftest import Shot
from tests.browser.files import large_csv, orders_csv
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

ROWS = 100_000
UPLOAD_BYTES_PER_SECOND = 4_000_000

# Every value the bar takes, as a fraction of its max, however short-lived (and its text).
_RECORD = """bar => {
  window.uploadValues = [];
  window.barTexts = [];
  const note = () => {
    if (!bar.hasAttribute("value")) return;
    const value = bar.value / (bar.max || 1);
    const seen = window.uploadValues;
    if (seen[seen.length - 1] !== value) seen.push(value);
    const text = bar.getAttribute("aria-valuetext");
    if (text && window.barTexts[window.barTexts.length - 1] !== text) window.barTexts.push(text);
  };
  new MutationObserver(note).observe(bar, {attributes: true});
  window.uploadTimer = setInterval(note, 5);
}"""


def heap(cdp: CDPSession, collect: bool = False) -> int:
    if collect:
        cdp.send("HeapProfiler.collectGarbage")
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


def upload_peak(page: Page, cdp: CDPSession, timeout: float = 120) -> int:
    """The heap's peak while the file is uploaded (until the bar is full)."""
    start, peak = time.monotonic(), 0
    while page.evaluate("() => (window.uploadValues.at(-1) ?? 0) < 1"):
        peak = max(peak, heap(cdp))
        assert time.monotonic() - start < timeout, "the upload did not end"
        page.wait_for_timeout(50)
    return max(peak, heap(cdp))


def check_progress(values: list[Any]) -> None:
    between = [v for v in values if 0 < v < 1]
    assert len(between) >= 3, f"the bar did not move through the upload: {values}"
    assert values == sorted(values), f"the bar went backwards: {values}"
    assert values[-1] == 1, values


def test_a_100000_row_file_shows_its_upload_progress_and_memory_stays_flat(
    page: Page, server: Server, tmp_path: Path, shot: Shot
) -> None:
    size = large_csv(tmp_path / "large.csv", "big", ROWS)
    steps.open_page(page, server.page)
    steps.sign_in(page, server.api_key)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1,
         "uploadThroughput": UPLOAD_BYTES_PER_SECOND},
    )  # fmt: skip
    steps.choose_file(page, tmp_path / "large.csv")
    bar = page.get_by_role("progressbar", name="Upload progress", include_hidden=True)
    bar.evaluate(_RECORD)
    before = heap(cdp, collect=True)
    page.get_by_role("button", name="Check the file").click()
    started = time.monotonic()
    peak = upload_peak(page, cdp)
    uploaded = time.monotonic() - started
    dry = steps.wait_for_dry_run(page, timeout=600_000)
    seconds = time.monotonic() - started
    after = heap(cdp, collect=True)
    values = page.evaluate("() => { clearInterval(window.uploadTimer); return uploadValues; }")
    check_progress(values)
    shot("1-dry-run")
    batch = server.ended(server.newest_batch()["batch_id"])
    assert (batch["total"], batch["stored"], batch["dry_run"]) == (ROWS, ROWS, True), batch
    assert steps.counts(dry) == steps.api_counts(batch)
    growth = {"upload peak": peak - before, "after": after - before, "file": size}
    print(f"{size:,} bytes: uploaded in {uploaded:.1f} s, dry run in {seconds:.0f} s; {growth}")
    assert peak - before < size / 4, growth
    assert after - before < size / 10, growth


def test_a_running_batch_shows_done_of_total_and_its_rate(
    page: Page, server: Server, tmp_path: Path, shot: Shot
) -> None:
    orders = orders_csv(tmp_path / "live.csv", "live", 10_000)
    steps.open_page(page, server.page)
    steps.sign_in(page, server.api_key)
    steps.check_file(page, orders.path)
    steps.wait_for_dry_run(page)
    bar = page.get_by_role("progressbar", name="Batch progress", include_hidden=True)
    bar.evaluate(_RECORD)
    progress = steps.send_for_real(page)
    shot("2-sent", of="Batch progress")
    values = page.evaluate("() => { clearInterval(window.uploadTimer); return uploadValues; }")
    texts = page.evaluate("() => barTexts")
    assert any(0 < v < 1 for v in values), values
    assert values == sorted(values), values
    live = re.compile(r"[\d,]+ of 10,?000 orders, [\d.,]+ orders/s")  # a rate measured
    assert any(live.fullmatch(text) for text in texts), texts
    batch = server.ended(server.newest_batch()["batch_id"])
    assert steps.counts(progress) == steps.api_counts(batch)
