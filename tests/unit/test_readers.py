"""Reading order files as streams of records: every format, every row rule, every file error."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import random
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.orders import jsontext
from chalicelib.orders.readers import FILE_ERROR_CODES, detect_format, jsonlines, read_records
from chalicelib.orders.records import FieldError, Record, UnreadableFile

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
HEADER = "OrderId,item-id,item-desc,qty,name,email"


def order(order_id: str, qty: str = "1", email: str | None = None) -> dict[str, Any]:
    return {
        "order-info": {"OrderId": order_id, "item-id": "101", "item-desc": "Item One", "qty": qty},
        "contact-info": {"name": "Foo Bar", "email": email or f"buyer{order_id}@example.com"},
    }


def read(data: bytes, key: str) -> list[Record]:
    return list(read_records(io.BytesIO(data), key))


def read_sample(name: str) -> list[Record]:
    with (SAMPLES / name).open("rb") as body:
        return list(read_records(body, name))


def unreadable(data: bytes, key: str) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read(data, key)
    return caught.value


def read_until_unreadable(data: bytes, key: str) -> tuple[list[Record], UnreadableFile]:
    records: list[Record] = []
    with pytest.raises(UnreadableFile) as caught:
        records.extend(read_records(io.BytesIO(data), key))
    return records, caught.value


def rows(records: list[Record]) -> list[int]:
    return [record.row for record in records]


def errors(records: list[Record]) -> list[str | None]:
    return [record.error.code if record.error else None for record in records]


class Trickle:
    """A body that hands out at most `step` bytes per read, like a slow network stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


class Generated:
    """A body whose bytes are produced on demand by a generator, never all in memory."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        parts = [self._buffer]
        have = len(self._buffer)
        while size < 0 or have < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts)
        cut = len(joined) if size < 0 else size
        data, self._buffer = joined[:cut], joined[cut:]
        self.size += len(data)
        return data


# --------------------------------------------------------------------------------------------
# The shipped samples
# --------------------------------------------------------------------------------------------


def test_seed_example_yields_its_single_order():
    # given the seed example, when it is read
    records = read_sample("seed-example.json")

    # then its one order comes out whole, at position 1
    assert records == [
        Record(
            1,
            {
                "order-info": {
                    "OrderId": "1",
                    "item-id": "101",
                    "item-desc": "Item One",
                    "qty": "1",
                },
                "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
            },
        )
    ]


def test_mixed_sample_yields_every_order_in_list_position_even_incomplete_ones():
    records = read_sample("mixed.json")

    assert rows(records) == [1, 2, 3, 4, 5, 6]
    assert errors(records) == [None] * 6
    assert records[1].order["contact-info"]["name"] == "Ana María Núñez"
    assert "contact-info" not in records[2].order
    assert "order-info" not in records[3].order


def test_orders_csv_sample_yields_rows_from_line_two():
    records = read_sample("orders.csv")

    assert rows(records) == [2, 3, 4, 5]
    assert records[1].order["order-info"]["item-desc"] == "Blue mug, 350 ml"
    assert records[2].order["contact-info"]["name"] == ""
    assert records[3].order["order-info"]["qty"] == "three"


def test_array_sample_yields_each_element_by_position():
    records = read_sample("array.json")

    assert rows(records) == [1, 2, 3, 4, 5]
    assert errors(records) == [None] * 5
    assert [r.order["order-info"]["OrderId"] for r in records] == [
        "3001",
        "3002",
        "3003",
        "3004",
        "3005",
    ]


def test_jsonl_sample_reports_the_cut_line_and_skips_the_blank_one():
    records = read_sample("orders.jsonl")

    assert rows(records) == [1, 2, 3, 5, 6, 7]
    assert errors(records) == [None, None, "row.invalid_json", None, None, None]
    assert isinstance(records[2].order, str)
    assert records[2].order.startswith('{"order-info": {"OrderId": "4003"')


def test_crlf_bom_csv_sample_keeps_line_numbers_across_a_two_line_field():
    records = read_sample("orders-crlf-bom.csv")

    assert rows(records) == [2, 3, 5, 6, 8, 9]
    assert errors(records) == [None, None, "row.field_count", None, None, None]
    assert records[0].order["order-info"]["OrderId"] == "5001"  # BOM gone from "OrderId"
    assert records[1].order["gift-note"] == "Happy birthday,\r\nwith love"
    assert records[2].order == ["5003", "310", "Desk lamp", "1", "Short Row"]
    assert records[4].order["order-info"]["item-desc"] == 'Pencil set (12), "HB"'


def test_gzipped_jsonl_sample_is_decompressed_on_the_fly():
    records = read_sample("orders.jsonl.gz")

    assert rows(records) == [1, 2, 3, 4, 5]
    assert errors(records) == [None, None, None, "row.invalid_json", None]
    assert records[3].order == "not json at all"


# --------------------------------------------------------------------------------------------
# JSON document and array
# --------------------------------------------------------------------------------------------


def test_json_document_yields_orders_by_position_and_ignores_other_keys():
    # given a document with keys before and after "orders"
    data = json.dumps(
        {"batch": {"id": 7}, "orders": [order("1"), order("2"), order("3")], "sender": "acme"}
    ).encode()

    # when it is read
    records = read(data, "batch.json")

    # then every element comes out in order, numbered from 1
    assert records == [Record(1, order("1")), Record(2, order("2")), Record(3, order("3"))]


def test_json_numbers_come_out_as_int_and_float_not_decimal():
    records = read(b'{"orders": [{"qty": 3, "price": 2.5, "max": 9223372036854775807}]}', "a.json")

    assert records[0].order == {"qty": 3, "price": 2.5, "max": 9223372036854775807}
    assert type(records[0].order["price"]) is float


@pytest.mark.parametrize("number", [12345678901234567890, -9223372036854775809, 10**40])
def test_json_whole_numbers_beyond_64_bits_are_read_exactly(number):
    records = read(b'{"orders": [{"OrderId": ' + str(number).encode() + b"}]}", "a.json")

    assert records == [Record(1, {"OrderId": number})]


def test_json_elements_of_any_type_are_yielded_as_parsed():
    records = read(b'{"orders": ["text", 42, null, [1, 2], {"a": {"b": []}}, true]}', "a.json")

    assert [r.order for r in records] == ["text", 42, None, [1, 2], {"a": {"b": []}}, True]
    assert rows(records) == [1, 2, 3, 4, 5, 6]


def test_top_level_json_array_yields_each_element_by_position():
    data = json.dumps([order("1"), "not an order", order("3")]).encode()

    records = read(data, "array.json")

    assert records == [Record(1, order("1")), Record(2, "not an order"), Record(3, order("3"))]


def test_orders_key_far_from_the_start_reads_the_same_as_near_it():
    # given "orders" after a large other key (beyond the peeked head), and the usual layout
    orders = [order(str(i)) for i in range(50)]
    far = json.dumps({"notes": "x" * 100_000, "orders": orders, "after": [1, 2]}).encode()
    near = json.dumps({"orders": orders}).encode()

    # when both are read, then they give the same records
    assert read(far, "far.json") == read(near, "near.json")
    assert len(read(far, "far.json")) == 50


def test_a_dotted_key_is_not_mistaken_for_the_orders_array():
    # given a key that a reader of dotted paths (ijson's "orders.item") would confuse
    data = b'{"orders.item": {"OrderId": "fake"}, "orders": [{"OrderId": "real"}]}'

    records = read(data, "a.json")

    assert records == [Record(1, {"OrderId": "real"})]


def test_orders_nested_under_another_key_do_not_count():
    error = unreadable(b'{"data": {"orders": [{"a": 1}]}}', "a.json")

    assert error.code == "file.no_orders_array"
    assert '"data"' in error.message


def test_truncated_json_yields_complete_orders_then_fails():
    # given a document cut off in the middle of its third order
    data = json.dumps({"orders": [order("1"), order("2"), order("3")]}).encode()[:-60]

    # when it is read
    records, error = read_until_unreadable(data, "cut.json")

    # then the complete orders may come out, and the file is reported as cut short
    assert [r.order for r in records] == [order("1"), order("2")][: len(records)]
    assert error.code == "file.invalid_json"
    assert "incomplete" in error.message
    assert f"byte {len(data)}" in error.message


def test_text_that_is_not_json_is_invalid_json():
    error = unreadable(b"OrderId;qty\n1;2\n", "orders.json")

    assert error.code == "file.invalid_json"
    assert "not valid JSON" in error.message
    assert "line 1" in error.message


def test_a_syntax_error_is_located_by_line():
    data = b'{"orders": [\n  {"a": 1},\n  {"a": 2},\n  {"a": oops}\n]}'

    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.invalid_json"
    assert "expected a value, found 'o'" in error.message
    assert "line 4" in error.message
    assert f"byte offset {data.index(b'oops')}" in error.message
    assert "oops" in error.message


def test_data_after_the_json_document_is_invalid_json_with_a_hint():
    _, error = read_until_unreadable(b'{"orders": [{"a": 1}]}\n{"orders": []}\n', "a.json")

    assert error.code == "file.invalid_json"
    assert "more data after the end of the JSON document" in error.message
    assert "line 2" in error.message
    assert ".jsonl" in error.message


def test_json_lines_of_orders_named_json_get_a_hint():
    data = f"{json.dumps(order('1'))}\n{json.dumps(order('2'))}\n".encode()

    error = unreadable(data, "orders.json")

    assert error.code == "file.no_orders_array"
    assert '"order-info", "contact-info"' in error.message
    assert ".jsonl" in error.message


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b'{"orders": 5}', "a number"),
        (b'{"orders": "none"}', "a string"),
        (b'{"orders": null}', "null"),
        (b'{"orders": {"item": {"OrderId": "1"}}}', "an object"),
    ],
)
def test_orders_that_is_not_an_array_is_rejected(data, found):
    error = unreadable(data, "a.json")

    assert error.code == "file.no_orders_array"
    assert f'"orders" key holds {found}' in error.message


def test_object_without_orders_key_names_the_keys_it_has():
    error = unreadable(b'{"order": [{"a": 1}], "count": 1}', "a.json")

    assert error.code == "file.no_orders_array"
    assert '"order", "count"' in error.message


@pytest.mark.parametrize("data", [b"42", b'"orders"', b"null", b"true"])
def test_a_lone_json_scalar_has_no_orders_array(data):
    assert unreadable(data, "a.json").code == "file.no_orders_array"


@pytest.mark.parametrize("data", [b'{"orders": []}', b"[]", b" [ ] ", b'{"orders": [], "x": 1}'])
def test_an_empty_order_list_is_an_empty_file(data):
    error = unreadable(data, "a.json")

    assert error.code == "file.empty"
    assert "contains no orders" in error.message


# --------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------


def test_jsonl_bad_line_in_the_middle_keeps_its_neighbours_and_row_numbers():
    # given five lines, the third of which is broken
    lines = [json.dumps(order(str(i))) for i in (1, 2)] + ['{"order-info": {']
    lines += [json.dumps(order(str(i))) for i in (4, 5)]
    data = "\n".join(lines).encode()

    # when it is read
    records = read(data, "orders.jsonl")

    # then the neighbours come out whole and the bad line is a record with an error
    assert rows(records) == [1, 2, 3, 4, 5]
    assert records[1] == Record(2, order("2"))
    assert records[3] == Record(4, order("4"))
    bad = records[2]
    assert bad.order == '{"order-info": {'
    assert bad.error is not None
    assert bad.error == FieldError("row", "row.invalid_json", bad.error.message, None)
    assert bad.error.message.startswith("line 3 is not valid JSON")


def test_jsonl_blank_lines_are_skipped_but_counted():
    data = b'\n{"a": 1}\n   \n\t\n{"a": 2}\n\n'

    records = read(data, "orders.jsonl")

    assert records == [Record(2, {"a": 1}), Record(5, {"a": 2})]


def test_jsonl_with_crlf_strips_the_line_end_from_bad_lines():
    data = b'{"a": 1}\r\nbroken\r\n{"a": 3}\r\n'

    records = read(data, "orders.ndjson")

    assert [r.order for r in records] == [{"a": 1}, "broken", {"a": 3}]
    assert errors(records) == [None, "row.invalid_json", None]


def test_jsonl_values_that_are_not_objects_are_yielded_as_is():
    records = read(b'42\n"text"\n[1]\nnull\n', "orders.jsonl")

    assert [r.order for r in records] == [42, "text", [1], None]
    assert errors(records) == [None] * 4


def test_jsonl_nan_is_not_json():
    records = read(b'{"a": 1}\n{"qty": NaN}\n', "orders.jsonl")

    assert errors(records) == [None, "row.invalid_json"]
    assert "NaN" in records[1].error.message  # type: ignore[union-attr]


def test_jsonl_overlong_line_is_reported_and_skipped(monkeypatch):
    # given a limit of 40 bytes per line and a line far longer
    monkeypatch.setattr(jsonlines, "MAX_LINE", 40)
    data = b'{"a": 1}\n{"long": "' + b"x" * 500 + b'"}\n{"a": 3}\n'

    records = read(data, "orders.jsonl")

    assert rows(records) == [1, 2, 3]
    assert errors(records) == [None, "row.invalid_json", None]
    assert "longer than 40 bytes" in records[1].error.message  # type: ignore[union-attr]


def test_jsonl_with_no_valid_line_is_unreadable_after_its_bad_rows():
    records, error = read_until_unreadable(b"OrderId,qty\n1,2\n\n3,4\n", "orders.jsonl")

    assert rows(records) == [1, 2, 4]
    assert error.code == "file.invalid_jsonl"
    assert "no line of the file is valid JSON" in error.message


def test_jsonl_of_blank_lines_only_is_empty():
    assert unreadable(b"\n\n \n", "orders.jsonl").code == "file.empty"


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# gzip
# --------------------------------------------------------------------------------------------

PLAIN_FILES = [
    ("doc.json", json.dumps({"orders": [order("1"), order("2")]}).encode()),
    ("array.json", json.dumps([order("1"), order("2")]).encode()),
    ("lines.jsonl", f"{json.dumps(order('1'))}\n{json.dumps(order('2'))}\n".encode()),
    (
        "table.csv",
        f"{HEADER}\r\n1,101,Item One,1,Foo Bar,buyer1@example.com\r\n"
        "2,101,Item One,1,Foo Bar,buyer2@example.com\r\n".encode(),
    ),
]


@pytest.mark.parametrize(("key", "data"), PLAIN_FILES)
def test_gzip_of_each_format_reads_like_the_plain_file(key, data):
    plain = read(data, key)

    assert [r.order for r in plain] == [order("1"), order("2")]
    assert read(gzip.compress(data), f"{key}.gz") == plain
    assert read(gzip.compress(b"\xef\xbb\xbf" + data), f"uploads/{key}.gz") == plain


@pytest.mark.parametrize(("key", "data"), PLAIN_FILES)
def test_gzip_is_recognised_by_its_magic_bytes_whatever_the_name(key, data):
    stem = key.rsplit(".", 1)[0]

    assert read(gzip.compress(data), stem) == read(data, key)


def test_a_gz_name_without_gzip_bytes_is_read_as_plain():
    assert read(b'[{"a": 1}]', "orders.json.gz") == [Record(1, {"a": 1})]


def test_corrupt_gzip_is_unreadable():
    # given gzip data with one byte of the compressed stream flipped
    data = bytearray(
        gzip.compress(json.dumps([order(str(i)) for i in range(200)]).encode(), mtime=0)
    )
    data[len(data) // 2] ^= 0xFF

    error = unreadable(bytes(data), "orders.json.gz")

    assert error.code == "file.gzip"
    assert "gzip-compressed but cannot be decompressed" in error.message


def test_gzip_with_a_bad_checksum_is_unreadable():
    data = bytearray(gzip.compress(b'[{"a": 1}]'))
    data[-8] ^= 0x01  # the CRC32 in the trailer

    error = unreadable(bytes(data), "orders.json.gz")

    assert error.code == "file.gzip"
    assert "CRC" in error.message


def test_truncated_gzip_is_unreadable():
    data = gzip.compress(json.dumps([order(str(i)) for i in range(500)]).encode())

    error = unreadable(data[: len(data) // 2], "orders.json.gz")

    assert error.code == "file.gzip"
    assert "cut short" in error.message


def test_gzip_of_nothing_is_an_empty_file():
    assert unreadable(gzip.compress(b""), "orders.csv.gz").code == "file.empty"


# --------------------------------------------------------------------------------------------
# Whole-file problems: empty, encoding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a.json", "a.jsonl", "a.csv", "a"])
def test_zero_bytes_is_an_empty_file(key):
    error = unreadable(b"", key)

    assert error.code == "file.empty"
    assert "0 bytes" in error.message
    assert "no orders" in error.message


@pytest.mark.parametrize("data", [b"  \r\n\t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n"])
@pytest.mark.parametrize("key", ["a.json", "a.jsonl", "a.csv", "a"])
def test_whitespace_or_bom_only_is_an_empty_file(key, data):
    error = unreadable(data, key)

    assert error.code == "file.empty"
    assert "contains no orders" in error.message


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("a.json", '{"orders": [{"name": "José"}]}'.encode("latin-1")),
        ("a.jsonl", '{"name": "Zoë"}\n'.encode("latin-1")),
        ("a.csv", f"{HEADER}\n1,2,Crème,1,Zoë,z@x.com\n".encode("latin-1")),
    ],
)
def test_latin_1_bytes_are_an_encoding_error(key, data):
    error = unreadable(data, key)

    assert error.code == "file.encoding"
    assert "not valid UTF-8" in error.message
    assert "byte offset" in error.message


def test_encoding_error_far_into_the_file_gives_its_line_and_offset():
    # given 3,000 good lines, then a Latin-1 "é" on line 3,001
    good = b"".join(b'{"a": %d}\n' % i for i in range(3000))
    data = good + b'{"name": "Jos\xe9"}\n'

    records, error = read_until_unreadable(data, "orders.jsonl")

    assert error.code == "file.encoding"
    assert "byte 0xE9 at line 3001" in error.message
    assert f"byte offset {len(good) + 13}" in error.message
    assert all(r.error is None for r in records)


def test_file_ending_inside_a_multibyte_character_is_an_encoding_error():
    error = unreadable('{"a": 1}\n{"b": "é'.encode()[:-1], "orders.jsonl")

    assert error.code == "file.encoding"
    assert "middle of a multi-byte character" in error.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("key", ["a.json", "a.jsonl", "a.csv"])
def test_utf_16_with_a_bom_reads_like_utf_8(key, encoding):
    # given the same text as UTF-8 and as UTF-16 with a byte-order mark, non-ASCII included
    text = {
        "a.json": json.dumps({"orders": [order("1"), order("Zoë")]}, ensure_ascii=False),
        "a.jsonl": f"{json.dumps(order('1'))}\nbroken\n",
        "a.csv": f"{HEADER}\r\n1,101,Crème,1,Zoë,z@x.com\r\n2,1,2\r\n",
    }[key]
    data = ("\ufeff" if encoding != "utf-16" else "") + text  # "utf-16" writes its own BOM

    assert read(data.encode(encoding), key) == read(text.encode(), key)


def test_utf_16_that_is_not_valid_utf_16_is_an_encoding_error():
    data = "\ufeffOrderId".encode("utf-16-le") + b"\x00\xdc"  # a lone low surrogate

    error = unreadable(data, "a.csv")

    assert error.code == "file.encoding"
    assert "not valid UTF-16" in error.message


def test_utf_16_without_bom_is_recognised():
    error = unreadable(f"{HEADER}\n".encode("utf-16-le"), "orders.csv")

    assert error.code == "file.encoding"
    assert "UTF-16" in error.message


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_tiny_reads_split_magic_bom_and_characters_without_harm(step):
    # given a gzipped BOM-prefixed CSV with multi-byte characters, handed out a few bytes at a time
    text = f"\ufeff{HEADER}\n1,101,Crème brûlée,1,Zoë Ångström,z@example.com\n"
    plain = text.encode()

    for data, key in [(plain, "a.csv"), (gzip.compress(plain), "a.csv.gz")]:
        # when it is read, then the result is the same as with whole reads
        records = list(read_records(Trickle(data, step), key))
        assert records == read(data, key)
        assert records[0].order["contact-info"]["name"] == "Zoë Ångström"


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "head", "expected"),
    [
        ("orders.csv", b"[1]", "csv"),
        ("ORDERS.CSV", b"", "csv"),
        ("in/2024.05/orders.csv.gz", b"", "csv"),
        ("orders.jsonl", b"[1]", "jsonl"),
        ("orders.ndjson.gz", b"", "jsonl"),
        ("orders.json", b'{"a": 1}\n{"a": 2}\n', "json"),
        ("orders.json.gz", b"", "json"),
        ("upload", b"  \n [ {", "json"),
        ("upload.txt", b'{"orders": [\n', "json"),
        ("upload.txt", b'{"orders": []}\n', "json"),
        ("upload.txt", b'{\n  "orders": [', "json"),
        ("upload.txt", b'{"a": {"b": 1}}\n{"a"', "jsonl"),
        ("upload.txt", b'{"a": 1}', "jsonl"),
        ("upload.txt", b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}', "jsonl"),
        ("upload.txt", b'{"a": 1, "b": [1, 2', "json"),
        ("data.gz", b"OrderId,item-id\n", "csv"),
        ("2024.05.01", b"OrderId,item-id\n", "csv"),
        ("noext", b"", "csv"),
        ("orders.json.bak", b'"just a string"', "csv"),
    ],
)
def test_detect_format(key, head, expected):
    assert detect_format(key, head) == expected


def test_content_sniffing_reads_an_unnamed_jsonl_file():
    data = b'{"a": 1}\nbroken\n{"a": 3}\n'

    records = read(data, "s3-object-without-suffix")

    assert errors(records) == [None, "row.invalid_json", None]


def test_every_file_error_code_has_a_one_line_meaning():
    assert all(text and "\n" not in text for text in FILE_ERROR_CODES.values())


# --------------------------------------------------------------------------------------------
# Values no order may hold: each is that order's own error, its neighbours go on
# --------------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    """An order whose extra field makes it `depth` levels deep (the order itself is level 1)."""
    return '{"x": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


BUYER = "buyer@example.com"


def with_order_id(escaped: str) -> str:
    """The JSON text of an order whose OrderId is `escaped`, written as it is in the file."""
    return json.dumps(order("ID", email=BUYER)).replace('"ID"', f'"{escaped}"')


def document(*elements: str) -> bytes:
    return ('{"orders": [' + ", ".join(elements) + "]}").encode()


TRICKY = [
    with_order_id("1"),
    with_order_id("\\udfff"),  # a lone low surrogate
    with_order_id("a\\ud800"),  # a lone high surrogate
    with_order_id("a\\ud801"),  # another: must not collapse into the one before
    with_order_id("\\ud83d\\ude00"),  # a surrogate pair: an emoji, valid
    with_order_id("\\\\udfff"),  # an escaped backslash then "udfff": valid text
    nested(32),
    nested(33),
    nested(400),
    nested(5000),
    '{"n": 1e400}',
    '{"n": -1e400}',
    '{"n": 1e-400}',
    '{"n": ' + "9" * 5000 + "}",
    '{"n": 0.0e-999, "m": 2.5, "k": 12345678901234567890123}',
    '{"\\udc00": "a key that is not valid Unicode"}',
    with_order_id("2"),
]
TRICKY_CODES = [
    None,
    "order.invalid_text",
    "order.invalid_text",
    "order.invalid_text",
    None,
    None,
    None,
    "order.too_deep",
    "order.too_deep",
    "order.too_deep",
    "order.number_out_of_range",
    "order.number_out_of_range",
    "order.number_out_of_range",
    "order.number_out_of_range",
    None,
    "order.invalid_text",
    None,
]


def test_each_bad_value_is_its_orders_error_and_its_neighbours_are_read():
    # given a document of good orders and orders holding values no order may hold
    data = document(*TRICKY)

    # when it is read
    records = read(data, "tricky.json")

    # then every element is a record, in place, each bad one with its own code
    assert rows(records) == list(range(1, len(TRICKY) + 1))
    assert errors(records) == TRICKY_CODES
    assert records[0] == Record(1, order("1", email=BUYER))
    assert records[4].order["order-info"]["OrderId"] == "\U0001f600"
    assert records[5].order["order-info"]["OrderId"] == "\\udfff"
    assert records[14].order == {"n": 0.0, "m": 2.5, "k": 12345678901234567890123}
    assert records[-1] == Record(len(TRICKY), order("2", email=BUYER))
    # and a refused order is carried as its text exactly as sent: nothing replaced by "?"
    for record, text in zip(records, TRICKY, strict=True):
        if record.error is not None:
            assert record.order == text
            assert "?" not in json.dumps(record.order) + json.dumps(record.error.to_dict())


def test_a_lone_surrogate_error_names_the_field_and_shows_the_escape():
    records = read(document(with_order_id("a\\ud800")), "a.json")

    error = records[0].error
    assert error is not None
    assert (error.field, error.code, error.value) == (
        "order-info.OrderId",
        "order.invalid_text",
        "a\\ud800",
    )
    assert "\\ud800 is a lone UTF-16 surrogate" in error.message


def test_two_orders_that_differ_only_in_a_lone_surrogate_stay_apart():
    # given two OrderIds that a lossy decoder would turn into the same "a?"
    records = read(document(with_order_id("a\\ud800"), with_order_id("a\\ud801")), "a.json")

    # then both are refused, each with its own text: no false conflict can follow
    assert errors(records) == ["order.invalid_text", "order.invalid_text"]
    assert records[0].order != records[1].order


def test_a_number_out_of_range_names_the_number():
    records = read(document('{"n": 1e400}'), "a.json")

    error = records[0].error
    assert error is not None
    assert error.code == "order.number_out_of_range"
    assert error.value == "1e400"
    assert "1e400 is out of range" in error.message


def test_json_lines_apply_the_same_rules_line_by_line():
    lines = [with_order_id("1"), nested(2000), '{"b": "\\udc00"}', '{"n": 1e999}', "{broken"]
    data = "\n".join(lines).encode()

    records = read(data, "orders.jsonl")

    assert errors(records) == [
        None,
        "order.too_deep",
        "order.invalid_text",
        "order.number_out_of_range",
        "row.invalid_json",
    ]
    assert [r.order for r in records[1:]] == lines[1:]


def test_a_value_nested_far_beyond_any_recursion_limit_is_measured_not_recursed():
    # given an order 200,000 levels deep (json's own decoder gives up near 1,000)
    data = document(with_order_id("1"), nested(200_000), with_order_id("3"))

    records = read(data, "deep.json")

    assert errors(records) == [None, "order.too_deep", None]


def without_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value goes through the exact, token by token path."""

    def refuse(text: str, index: int) -> Any:
        raise StopIteration(index)

    monkeypatch.setattr(jsontext, "_SCAN", refuse)


@pytest.mark.parametrize("step", [None, 1, 3, 7, 64])
@pytest.mark.parametrize("fast", [True, False])
def test_fast_and_exact_paths_agree_whatever_the_reads(monkeypatch, step, fast):
    # given the tricky document with other members around "orders", read through a small
    # buffer so that values are cut at every possible place
    monkeypatch.setattr(jsontext, "CHUNK", 16)
    if not fast:
        without_fast_path(monkeypatch)
    data = ('{"before": {"a": [1, 2]}, "orders": [' + ",\n ".join(TRICKY) + '], "x": 1}').encode()
    body = io.BytesIO(data) if step is None else Trickle(data, step)

    # when it is read
    records = list(read_records(body, "a.json"))

    # then it gives what the plain read gives
    assert records == read(document(*TRICKY), "a.json")


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"orders": [{"a": 1,}]}', "expected a key"),
        (b'{"orders": [{"a": 1}, ]}', "expected a value, found ']'"),
        (b'{"orders": [{"qty": NaN}]}', "NaN is not a JSON value"),
        (b'{"orders": [{"qty": -Infinity}]}', "-Infinity is not a JSON value"),
        (b'{"orders": [{"a": "tab\there"}]}', "must be escaped"),
        (b'{"orders": [{"a": "\\x"}]}', "invalid escape"),
        (b'{"orders": [{"a": 01}]}', "expected ',' or '}', found '1'"),
        (b'{"orders": [{"a" 1}]}', "expected ':' after a key"),
        (b'{"orders": [{"a": tru}]}', "expected a value"),
    ],
)
def test_text_that_is_not_json_is_still_the_files_problem(monkeypatch, fast, data, problem):
    if not fast:
        without_fast_path(monkeypatch)

    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.invalid_json"
    assert problem in error.message
    assert "line 1" in error.message


def _mutations(seed: int, count: int) -> Iterator[bytes]:
    """Seeded random edits of documents full of tricky values (repeatable, no new package)."""
    rng = random.Random(seed)
    bases = [document(*TRICKY).decode(), '[1, 2.5e3, -0.1, true, false, null, "x\\ud800y"]']
    alphabet = '{}[]",:\\ u0123456789abcdefeE+-.tnrfl\n\t\x01dD8é'
    for _ in range(count):
        text = list(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text))
            edit = rng.random()
            if edit < 0.4:
                text[at] = rng.choice(alphabet)
            elif edit < 0.7:
                text.insert(at, rng.choice(alphabet))
            else:
                del text[at]
        yield "".join(text).encode()


def _outcome(data: bytes) -> tuple[Any, ...]:
    records: list[Record] = []
    try:
        records.extend(read_records(io.BytesIO(data), "a.json"))
    except UnreadableFile as error:
        return ("unreadable", error.code, error.message, records)
    return ("read", records)


def test_fast_and_exact_paths_and_any_buffer_give_the_same_outcome_for_random_edits(monkeypatch):
    # given hundreds of randomly edited documents, read as they come
    documents = list(_mutations(seed=20261125, count=150))
    plain = [_outcome(data) for data in documents]

    # when they are read again through a tiny buffer, and through the exact path alone
    monkeypatch.setattr(jsontext, "CHUNK", 5)
    tiny = [_outcome(data) for data in documents]
    without_fast_path(monkeypatch)
    exact = [_outcome(data) for data in documents]

    # then every outcome is the same, to the message
    assert tiny == plain
    assert exact == plain
    # and what is read, json.loads reads too (what it refuses is refused, NaN aside), where it
    # can judge at all: it gives up on the orders nested thousands deep. Whole numbers of any
    # length are JSON: the oracle may not refuse them for Python's int conversion limit
    # (4,300 digits; json.loads applies it from Python 3.13 on)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        for data, outcome in zip(documents, plain, strict=True):
            with contextlib.suppress(RecursionError):
                if outcome[0] == "read":
                    json.loads(data)
                elif outcome[1] == "file.invalid_json":
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(data, parse_constant=_refuse_constant)
    finally:
        sys.set_int_max_str_digits(limit)


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


@pytest.mark.parametrize(
    "data",
    [
        b'{"orders": [{"a": 1}], "orders": [{"b": 2}]}',
        b'{"orders": [{"a": 1}], "\\u006frders": [{"b": 2}]}',  # the same key, escaped
        b'{"orders": [{"a": 1}], "x": 1, "orders": 5}',
    ],
)
def test_a_second_orders_key_makes_the_document_unreadable(data):
    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.duplicate_orders_key"
    assert "more than once" in error.message


def test_a_repeated_key_inside_an_order_is_the_orders_own_business():
    records = read(b'{"orders": [{"orders": 1, "orders": 2}]}', "a.json")

    assert records == [Record(1, {"orders": 2})]


def test_top_level_members_are_given_to_who_asks_and_bad_ones_do_not_sink_the_file():
    fields: dict[str, Any] = {}
    data = (
        '{"callback_url": "https://example.com/hook", "big": 1e400, "deep": '
        + nested(100)
        + ', "orders": [{"a": 1}], "after": [1, 2]}'
    ).encode()

    records = list(read_records(io.BytesIO(data), "a.json", fields=fields))

    assert records == [Record(1, {"a": 1})]
    assert fields["callback_url"].value == "https://example.com/hook"
    assert fields["after"].value == [1, 2]
    assert fields["big"].error.code == "order.number_out_of_range"
    assert fields["deep"].error.code == "order.too_deep"


# --------------------------------------------------------------------------------------------
# Streaming: memory stays flat however many orders
# --------------------------------------------------------------------------------------------

MANY = 200_000
MEMORY_LIMIT = 3 * 1024 * 1024


def json_document(count: int) -> Iterator[bytes]:
    block = ",".join(json.dumps(order(str(i))) for i in range(1000)).encode()
    yield b'{"batch": "memory-test", "orders": ['
    for start in range(0, count, 1000):
        yield block if start == 0 else b"," + block
    yield b"]}"


def csv_table(count: int) -> Iterator[bytes]:
    block = "".join(
        f'{i},101,"Item One, large",1,Foo Bar,buyer{i}@example.com\r\n' for i in range(1000)
    ).encode()
    yield f"{HEADER}\r\n".encode()
    for _ in range(0, count, 1000):
        yield block


@pytest.mark.parametrize(("key", "chunks"), [("big.json", json_document), ("big.csv", csv_table)])
def test_reading_many_orders_keeps_memory_flat(key, chunks):
    # given a generated file of 200,000 orders (tens of MB), produced on demand
    body = Generated(chunks(MANY))

    # when every record is read while Python allocations are traced
    tracemalloc.start()
    try:
        count = last = 0
        for record in read_records(body, key):
            count += 1
            last = record.row
            assert record.error is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # then all orders came out, and the peak is a tiny fraction of the file size
    assert count == MANY
    assert last == (MANY if key.endswith(".json") else MANY + 1)
    assert body.size > 3 * MEMORY_LIMIT
    assert peak < MEMORY_LIMIT, f"peak traced memory {peak:,} bytes"
