"""detect.py: which text format a file is."""

from __future__ import annotations

import pytest

from chalicelib.orders.readers import FILE_ERROR_CODES, detect_format
from tests.unit.readers.support import (
    errors,
    read,
)


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
