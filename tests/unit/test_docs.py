"""README documents every error code the service can hand a user."""

from __future__ import annotations

import re

from chalicelib import metrics
from chalicelib.callbacks import DELIVERY_STATUSES
from chalicelib.orders.codes import ALL_CODES, FILE_ERROR_CODES
from chalicelib.orders.readers.columns import SYNONYMS
from chalicelib.orders.validation import ORDER_ERROR_CODES
from chalicelib.pipeline.process import STORE_ERROR_CODES
from tests.conftest import REPO


def test_every_error_code_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    codes = {*ORDER_ERROR_CODES, *ALL_CODES, *STORE_ERROR_CODES}
    codes.discard("<field>.invalid")  # the fallback, documented as such in validation.py
    missing = sorted(code for code in codes if f"`{code}`" not in readme)
    assert not missing, f"README does not document {missing}"


def test_every_file_row_and_mapping_code_the_code_raises_is_in_the_registry() -> None:
    # each code written as a literal anywhere in the product (the registry itself included)
    pattern = re.compile(r'"((?:file|row|mapping)\.[a-z_0-9]+)"')
    used = {
        code
        for root in ("chalicelib", "orderflow_cli")
        for path in (REPO / root).rglob("*.py")
        for code in pattern.findall(path.read_text())
    }
    used |= set(pattern.findall((REPO / "app.py").read_text()))
    assert "file.xls" in used  # the scan sees the readers
    assert used <= set(ALL_CODES), sorted(used - set(ALL_CODES))
    assert set(ALL_CODES) <= used, sorted(set(ALL_CODES) - used)  # no code left unraised


def test_the_readme_file_codes_table_is_the_registry() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("File codes (") : readme.index("## What happens to each order")]
    documented = set(re.findall(r"^\| `(file\.[a-z_0-9]+)`", table, flags=re.MULTILINE))
    assert documented == set(FILE_ERROR_CODES)


def test_the_readme_synonyms_table_is_the_readers() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Column names") : readme.index("### Validation rules")]
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, flags=re.MULTILINE))
    assert set(rows) == set(SYNONYMS)
    for name, synonyms in SYNONYMS.items():
        assert [s.strip().strip("`") for s in rows[name].split(",")] == list(synonyms), name


def test_every_webhook_delivery_status_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Webhooks") : readme.index("## Deployment to AWS")]
    missing = [status for status in DELIVERY_STATUSES if f"| `{status}` |" not in section]
    assert not missing, f"README's webhook section does not document {missing}"


def test_readme_documents_exactly_the_exit_codes_of_orders() -> None:
    from orderflow_cli.exits import ExitCode

    readme = (REPO / "README.md").read_text()
    start = readme.index("### Exit codes of `orders`")
    table = readme[start : readme.index("\n\n", readme.index("| code |", start))]
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    documented = {int(line.split("|")[1]) for line in rows}
    assert documented == {int(code) for code in ExitCode}


def test_every_metric_the_functions_emit_is_in_the_readmes_operations_section() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Operations") : readme.index("## Configuration")]
    names = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
    names.discard(metrics.NAMESPACE)
    missing = sorted(name for name in names if f"`{name}`" not in section)
    assert not missing, f"README's Operations section does not list {missing}"
