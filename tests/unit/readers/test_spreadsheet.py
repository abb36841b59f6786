"""spreadsheet.py through read_records: typed cells, Excel's row numbers, sheets, refusals."""

from __future__ import annotations

import datetime
import gzip
import io
from typing import Any

import pytest

from chalicelib.orders.readers import ColumnMapping, read_records
from chalicelib.orders.readers.spreadsheet import cell_text
from chalicelib.orders.records import UnreadableFile
from tests.unit.readers.support import FIELDS_HEADER, order, read, reading, workbook

HEADER = ["Order ID", "Item ID", "Description", "Quantity", "Name", "Email"]


def refused(data: bytes, key: str = "orders.xlsx", mapping: ColumnMapping | None = None):
    with pytest.raises(UnreadableFile) as caught:
        list(read_records(io.BytesIO(data), key, mapping=mapping))
    return caught.value


def test_whole_number_cells_are_valid_ids_and_quantities():
    data = workbook(("Orders", [HEADER, [1001.0, 101, "Item One", 3.0, "Foo Bar", "b1@x.org"]]))

    file = reading(data, "orders.xlsx")
    (record,) = file

    assert record.row == 2
    assert record.order["order-info"] == {
        "OrderId": "1001",
        "item-id": "101",
        "item-desc": "Item One",
        "qty": "3",
    }
    assert (file.facts.format, file.facts.sheet) == ("xlsx", "Orders")
    assert file.facts.columns["qty"] == "Quantity"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (3, "3"),
        (3.0, "3"),
        (-1.0, "-1"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.3"),
        (True, "TRUE"),
        (datetime.datetime(2024, 5, 1), "2024-05-01"),
        (datetime.datetime(2024, 5, 1, 8, 30), "2024-05-01 08:30:00"),
        (datetime.time(8, 30), "08:30:00"),
        ("  text ", "  text "),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_row_numbers_are_excels_across_leading_and_blank_rows():
    rows = [[], [], FIELDS_HEADER, [1, 101, "Item One", 1, "Foo Bar", "buyer1@example.com"], [],
            [2, 101, "Item One", 1, "Foo Bar", "buyer2@example.com"]]  # fmt: skip

    records = read(workbook(("Sheet1", rows)), "orders.xlsx")

    assert [(r.row, r.order) for r in records] == [(4, order("1")), (6, order("2"))]


def test_short_rows_are_padded_and_a_value_right_of_the_header_is_the_rows_error():
    rows = [FIELDS_HEADER, [1, 101, "Item One", 1, "Foo Bar"], [2, 1, "d", 1, "n", "e", None, "x"]]

    short, wide = read(workbook(("Sheet1", rows)), "orders.xlsx")

    assert short.order["contact-info"]["email"] == ""
    assert wide.error is not None
    assert wide.error.code == "row.field_count"
    assert "column H" in wide.error.message


def test_the_first_visible_sheet_or_the_named_one_is_read():
    first = ("Hidden", [["nothing"]])
    second = ("Orders", [FIELDS_HEADER, [1, 101, "Item One", 1, "Foo Bar", "buyer1@example.com"]])
    third = ("Other", [FIELDS_HEADER, [2, 101, "Item One", 1, "Foo Bar", "buyer2@example.com"]])
    data = workbook(first, second, third, hidden=("Hidden",))

    assert [r.order for r in read(data, "a.xlsx")] == [order("1")]
    assert [r.order for r in read(data, "a.xlsx", ColumnMapping(sheet="other"))] == [order("2")]
    error = refused(data, mapping=ColumnMapping(sheet="Sheet9"))
    assert error.code == "file.sheet_not_found"
    assert '"Hidden", "Orders", "Other"' in error.message


def test_content_decides_not_the_name_and_gzip_is_fine():
    data = workbook(
        ("Sheet1", [FIELDS_HEADER, [1, 101, "Item One", 1, "Foo Bar", "buyer1@example.com"]])
    )

    assert read(data, "orders.csv") == read(gzip.compress(data), "upload") == read(data, "a.xlsx")


def test_a_workbook_is_never_called_an_encoding_problem():
    data = workbook(("Sheet1", [FIELDS_HEADER]))

    error = refused(data, "orders.csv")

    assert error.code == "file.empty"
    assert "header row but no data rows" in error.message


def test_an_empty_sheet_and_missing_columns():
    assert refused(workbook(("Sheet1", [])), "a.xlsx").code == "file.empty"
    error = refused(workbook(("Sheet1", [["Order", "Qty"], [1, 2]])))
    assert error.code == "file.missing_columns"
    assert 'row 1 of sheet "Sheet1"' in error.message


def test_a_damaged_workbook_part_is_an_unreadable_workbook():
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook(("S", [["a"]])))) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the sheet's XML cut short
            target.writestr(item, data)

    assert refused(out.getvalue()).code == "file.invalid_xlsx"


def test_memory_in_use_does_not_grow_with_the_rows():
    # a reader that held the sheet would keep every cell's value: several hundred bytes a row
    # (the unique e-mail addresses also grow the shared strings table openpyxl holds whole)
    import tracemalloc

    def rows(n: int) -> list[Any]:
        return [FIELDS_HEADER] + [
            [i, 101, "Item One", 1, "Foo Bar", f"b{i}@example.com"] for i in range(n)
        ]

    small, large = workbook(("S", rows(300))), workbook(("S", rows(3000)))
    list(read_records(io.BytesIO(small), "a.xlsx"))  # imports and caches out of the count
    held = []  # memory in use when the last row is read
    for data in (small, large):
        tracemalloc.start()
        for _ in read_records(io.BytesIO(data), "a.xlsx"):
            in_use = tracemalloc.get_traced_memory()[0]
        held.append(in_use)
        tracemalloc.stop()

    per_row = (held[1] - held[0]) / 2700  # a few bytes, measured; 250 leaves room for noise
    assert per_row < 250


def test_a_whole_number_the_workbook_could_not_keep_exactly_refuses_its_row_alone():
    # given 20 digits typed into a number cell (Excel keeps 15 significant digits: the float it
    # stores is 12345678901234567168, not what was typed), between two good rows
    typed = 12345678901234567890
    assert float(typed) != typed  # the independent fact: a double cannot hold it
    data = workbook(
        (
            "Orders",
            [
                HEADER,
                [1001.0, 101, "One", 1.0, "Foo Bar", "a@x.org"],
                [float(typed), 101, "Two", 1.0, "Foo Bar", "b@x.org"],
                [2.0**53 - 1, 101, "Three", 1.0, "Foo Bar", "c@x.org"],  # still exact
            ],
        )
    )

    records = read(data, "orders.xlsx")

    assert [r.row for r in records if r.error is None] == [2, 4]
    assert records[2].order["order-info"]["OrderId"] == str(2**53 - 1)
    (bad,) = [r for r in records if r.error is not None]
    assert bad.error is not None
    assert (bad.row, bad.error.code) == (3, "row.inexact_number")
    assert "column A" in bad.error.message
    assert bad.error.value == "1.23456789012346e+19"  # as the spreadsheet shows it
