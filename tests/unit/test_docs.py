"""The docs say what the code does: each reference table in docs/ is compared with the code it
documents (both ways where the table is the whole list), every relative link in README.md and
docs/*.md leads to a file, and to a heading of it, that exists, and every file they name is there.
(That every code the product raises is registered, and every registered one raised, is
tests/unit/test_codes.py's: here, the registry against the docs.)"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from chalicelib import metrics
from chalicelib.callbacks import DELIVERY_STATUSES
from chalicelib.orders.codes import CODES_BY_FAMILY
from chalicelib.orders.readers.columns import SYNONYMS
from tests.conftest import REPO

DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _section(page: str, start: str, end: str | None = None) -> str:
    """The text of docs/<page> from the heading `start` to the heading `end` (else the end)."""
    text = (DOCS / page).read_text()
    begin = text.index(f"\n{start}\n")
    return text[begin : text.index(f"\n{end}\n", begin) if end else len(text)]


def _first_cells(section: str) -> list[str]:
    """The first cell of every row of the tables in `section`, header rows left out."""
    cells = [line.split(" | ")[0][2:] for line in section.splitlines() if line.startswith("| ")]
    return [cell for cell in cells if cell not in ("code", "metric", "---") and cell[:3] != "---"]


def _family_sections() -> dict[str, str]:
    """docs/errors.md's section for each family, by the family named in its heading."""
    text = (DOCS / "errors.md").read_text()
    headings = list(re.finditer(r"^## .*\(`([a-z]+)`\)$", text, flags=re.MULTILINE))
    ends = [match.start() for match in headings[1:]] + [len(text)]
    pairs = zip(headings, ends, strict=True)
    return {match.group(1): text[match.end() : end] for match, end in pairs}


def test_errors_page_has_one_table_per_family_of_the_registry() -> None:
    assert set(_family_sections()) == set(CODES_BY_FAMILY)


@pytest.mark.parametrize("family", sorted(CODES_BY_FAMILY))
def test_each_familys_table_is_the_registry(family: str) -> None:
    section = _family_sections()[family]
    documented = [code for cell in _first_cells(section) for code in re.findall(r"`([^`]+)`", cell)]
    assert len(documented) == len(set(documented)), f"a {family} code is documented twice"
    assert set(documented) == set(CODES_BY_FAMILY[family]), family


def test_the_synonyms_table_is_the_readers() -> None:
    section = _section("formats.md", "## Column names", "## Column mappings")
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, flags=re.MULTILINE))
    assert set(rows) == set(SYNONYMS)
    for name, synonyms in SYNONYMS.items():
        assert [s.strip().strip("`") for s in rows[name].split(",")] == list(synonyms), name


def test_the_webhook_statuses_table_is_the_delivery_statuses() -> None:
    section = _section("notifications.md", "## Webhooks")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    # `pending`: the callback before the batch ends (written with the batch), then an end
    assert documented == {"pending", *DELIVERY_STATUSES}


def test_the_exit_codes_table_is_the_exit_codes_of_orders() -> None:
    from orderflow_cli.exits import ExitCode

    table = _section("cli.md", "## Exit codes of `orders`")
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    documented = {int(line.split("|")[1]) for line in rows}
    assert documented == {int(code) for code in ExitCode}


def test_the_metrics_table_is_the_metrics_the_functions_emit() -> None:
    section = _section("operations.md", "## Metrics", "## Traces")
    names = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
    names.discard(metrics.NAMESPACE)
    documented = {name for cell in _first_cells(section) for name in re.findall(r"`(\w+)`", cell)}
    assert documented == names


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def _relative_links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        # the file, then (when it exists) the heading the anchor names
        if not target.exists() or (
            anchor and target.suffix == ".md" and anchor not in _anchors(target)
        ):
            broken.append(link)
    assert not broken, f"{page.name}: {broken}"


def test_the_link_check_sees_links_and_anchors() -> None:
    readme = REPO / "README.md"
    assert "docs/errors.md" in _relative_links(readme)
    assert "exit-codes-of-orders" in _anchors(DOCS / "cli.md")
    assert _slug("AWS's weather on the emulator") == "awss-weather-on-the-emulator"


def test_readme_is_the_front_door() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for command in ("make run", "make test"):
        assert command in readme
    linked = {Path(link).name for link in _relative_links(REPO / "README.md")}
    assert {page.name for page in DOCS.glob("*.md")} <= linked  # every page is reachable


# Files the docs name that a command writes (`chalice deploy`), not the repository.
WRITTEN_BY_COMMANDS = {".chalice/deployed/dev.json"}
PATH_ROOTS: tuple[str, ...] = ("app.py", "chalicelib/", "orderflow_cli/", "tests/", "bench/")
PATH_ROOTS += ("infra/", "api/", "samples/", "docs/", ".chalice/", "emulator/")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_file_the_docs_name_exists(page: Path) -> None:
    named = {
        name.split(":")[0]
        for name in re.findall(r"`([^`\s]+)`", page.read_text())
        if name.startswith(PATH_ROOTS) and not re.search(r"[<>*{}$]", name)
    }
    missing = sorted(
        name
        for name in named - WRITTEN_BY_COMMANDS
        # `emulator/...` is short for orderflow_cli/emulator/...
        if not ((REPO / name).exists() or (REPO / "orderflow_cli" / name).exists())
    )
    assert not missing, f"{page.name} names files that are not there: {missing}"
