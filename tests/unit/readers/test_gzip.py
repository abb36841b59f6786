"""stream.py through read_records: gzip, recognised by content, corrupt or cut short."""

from __future__ import annotations

import gzip
import json

import pytest

from chalicelib.orders.records import Record
from tests.unit.readers.support import (
    HEADER,
    order,
    read,
    unreadable,
)

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
