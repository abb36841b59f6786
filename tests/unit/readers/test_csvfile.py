"""csvfile.py through read_records: delimiters, TSV, UTF-16 exports, facts, row numbers."""

from __future__ import annotations

import gzip

import pytest

from chalicelib.orders.readers import ColumnMapping
from tests.unit.readers.support import FIELDS_HEADER, order, read, reading

ROWS = [["1", "101", "Item One", "1", "Foo Bar", "buyer1@example.com"],
        ["2", "101", "Item One", "1", "Foo Bar", "buyer2@example.com"]]  # fmt: skip


def table(delimiter: str, header: list[str] = FIELDS_HEADER) -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in [header, *ROWS])


PLAIN = read(table(",").encode(), "orders.csv")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_reads_like_the_plain_csv_and_is_stated(delimiter):
    file = reading(table(delimiter).encode(), "orders.csv")

    assert list(file) == PLAIN
    assert (file.facts.format, file.facts.delimiter) == ("csv", delimiter)


def test_tsv_by_name_even_with_commas_in_the_header():
    data = table("\t", ["OrderId", "item-id", "item-desc, long", "qty", "name", "email"])
    data = data.replace("item-desc, long", "item-desc")

    file = reading(gzip.compress(data.encode()), "orders.tsv.gz")

    assert list(file) == PLAIN
    assert file.facts.delimiter == "\t"
    assert file.facts.compressed


def test_excels_unicode_text_export_is_read():
    # Excel's "Unicode text": UTF-16 LE with a BOM, tab-separated, named .txt
    header = ["Order ID", "Item ID", "Description", "Quantity", "Name", "Email"]
    data = ("\ufeff" + table("\t", header)).encode("utf-16-le")

    file = reading(data, "export.txt")

    assert list(file) == PLAIN
    assert (file.facts.encoding, file.facts.delimiter) == ("utf-16-le", "\t")
    assert file.facts.columns["OrderId"] == "Order ID"


def test_a_mappings_delimiter_overrides_detection():
    # given a header with more pipes (in a column's name) than semicolons
    data = b"OrderId;item-id;item-desc;qty;name;email;a|b|c|d|e|f|g|h\n"
    data += b"1;101;Item One;1;Foo Bar;buyer1@example.com;x\n"

    (record,) = read(data, "a.csv", ColumnMapping(delimiter=";"))

    assert record.order == {**order("1"), "a|b|c|d|e|f|g|h": "x"}


def test_semicolon_row_numbers_count_a_quoted_line_break():
    data = b"OrderId;item-id;item-desc;qty;name;email\n"
    data += b'1;101;"two\nlines";1;F;a@b.org\n2;1;;x;F;a@b.org\n'

    assert [record.row for record in read(data, "a.csv")] == [2, 4]
