"""README documents every error code the service can hand a user."""

from __future__ import annotations

from chalicelib import metrics
from chalicelib.callbacks import DELIVERY_STATUSES
from chalicelib.orders.readers import FILE_ERROR_CODES
from chalicelib.orders.validation import ORDER_ERROR_CODES
from chalicelib.pipeline.process import STORE_ERROR_CODES
from tests.conftest import REPO

EXTRA_CODES = {
    "row.invalid_json",
    "row.field_count",
    "file.missing",
    "file.replaced",
    "file.duplicate_upload",
    "file.no_sender",
    "file.sender_disabled",
}


def test_every_error_code_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    codes = {*ORDER_ERROR_CODES, *FILE_ERROR_CODES, *STORE_ERROR_CODES, *EXTRA_CODES}
    codes.discard("<field>.invalid")  # the fallback, documented as such in validation.py
    missing = sorted(code for code in codes if f"`{code}`" not in readme)
    assert not missing, f"README does not document {missing}"


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
