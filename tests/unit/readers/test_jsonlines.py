"""jsonlines.py through read_records: one order per line."""

from __future__ import annotations

import json

from chalicelib.orders.readers import jsonlines
from chalicelib.orders.records import FieldError, Record
from tests.unit.readers.support import (
    errors,
    order,
    read,
    read_until_unreadable,
    rows,
    unreadable,
)


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
