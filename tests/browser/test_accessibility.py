# mypy: disable-error-code="import-not-found"
"""axe-core's rules (from the npm registry: tests/browser/package.json) on the page at each
main step of the flow, on a desktop and at 360 px wide: no violation of impact serious or
critical. At 360 px the page must also fit: nothing wider than the screen.

axe is a script the page's own policy rightly refuses, so these contexts bypass the CSP
(`bypass_csp=True`): only here; every other test runs the page under its policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import steps
from tests.browser.conftest import AXE, SCREENSHOTS, watched
from tests.browser.files import german_xlsx, orders_csv
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NARROW = 360
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return {passes: result.passes.length, violations: result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))};
}"""


def axe(page: Page, step: str, found: dict[str, list[Any]]) -> None:
    """Runs axe now; keeps its serious and critical violations under `step` (and, on a narrow
    screen, the page being wider than the screen), and a screenshot of what it judged."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        assert AXE.exists(), f"{AXE} is missing: make browser-test installs it (npm ci)"
        page.add_script_tag(path=AXE)
    result = page.evaluate(RUN_AXE)
    assert result["passes"] > 10, result  # the rules ran
    found[step] = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    print(step, "axe:", result["passes"], "rules passed, violations:", result["violations"])
    size = page.viewport_size
    assert size is not None
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if size["width"] <= NARROW and width > size["width"]:
        found[step].append(f"the page is {width} px wide on a {size['width']} px screen")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"accessibility-{step}.png", full_page=True)


@pytest.fixture(params=[1280, NARROW], ids=["desktop", "360px"])
def axe_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    # the page's policy is bypassed here only, so that axe-core can be injected
    viewport = {"width": request.param, "height": 800}
    with watched(browser, viewport=viewport, bypass_csp=True) as page:
        yield page


def test_no_serious_or_critical_violation_at_any_step(
    axe_page: Page, server: Server, tmp_path: Path
) -> None:
    page, found = axe_page, dict[str, list[Any]]()
    size = page.viewport_size
    prefix = "desktop" if size and size["width"] > NARROW else f"{NARROW}px"
    steps.open_page(page, server.page)
    axe(page, f"{prefix}-1-start", found)
    steps.sign_in(page, server.api_key)
    axe(page, f"{prefix}-2-signed-in", found)
    orders = orders_csv(tmp_path / "axe.csv", f"ax{prefix[:3]}", 100)
    steps.check_file(page, orders.path)
    steps.wait_for_dry_run(page)
    axe(page, f"{prefix}-3-dry-run", found)
    steps.send_for_real(page)
    expect(steps.region(page, "Rejected rows").get_by_role("table")).to_be_visible()
    axe(page, f"{prefix}-4-rejected-rows", found)
    steps.check_file(page, german_xlsx(tmp_path / "axe.xlsx", f"ay{prefix[:3]}", 5))
    mapping = steps.region(page, "Column mapping")
    expect(mapping.get_by_label("Column for OrderId", exact=True)).to_be_visible(timeout=steps.SLOW)
    axe(page, f"{prefix}-5-mapping", found)
    bad = {step: violations for step, violations in found.items() if violations}
    assert not bad, bad
