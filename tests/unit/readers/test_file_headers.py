"""What the batch's `file` shows of a table's header (`headers`, `suggestions`), for the page
that offers a partner "Column for qty: [...]": German headers in a CSV with `;`, gzip, and an
.xlsx; a title row above; a mapping naming a header that is not there; a hostile header capped;
JSON formats without either. Every suggestion is one of `headers`."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from chalicelib.orders.readers import Budget, ColumnMapping, read_records
from chalicelib.orders.readers.names import closest, near
from chalicelib.orders.records import ORDER_FIELDS, UnreadableFile
from tests.unit.readers.support import FIELDS_HEADER, HEADER, order, workbook

GERMAN = ["Bestellnummer", "Artikel", "Beschreibung", "Menge", "Kunde", "E-Mail-Adresse"]
GERMAN_ROW = ["1", "101", "Lampe", "2", "Ann Lee", "ann@example.com"]
# the one rule (names.closest) on these headers: English synonyms make few of them close
GERMAN_SUGGESTIONS = {
    "OrderId": [],
    "item-id": ["Artikel", "Bestellnummer"],
    "item-desc": [],
    "qty": [],
    "name": [],
    "email": ["E-Mail-Adresse"],
}


def german_csv(*above: str) -> bytes:
    lines = [*above, ";".join(GERMAN), ";".join(GERMAN_ROW)]
    return ("\r\n".join(lines) + "\r\n").encode()


def refused(
    data: bytes, key: str, mapping: ColumnMapping | None = None, budget: Budget | None = None
) -> tuple[UnreadableFile, dict[str, Any]]:
    """The refusal of the file and its facts as the batch records them."""
    reading = read_records(io.BytesIO(data), key, mapping=mapping, budget=budget or Budget())
    with pytest.raises(UnreadableFile) as caught:
        list(reading)
    return caught.value, reading.facts.to_dict()


def facts_of(data: bytes, key: str, mapping: ColumnMapping | None = None) -> dict[str, Any]:
    reading = read_records(io.BytesIO(data), key, mapping=mapping)
    list(reading)
    return reading.facts.to_dict()


def offered(file: dict[str, Any]) -> None:
    """Every suggestion is a header the page can offer."""
    for close in file["suggestions"].values():
        assert set(close) <= set(file["headers"])


@pytest.mark.parametrize("key", ["bestellungen.csv", "bestellungen.txt"])
def test_a_german_csv_with_semicolons_says_its_headers_and_what_is_close(key):
    error, file = refused(german_csv(), key)

    assert error.code == "file.missing_columns"
    assert (file["delimiter"], file["columns"]) == (";", {})
    assert file["headers"] == GERMAN
    assert file["suggestions"] == GERMAN_SUGGESTIONS
    offered(file)
    # the message names the same closest headers as before
    assert 'item-id (closest headers: "Artikel", "Bestellnummer")' in error.message
    assert "qty (no header is close)" in error.message


def test_a_gzipped_csv_says_the_same():
    error, file = refused(gzip.compress(german_csv()), "bestellungen.csv.gz")

    assert error.code == "file.missing_columns"
    assert file["compressed"] is True
    assert (file["headers"], file["suggestions"]) == (GERMAN, GERMAN_SUGGESTIONS)


def test_a_workbook_with_german_headers_and_a_typo_says_its_headers_and_suggestions():
    header = ["Bestellnummer", "Artikel", "Beschreibung", "Quantitiy", "Kunde", "E-Mail-Adresse"]
    data = workbook(("Bestellungen", [header, [1001, 101, "Lampe", 2, "Ann Lee", "a@b.org"]]))

    error, file = refused(data, "bestellungen.xlsx")

    assert error.code == "file.missing_columns"
    assert (file["format"], file["sheet"]) == ("xlsx", "Bestellungen")
    assert file["headers"] == header
    assert file["suggestions"]["qty"] == ["Quantitiy"]
    assert set(file["suggestions"]) == {"OrderId", "item-id", "item-desc", "qty", "name", "email"}
    offered(file)


def test_when_no_row_matches_the_first_non_blank_rows_values_are_the_headers():
    data = german_csv("", "Bestellungen März 2024;;", "")

    error, file = refused(data, "bestellungen.csv")

    assert error.code == "file.missing_columns"
    assert "line 2" in error.message
    assert file["headers"] == ["Bestellungen März 2024"]  # the blank columns are no header
    assert set(file["suggestions"]) == set(ORDER_FIELDS)
    offered(file)


def test_a_title_row_above_a_header_that_matches_leaves_no_trace():
    data = f"Orders March 2024\n{HEADER}\n1,101,Item One,1,Foo Bar,buyer1@example.com\n".encode()

    file = facts_of(data, "orders.csv")

    assert (file["headers"], file["suggestions"]) == (FIELDS_HEADER, {})
    assert file["columns"]["qty"] == "qty"


def test_a_sheet_read_in_full_has_its_headers_and_no_suggestions():
    header = ["Order ID", "Item ID", "Description", "Quantity", "Name", "Email", "", "Notiz"]
    first = ["1", "101", "Item One", 1, "Foo Bar", "buyer1@example.com", None, "x"]
    data = workbook(("Orders", [["ACME orders"], header, first]))

    reading = read_records(io.BytesIO(data), "orders.xlsx")
    (record,) = reading

    assert record.order == {**order("1"), "Notiz": "x"}
    assert reading.facts.headers == [name for name in header if name]
    assert reading.facts.suggestions == {}


def test_a_mapped_header_that_is_not_there_gets_suggestions_too():
    mapping = ColumnMapping({"qty": "Menge", "OrderId": "Bestellnummer"})
    header = "Bestellnummer;item-id;item-desc;Mengen;Quantity;name;email"
    data = f"{header}\r\n1;101;Lampe;2;2;Ann Lee;a@b.org\r\n".encode()

    error, file = refused(data, "orders.csv", mapping)

    assert 'the mapping names the column "Menge", which is not there' in error.message
    assert 'closest headers: "Mengen")' in error.message  # the message as before
    # closest to the mapped header or to the field's own names
    assert file["suggestions"] == {"qty": ["Quantity", "Mengen"]}
    assert file["columns"] == {}  # nothing is taken as read while the header is refused
    assert file["mapping"]["columns"]["qty"] == "Menge"
    offered(file)


def test_a_header_with_a_column_twice_says_its_headers():
    error, file = refused(b"OrderId;OrderId;item-id\r\n1;1;2\r\n", "orders.csv")

    assert error.code == "file.duplicate_columns"
    assert (file["headers"], file["suggestions"]) == (["OrderId", "OrderId", "item-id"], {})


def test_a_header_of_5000_columns_is_refused_before_it_is_shown():
    names = [f"Spalte {n}" for n in range(5_000)]
    data = (";".join(names) + "\r\n" + ";".join("1" * 5_000) + "\r\n").encode()

    error, file = refused(data, "orders.csv")

    assert error.code == "file.too_many_columns"
    assert (file["headers"], file["suggestions"]) == ([], {})


def test_a_hostile_header_is_capped_in_the_record_and_in_the_message():
    # 5,000 columns of 1,000 characters read with a budget that lets them in: 200 are shown,
    # each cut at 200 characters, and no message carries more of them
    names = [f"{n:04d}" + "x" * 996 for n in range(5_000)]
    data = (";".join([*names, "qty", "Quantitiy"]) + "\r\n").encode()
    budget = Budget(columns=10_000, row_bytes=8 << 20, cells=10**8)

    error, file = refused(data, "orders.csv", budget=budget)

    assert error.code == "file.missing_columns"
    assert len(file["headers"]) == 200
    assert file["headers"][0] == "0000" + "x" * 196
    assert {len(name) for name in file["headers"]} == {200}
    assert file["suggestions"]["OrderId"] == []  # "Quantitiy" is past the 200 shown
    assert 'email (closest headers: "Quantitiy")' not in error.message  # not close to email
    assert len(error.message) < 30 * 200 + 18 * 200 + 2_000


def test_the_worst_header_keeps_the_records_file_small():
    # 4-byte characters, dropped by normalising, so every name is as close as can be and as
    # long in bytes as can be: the batch's `file` stays within 180 KB
    pad = "\U0001f600" * 197
    names = [f"q{pad}t{n:01d}" for n in range(6)] + [f"{n:03d}{pad}x" for n in range(300)]
    data = (";".join(names) + "\r\n").encode()

    error, file = refused(data, "orders.csv")

    assert error.code == "file.missing_columns"
    assert len(file["suggestions"]["qty"]) == 3
    assert all(len(name) == 200 for name in file["headers"])
    size = len(json.dumps(file, ensure_ascii=False).encode())
    assert 160_000 < size < 180_000
    assert len(error.message.encode()) < 50_000


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (json.dumps({"orders": [order("1")]}).encode(), "orders.json"),
        (json.dumps(order("1")).encode() + b"\n", "orders.jsonl"),
    ],
)
def test_json_formats_have_no_headers_and_no_suggestions(data, key):
    file = facts_of(data, key, ColumnMapping({"qty": "Menge"}))

    assert (file["headers"], file["suggestions"]) == ([], {})


def test_near_says_what_closest_finds():
    headers = ["Qty.", "Quantitiy", "Kunde", "Quantity Ordered X"]

    close = closest(headers, "qty", "Quantity")

    assert close == ["Qty.", "Quantitiy", "Quantity Ordered X"]
    assert near(close) == 'closest headers: "Qty.", "Quantitiy", "Quantity Ordered X"'
    assert closest(headers, "email") == []
    assert near([]) == "no header is close"
