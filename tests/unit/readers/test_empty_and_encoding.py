"""stream.py through read_records: empty files and encodings."""

from __future__ import annotations

import gzip
import json

import pytest

from chalicelib.orders.readers import read_records
from tests.unit.readers.support import (
    HEADER,
    Trickle,
    order,
    read,
    read_until_unreadable,
    unreadable,
)


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
        # a CSV that mixes UTF-8 and Latin-1 (a CSV in Latin-1 alone is read: test_partner_habits)
        ("a.csv", f"{HEADER}\n1,2,Crème,1,Zoë,z@x.com\n".encode() + b"2,2,Cr\xe8me,1,Z,z@x.com\n"),
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
