"""csvfile.py through read_records: quoting, line numbers, header rules, bad rows."""

from __future__ import annotations

import pytest

from chalicelib.orders.records import FieldError, Record
from tests.unit.readers.support import (
    HEADER,
    order,
    read,
    rows,
    unreadable,
)


def test_csv_quoted_comma_and_two_line_field_do_not_shift_later_rows():
    # given a quoted comma (line 2), a field spanning lines 3-4, a short row (5), two more rows
    data = (
        f"{HEADER}\n"
        '1,101,"Mug, blue",1,Foo Bar,foo@example.com\n'
        '2,102,"Two\nlines",2,Foo Bar,foo@example.com\n'
        "3,103,Lamp,3\n"
        "4,104,Pen,4,Foo Bar,foo@example.com\n"
        "\n"
        "5,105,Ink,5,Foo Bar,foo@example.com\n"
    ).encode()

    # when it is read
    records = read(data, "orders.csv")

    # then each record carries the line it starts on
    assert rows(records) == [2, 3, 5, 6, 8]
    assert records[0].order["order-info"]["item-desc"] == "Mug, blue"
    assert records[1].order["order-info"]["item-desc"] == "Two\nlines"
    assert records[2] == Record(
        5,
        ["3", "103", "Lamp", "3"],
        FieldError("row", "row.field_count", "expected 6 fields, found 4", None),
    )
    assert records[4].order["order-info"]["OrderId"] == "5"


def test_csv_row_becomes_the_json_order_shape_with_values_as_found():
    data = f"{HEADER}\n 7 ,101,Item One, 2 ,Foo Bar,foo@example.com\n".encode()

    records = read(data, "orders.csv")

    assert records == [
        Record(
            2,
            {
                "order-info": {
                    "OrderId": " 7 ",
                    "item-id": "101",
                    "item-desc": "Item One",
                    "qty": " 2 ",
                },
                "contact-info": {"name": "Foo Bar", "email": "foo@example.com"},
            },
        )
    ]


def test_csv_columns_in_any_order_with_spaces_and_extras():
    data = b" email , gift ,qty,name,item-desc,item-id,OrderId\nf@x.com,yes,2,Foo,Pen,9,1\n"

    records = read(data, "orders.csv")

    assert records[0].order == {
        "order-info": {"OrderId": "1", "item-id": "9", "item-desc": "Pen", "qty": "2"},
        "contact-info": {"name": "Foo", "email": "f@x.com"},
        "gift": "yes",
    }


def test_csv_with_crlf_and_bom():
    data = f"\ufeff{HEADER}\r\n1,101,Item One,1,Foo Bar,foo@example.com\r\n".encode()

    records = read(data, "orders.csv")

    assert records == [Record(2, order("1", email="foo@example.com"))]


@pytest.mark.parametrize(
    "line", ["1,101,Item One,1,Foo Bar", "1,101,Item One,1,Foo Bar,foo@example.com,extra"]
)
def test_csv_wrong_field_count_is_a_bad_row_and_reading_goes_on(line):
    data = f"{HEADER}\n{line}\n2,101,Item One,1,Foo Bar,foo@example.com\n".encode()

    records = read(data, "orders.csv")

    assert rows(records) == [2, 3]
    assert records[0].order == line.split(",")
    assert records[0].error == FieldError(
        "row", "row.field_count", f"expected 6 fields, found {len(line.split(','))}", None
    )
    assert records[1].error is None


def test_csv_whitespace_only_lines_are_blank():
    data = f"{HEADER}\n   \n1,101,Item One,1,Foo Bar,foo@example.com\n".encode()

    assert rows(read(data, "orders.csv")) == [3]


def test_csv_missing_columns_names_them_the_closest_headers_and_the_header_found():
    error = unreadable(b"order_id,item-id,item-desc,qty,name,e_mial\n1,2,3,4,5,6\n", "orders.csv")

    assert error.code == "file.missing_columns"
    assert 'column email (closest headers: "e_mial")' in error.message
    assert "order_id, item-id, item-desc, qty, name, e_mial" in error.message


def test_csv_missing_column_with_nothing_close_says_so():
    error = unreadable(b"Bestellnr,item-id,item-desc,qty,name,email\n", "orders.csv")

    assert error.code == "file.missing_columns"
    assert "OrderId (no header is close)" in error.message


def test_csv_headers_in_another_case_and_punctuation_are_matched():
    data = b"ORDERID,Item ID,item_desc,QTY,Name,E-Mail\n1,101,Item One,1,Foo Bar,a@b.org\n"

    assert read(data, "orders.csv")[0].order == {
        "order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": "1"},
        "contact-info": {"name": "Foo Bar", "email": "a@b.org"},
    }


def test_csv_duplicate_columns_are_unreadable():
    error = unreadable(f"{HEADER},qty\n1,2,3,4,5,6,7\n".encode(), "orders.csv")

    assert error.code == "file.duplicate_columns"
    assert '"qty"' in error.message


def test_csv_column_named_like_an_order_group_is_a_clash():
    error = unreadable(f"{HEADER},order-info\n1,2,3,4,5,6,7\n".encode(), "orders.csv")

    assert error.code == "file.duplicate_columns"
    assert '"order-info"' in error.message


def test_csv_with_only_a_header_is_empty():
    error = unreadable(f"{HEADER}\r\n\r\n".encode(), "orders.csv")

    assert error.code == "file.empty"
    assert "no data rows" in error.message


def test_csv_quote_never_closed_is_unreadable_once_past_the_field_limit():
    data = f'{HEADER}\n1,101,"Item One,1,Foo Bar,foo@example.com\n'.encode() + b"x" * 200_000

    error = unreadable(data, "orders.csv")

    assert error.code == "file.invalid_csv"
    assert "line 2" in error.message
