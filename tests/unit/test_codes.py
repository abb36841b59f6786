"""The registry of codes (`chalicelib/orders/codes.py`) is the product's vocabulary, both ways.

The product's source (app.py, chalicelib, orderflow_cli; the registry itself left out) is
scanned for the literals of each family, each family with its own pattern: every code raised
is registered, and every registered code is raised somewhere. The numbers a meaning states are
the constants the code enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.errors import (
    INTERNAL_ERROR_BODY,
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from chalicelib.orders import codes
from chalicelib.orders.limits import MAX_DEPTH
from chalicelib.orders.readers import budget
from chalicelib.orders.validation import ORDER_ID_MAX_LENGTH, validate_order
from tests.conftest import REPO

_REGISTRY = REPO / "chalicelib" / "orders" / "codes.py"

# One pattern per family, independent of the registry. The order and store families share their
# codes' shape (`order.*`, `<field>.*`), so one pattern finds both; an API code is a bare
# snake_case word, so only where it is handed to an error body (`code=`, `CODE =`, `"code":`).
# A field's path (`"contact-info.email"`) has a code's shape: a field after the dot is a path.
_FIELDS = r"order|order-info|contact-info|OrderId|item-id|item-desc|qty|name|email"
PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {
    ("file",): re.compile(r'"(file\.[a-z_0-9]+)"'),
    ("row",): re.compile(r'"(row\.[a-z_0-9]+)"'),
    ("mapping",): re.compile(r'"(mapping\.[a-z_0-9]+)"'),
    ("order", "store"): re.compile(rf'"((?:{_FIELDS})\.(?!(?:{_FIELDS})")[a-z_]+)"'),
    ("pipeline",): re.compile(r'"(pipeline\.[a-z_0-9]+)"'),
    ("api",): re.compile(
        r'(?:\bcode=|\bCODE(?:: ClassVar\[str\])? = |"code": )"([a-z]+(?:_[a-z]+)*)"'
    ),
}
# A code each pattern must see, so that a scan that sees nothing cannot pass.
SEEN = {
    "file": "file.xls",
    "row": "row.totals",
    "mapping": "mapping.invalid",
    "order": "OrderId.too_long",
    "store": "OrderId.conflict",
    "pipeline": "pipeline.prepare_failed",
    "api": "route_not_found",
}
# Order codes `validation` builds from pydantic's own problems (`<field>.missing`, a group that
# is `<group>.not_object`) and its fallback: raised by composition, so each is shown raised by
# `validate_order` itself below instead of by a literal.
COMPOSED = re.compile(r".+\.(?:missing|not_object)|<field>\.invalid")


def _product_sources() -> Iterator[Path]:
    yield REPO / "app.py"
    for root in ("chalicelib", "orderflow_cli"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path != _REGISTRY:
                yield path


def _used(pattern: re.Pattern[str]) -> set[str]:
    return {code for path in _product_sources() for code in pattern.findall(path.read_text())}


def _registered(families: tuple[str, ...]) -> set[str]:
    return {code for family in families for code in codes.CODES_BY_FAMILY[family]}


@pytest.mark.parametrize("families", list(PATTERNS), ids=lambda f: "+".join(f))
def test_every_code_raised_is_registered_and_every_code_registered_is_raised(
    families: tuple[str, ...],
) -> None:
    used = _used(PATTERNS[families])
    registered = _registered(families)
    assert all(SEEN[family] in used for family in families), "the scan sees no raise site"
    assert used <= registered, f"raised but not registered: {sorted(used - registered)}"
    unraised = {code for code in registered - used if not COMPOSED.fullmatch(code)}
    assert not unraised, f"registered but never raised: {sorted(unraised)}"


def _valid_order() -> dict[str, Any]:
    return {
        "order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": "1"},
        "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
    }


def _without(field: str, problem: str) -> Any:
    """A valid order whose `field` is missing, or is not an object (`order`: the order itself)."""
    order = _valid_order()
    if field == "order":
        return "not an object"
    holder: dict[str, Any] = order
    if field not in order:
        holder = order["order-info"] if field in order["order-info"] else order["contact-info"]
    if problem == "missing":
        del holder[field]
    else:
        holder[field] = "not an object"
    return order


@pytest.mark.parametrize(
    "code", sorted(c for c in codes.ORDER_ERROR_CODES if COMPOSED.fullmatch(c) and "<" not in c)
)
def test_every_composed_order_code_is_returned_by_validation(code: str) -> None:
    result = validate_order(_without(*code.split(".")))
    assert isinstance(result, list)
    assert [(error.code, error.message) for error in result] == [(code, codes.ALL_CODES[code])]


def test_the_families_are_disjoint_and_all_codes_is_their_union() -> None:
    families = codes.CODES_BY_FAMILY
    assert set(families) == {"file", "row", "mapping", "order", "store", "pipeline", "api"}
    assert sum(len(family) for family in families.values()) == len(codes.ALL_CODES)
    union = {code: text for family in families.values() for code, text in family.items()}
    assert union == codes.ALL_CODES


def test_each_family_has_its_named_table() -> None:
    assert codes.CODES_BY_FAMILY["file"] == codes.FILE_ERROR_CODES
    assert codes.CODES_BY_FAMILY["row"] == codes.ROW_ERROR_CODES
    assert codes.CODES_BY_FAMILY["mapping"] == codes.MAPPING_ERROR_CODES
    assert codes.CODES_BY_FAMILY["order"] == codes.ORDER_ERROR_CODES
    assert codes.CODES_BY_FAMILY["store"] == codes.STORE_ERROR_CODES
    assert codes.CODES_BY_FAMILY["pipeline"] == codes.PIPELINE_ERROR_CODES
    assert codes.CODES_BY_FAMILY["api"] == codes.API_ERROR_CODES
    assert codes.VALUE_ERROR_CODES.items() <= codes.ORDER_ERROR_CODES.items()


def test_every_meaning_is_one_line() -> None:
    for code, meaning in codes.ALL_CODES.items():
        assert meaning.strip(), code
        assert "\n" not in meaning, code


def test_a_family_is_told_by_its_codes_shape() -> None:
    for family in ("file", "row", "mapping", "pipeline"):
        assert all(code.startswith(f"{family}.") for code in codes.CODES_BY_FAMILY[family])
    assert all(re.fullmatch(r"[a-z]+(?:_[a-z]+)*", code) for code in codes.API_ERROR_CODES)


def test_the_numbers_a_meaning_states_are_the_limits_enforced() -> None:
    order = codes.ORDER_ERROR_CODES
    assert f"more than {MAX_DEPTH} levels" in order["order.too_deep"]
    assert f"at most {ORDER_ID_MAX_LENGTH} characters" in order["OrderId.too_long"]
    files = codes.FILE_ERROR_CODES
    assert budget.MAX_UNCOMPRESSED_BYTES == 1024**3
    assert "more than 1 GiB" in files["file.too_large_uncompressed"]
    assert f"{budget.MAX_COMPRESSION_RATIO} times" in files["file.compression_ratio"]
    assert f"more than {budget.MAX_ROWS:,} rows" in files["file.too_many_rows"]
    assert f"more than {budget.MAX_COLUMNS:,} columns" in files["file.too_many_columns"]
    assert f"more than {budget.MAX_CELLS:,} cells" in files["file.too_many_cells"]
    assert budget.MAX_ROW_BYTES == 1024**2
    assert "larger than 1 MiB" in files["file.row_too_large"]
    assert f"More than {budget.MAX_ROW_ERRORS:,} rows" in files["file.too_many_row_errors"]
    assert budget.MAX_WORKBOOK_BYTES == 256 * 1024**2
    assert "larger than 256 MiB" in files["file.workbook_too_large"]


def test_an_api_code_states_its_status_when_it_is_not_400() -> None:
    for error in (BadRequest, PayloadTooLarge, NotFound, MethodNotAllowed, Conflict):
        meaning = codes.API_ERROR_CODES[error.CODE]
        assert (f"({error.STATUS}" in meaning) == (error.STATUS != 400), error.CODE
    assert "(415" in codes.API_ERROR_CODES[UnsupportedMediaType.CODE]
    assert "(500" in codes.API_ERROR_CODES[INTERNAL_ERROR_BODY["error"]["code"]]
