"""Partner habits (issue 21), tried as a new user would: each file is built here."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from chalicelib.orders.jsontext import parse_text
from chalicelib.orders.readers import ColumnMapping, MappingError, read_records
from chalicelib.orders.records import UnreadableFile
from tests.unit.readers.support import (
    FIELDS_HEADER,
    HEADER,
    Trickle,
    errors,
    order,
    read,
    reading,
    rows,
    unreadable,
    workbook,
)

# empty header names ------------------------------------------------------------------------------


def test_trailing_empty_csv_columns_are_ignored_and_never_a_duplicate():
    data = (
        f"{HEADER},,\n1,101,Item One,1,Foo Bar,buyer1@example.com,,\n"
        "2,101,Item One,1,Foo Bar,buyer2@example.com\n"
    ).encode()

    records = read(data, "orders.csv")

    assert errors(records) == [None, None]
    assert [record.order for record in records] == [order("1"), order("2")]


def test_a_blank_header_column_in_the_middle_is_ignored_while_empty():
    header = "OrderId, ,item-id,item-desc,qty,name,email"
    data = f"{header}\n1,,101,Item One,1,Foo Bar,buyer1@example.com\n".encode()

    records = read(data, "orders.csv")

    assert errors(records) == [None]
    assert records[0].order == order("1")


def test_a_value_under_an_empty_csv_header_is_that_rows_error_only():
    data = (
        f"{HEADER},,\n1,101,Item One,1,Foo Bar,buyer1@example.com,,\n"
        "2,101,Item One,1,Foo Bar,buyer2@example.com,,gift wrap\n"
        "3,101,Item One,1,Foo Bar,buyer3@example.com,,\n"
    ).encode()

    records = read(data, "orders.csv")

    assert errors(records) == [None, "row.value_without_header", None]
    error = records[1].error
    assert error is not None
    assert "field 8" in error.message
    assert "line 3" in error.message
    assert error.value == "gift wrap"


def test_workbook_gaps_in_the_header_are_ignored_and_a_value_under_one_is_named():
    header = ["OrderId", None, "item-id", "item-desc", "qty", None, "name", "email"]
    good = ["1", None, "101", "Item One", 1, None, "Foo Bar", "buyer1@example.com"]
    bad = ["2", "note", "101", "Item One", 1, None, "Foo Bar", "buyer2@example.com"]
    data = workbook(("Orders", [header, good, bad, good]))

    records = read(data, "orders.xlsx")

    assert rows(records) == [2, 3, 4]
    assert errors(records) == [None, "row.value_without_header", None]
    assert records[0].order == order("1")
    error = records[1].error
    assert error is not None
    assert "column B" in error.message


def test_a_json_member_named_empty_is_that_orders_rejection_at_any_level():
    first = order("1")
    nested = order("2")
    nested["order-info"][""] = "x"
    top = {**order("3"), "": 1}
    data = "\n".join(json.dumps(each) for each in (first, nested, top, order("4"))).encode()

    records = read(data, "orders.jsonl")

    assert errors(records) == [None, "row.empty_member_name", "row.empty_member_name", None]
    assert parse_text('{"a": {"b": [{"": 1}]}}').error is not None
    assert parse_text('{"a": {"b": [{"c": 1}]}}').error is None


def test_a_json_document_with_an_empty_member_name_rejects_that_order_only():
    bad = {**order("2"), "": "x"}
    data = json.dumps({"orders": [order("1"), bad, order("3")]}).encode()

    records = read(data, "orders.json")

    assert errors(records) == [None, "row.empty_member_name", None]


# a formula without a cached value ----------------------------------------------------------------


def _formula_row(order_id: str, formula: str) -> list[object]:
    return [order_id, "101", "Item One", formula, "Foo Bar", f"buyer{order_id}@example.com"]


def test_a_formula_saved_without_its_value_says_so_and_its_neighbours_go_on():
    # openpyxl, like many programs that write workbooks, saves `<f>` with an empty `<v />`
    data = workbook(
        (
            "Orders",
            [
                FIELDS_HEADER,
                _formula_row("1", "1"),
                _formula_row("2", "=1+1"),
                _formula_row("3", "3"),
            ],
        )
    )

    records = read(data, "orders.xlsx")

    assert errors(records) == [None, "row.formula_without_value", None]
    error = records[1].error
    assert error is not None
    assert "column D" in error.message
    assert "save it again" in error.message
    assert records[0].order == order("1")


def _sheet_xml(cell: str) -> bytes:
    """A workbook whose row 2 has `cell` as its qty (column D)."""
    data = workbook(("Orders", [FIELDS_HEADER, _formula_row("1", "7")]))
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            part = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = re.sub(rb'<c r="D2"[^>]*>.*?</c>', cell.encode(), part)
            target.writestr(info, part)
    return out.getvalue()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('<c r="D2"><f>2+5</f></c>', "row.formula_without_value"),  # no <v> at all
        ('<c r="D2" t="n"><f>2+5</f><v></v></c>', "row.formula_without_value"),
        ('<c r="D2" t="str"><f>2+5</f><v>7</v></c>', None),  # calculated: its value is read
        ('<c r="D2"><f>2+5</f><v>7</v></c>', None),
    ],
)
def test_only_a_formula_without_a_computed_value_is_refused(cell, expected):
    records = read(_sheet_xml(cell), "orders.xlsx")

    assert errors(records) == [expected]
    if expected is None:
        assert records[0].order == order("1", qty="7")


def test_a_formula_computed_to_empty_text_is_an_empty_cell():
    records = read(_sheet_xml('<c r="D2" t="str"><f>""</f><v></v></c>'), "orders.xlsx")

    assert errors(records) == [None]
    assert records[0].order == order("1", qty="")


# Windows-1252 and Latin-1 CSV ---------------------------------------------------------------------

LEGACY_ROWS = "1,101,Crème brûlée € 5,1,Zoë Müller,zoe@example.com\r\n"


def test_a_windows_1252_csv_from_older_excel_is_read_and_the_facts_say_so():
    data = (HEADER + "\r\n" + LEGACY_ROWS).encode("cp1252")

    result = reading(data, "orders.csv")
    records = list(result)

    assert errors(records) == [None]
    assert records[0].order["order-info"]["item-desc"] == "Crème brûlée € 5"
    assert records[0].order["contact-info"]["name"] == "Zoë Müller"
    assert result.facts.encoding == "windows-1252"


def test_a_utf_8_csv_still_says_utf_8():
    result = reading((HEADER + "\r\n" + LEGACY_ROWS).encode(), "orders.csv")

    assert errors(list(result)) == [None]
    assert result.facts.encoding == "utf-8"


def test_the_first_byte_that_is_not_utf_8_far_into_the_file_switches_it_whole():
    # 3,000 ASCII rows (several chunks of 64 KiB), then an "é" in Windows-1252, across a chunk
    ascii_rows = "".join(f"{n},101,Item One,1,Foo Bar,buyer{n}@example.com\n" for n in range(3000))
    data = (HEADER + "\n" + ascii_rows).encode() + "9999,101,Café,1,Zoë,z@example.com\n".encode(
        "cp1252"
    )

    for body in (io.BytesIO(data), Trickle(data, 1000)):
        result = read_records(body, "orders.csv")
        records = list(result)
        assert len(records) == 3001
        assert records[-1].order["order-info"]["item-desc"] == "Café"
        assert result.facts.encoding == "windows-1252"


def test_a_csv_that_is_neither_utf_8_nor_windows_1252_text_is_still_refused():
    data = HEADER.encode() + b"\n1,101,Item \x81 One,1,Foo,f@example.com\n"

    error = unreadable(data, "orders.csv")

    assert error.code == "file.encoding"
    assert "not Windows-1252 text either" in error.message
    assert "0x81" in error.message
    assert "line 2" in error.message


def test_a_binary_file_named_csv_is_not_taken_for_windows_1252():
    data = HEADER.encode() + b"\n1,\xe9\x00\x01\x02,x,1,y,z@example.com\n"

    error = unreadable(data, "orders.csv")

    assert error.code == "file.encoding"
    assert "control character" in error.message


def test_json_in_windows_1252_is_still_refused_as_json_is_utf_8():
    data = json.dumps([order("1")], ensure_ascii=False).replace("Foo Bar", "Zoë").encode("cp1252")

    error = unreadable(data, "orders.json")

    assert error.code == "file.encoding"
    assert "not valid UTF-8" in error.message


@pytest.mark.parametrize(
    ("named", "codec", "facts"),
    [
        ("windows-1252", "cp1252", "windows-1252"),
        ("cp1252", "cp1252", "windows-1252"),
        ("latin-1", "latin-1", "latin-1"),
        ("ISO-8859-1", "latin-1", "latin-1"),
    ],
)
def test_the_mapping_may_name_the_encoding(named, codec, facts):
    mapping = ColumnMapping.from_json({"encoding": named})
    rows_ = "1,101,Crème brûlée,1,Zoë Müller,zoe@example.com\n"

    result = reading((HEADER + "\n" + rows_).encode(codec), "orders.csv", mapping)
    records = list(result)

    assert errors(records) == [None]
    assert records[0].order["order-info"]["item-desc"] == "Crème brûlée"
    assert result.facts.encoding == facts
    assert mapping.to_dict()["encoding"] == facts


def test_a_named_encoding_is_what_the_file_is_read_in_even_when_it_looks_like_utf_8():
    # "Ã©" in Windows-1252 is also the UTF-8 of "é": only the mapping can tell
    data = (HEADER + "\n1,101,Ã©,1,Foo,f@example.com\n").encode("cp1252")

    named = read(data, "orders.csv", ColumnMapping.from_json({"encoding": "windows-1252"}))
    guessed = read(data, "orders.csv")

    assert named[0].order["order-info"]["item-desc"] == "Ã©"
    assert guessed[0].order["order-info"]["item-desc"] == "é"


def test_a_mapping_naming_utf_8_refuses_other_bytes():
    data = (HEADER + "\n" + LEGACY_ROWS).encode("cp1252")

    with pytest.raises(UnreadableFile) as caught:
        read(data, "orders.csv", ColumnMapping.from_json({"encoding": "utf-8"}))

    assert caught.value.code == "file.encoding"


def test_a_named_latin_1_with_windows_1252_bytes_says_to_fix_the_mapping():
    data = (HEADER + "\n1,101,5 €,1,Foo,f@example.com\n").encode("cp1252")

    with pytest.raises(UnreadableFile) as caught:
        read(data, "orders.csv", ColumnMapping.from_json({"encoding": "latin-1"}))

    assert caught.value.code == "file.encoding"
    assert "as the column mapping says" in caught.value.message


def test_a_named_encoding_never_applies_to_json():
    data = json.dumps([order("1")], ensure_ascii=False).replace("Foo Bar", "Zoë").encode()

    records = read(data, "orders.json", ColumnMapping.from_json({"encoding": "latin-1"}))

    assert records[0].order["contact-info"]["name"] == "Zoë"


@pytest.mark.parametrize("named", ["utf-16", "ascii", 1252, ["latin-1"]])
def test_a_mapping_with_another_encoding_is_refused(named):
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_json({"encoding": named})

    assert "encoding must be one of" in caught.value.message


def test_a_mapping_without_an_encoding_says_the_same_as_before():
    assert ColumnMapping.from_json({"delimiter": ";"}).to_dict() == {
        "columns": {},
        "sheet": None,
        "delimiter": ";",
    }


# title rows above the header ----------------------------------------------------------------------


def test_a_title_row_above_a_csv_header_is_skipped():
    # older Excel pads a title row with delimiters; the header is found below it
    data = (
        "Orders March 2024;;;;;\r\n;;;;;\r\nExported by ACME;;;;;\r\n"
        + HEADER.replace(",", ";")
        + "\r\n1;101;Item One;1;Foo Bar;buyer1@example.com\r\n"
    ).encode()

    result = reading(data, "orders.csv")
    records = list(result)

    assert rows(records) == [5]
    assert records[0].order == order("1")
    assert result.facts.delimiter == ";"


def test_a_title_line_without_delimiters_does_not_decide_the_delimiter():
    data = "Orders March 2024\n" + HEADER.replace(",", ";") + "\n1;101;Item One;1;Foo Bar;x@y.z\n"

    records = read(data.encode(), "orders.csv")

    assert errors(records) == [None]


def test_title_rows_above_a_workbook_header_are_skipped():
    data = workbook(
        (
            "Orders",
            [
                ["ACME Ltd - orders for March"],
                [],
                ["Printed 2024-03-31", None, None, "page 1"],
                FIELDS_HEADER,
                ["1", "101", "Item One", 1, "Foo Bar", "buyer1@example.com"],
            ],
        )
    )

    records = read(data, "orders.xlsx")

    assert rows(records) == [5]
    assert records[0].order == order("1")


def test_a_header_that_never_comes_names_the_first_rows_missing_columns():
    data = b"Orders March 2024\nOrderId,qty\n1,2\n"

    error = unreadable(data, "orders.csv")

    assert error.code == "file.missing_columns"
    assert "line 1" in error.message


def test_the_header_is_looked_for_in_the_first_ten_rows_only():
    titles = "".join(f"title {n}\n" for n in range(10))
    data = (titles + HEADER + "\n" + "1,101,Item One,1,Foo Bar,buyer1@example.com\n").encode()

    error = unreadable(data, "orders.csv")

    assert error.code == "file.missing_columns"
    assert "line 1:" in error.message


@pytest.mark.parametrize("given", [{"header_row": 12}, {"skip_rows": 11}])
def test_the_mapping_may_say_where_the_header_is_beyond_the_search(given):
    titles = "".join(f"title {n}\n" for n in range(11))
    data = (titles + HEADER + "\n" + "1,101,Item One,1,Foo Bar,buyer1@example.com\n").encode()
    mapping = ColumnMapping.from_json(given)

    records = read(data, "orders.csv", mapping)

    assert rows(records) == [13]
    assert records[0].order == order("1")
    assert mapping.to_dict()["header_row"] == 12


def test_a_named_header_row_in_a_workbook_is_not_searched():
    first = ["1", "101", "Item One", 1, "Foo Bar", "buyer1@example.com"]
    sheet = [["Orders"], ["OrderId"], FIELDS_HEADER, first]
    data = workbook(("Orders", sheet))

    found = read(data, "orders.xlsx", ColumnMapping.from_json({"header_row": 3}))
    with pytest.raises(UnreadableFile) as caught:
        read(data, "orders.xlsx", ColumnMapping.from_json({"header_row": 2}))

    assert rows(found) == [4]
    assert found[0].order == order("1")
    assert caught.value.code == "file.missing_columns"
    assert "row 2" in caught.value.message


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"header_row": 0}, "header_row must be a whole number from 1"),
        ({"header_row": "3"}, "header_row must be a whole number from 1"),
        ({"header_row": True}, "header_row must be a whole number from 1"),
        ({"skip_rows": -1}, "skip_rows must be a whole number from 0"),
        ({"header_row": 2, "skip_rows": 1}, "not both"),
    ],
)
def test_a_mapping_with_a_bad_header_row_is_refused(given, problem):
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_json(given)

    assert problem in caught.value.message


# a totals row at the bottom ----------------------------------------------------------------------

ROWS = "1,101,Item One,1,Foo Bar,buyer1@example.com\n2,101,Item One,1,Foo Bar,buyer2@example.com\n"


@pytest.mark.parametrize(
    "last",
    ["Total,,,2,,", ",,,2,,", "TOTALS:,,,2,,", ",,Sum,2,,", 'Total,,,"1,234.50",,', ",,,2,,\n\n"],
)
def test_a_totals_row_at_the_bottom_of_a_csv_is_reported_as_one(last):
    records = read(f"{HEADER}\n{ROWS}{last}\n".encode(), "orders.csv")

    assert errors(records) == [None, None, "row.totals"]
    error = records[2].error
    assert error is not None
    assert "row 4 is a totals row" in error.message


def test_a_totals_row_at_the_bottom_of_a_workbook_is_reported_as_one():
    good = ["1", "101", "Item One", 3, "Foo Bar", "buyer1@example.com"]
    data = workbook(("Orders", [FIELDS_HEADER, good, good, ["Total", None, None, 6, None, None]]))

    records = read(data, "orders.xlsx")

    assert errors(records) == [None, None, "row.totals"]


@pytest.mark.parametrize(
    "last",
    [
        "3,101,Item One,1,Foo Bar,buyer3@example.com",  # an order
        ",101,Item One,1,Foo Bar,buyer3@example.com",  # an order without its OrderId
        "Total,,,,,",  # nothing to add up
        "Total,,Item One,,Foo Bar,x@example.com",  # mostly text
    ],
)
def test_a_last_row_that_is_not_a_totals_row_is_read_as_before(last):
    records = read(f"{HEADER}\n{ROWS}{last}\n".encode(), "orders.csv")

    assert errors(records)[2] is None


def test_only_the_last_row_can_be_a_totals_row():
    data = f"{HEADER}\nTotal,,,2,,\n{ROWS}".encode()

    assert errors(read(data, "orders.csv")) == [None, None, None]


def test_a_windows_1252_byte_at_any_chunk_boundary_is_read_the_same():
    data = (HEADER + "\n" + LEGACY_ROWS).encode("cp1252")

    for step in range(1, 80):
        result = read_records(Trickle(data, step), "orders.csv")
        records = list(result)
        assert records[0].order["order-info"]["item-desc"] == "Crème brûlée € 5", step
        assert result.facts.encoding == "windows-1252"


def test_utf_8_then_windows_1252_is_refused_however_it_is_chunked():
    data = (HEADER + "\n" + LEGACY_ROWS).encode() + LEGACY_ROWS.encode("cp1252")

    for step in (7, 64, 100_000):
        with pytest.raises(UnreadableFile) as caught:
            list(read_records(Trickle(data, step), "orders.csv"))
        assert caught.value.code == "file.encoding"
        assert "mixes two encodings" in caught.value.message
