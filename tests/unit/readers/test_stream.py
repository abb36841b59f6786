"""stream.py: gzip, byte-order marks, encodings, and the one position the text stream exposes."""

from __future__ import annotations

import codecs
import gzip
import io

import pytest

from chalicelib.orders.readers.stream import FileBytes, TextBytes
from chalicelib.orders.records import UnreadableFile


def text_of(data: bytes) -> TextBytes:
    return TextBytes(FileBytes(io.BytesIO(data)))


def test_file_bytes_peek_leaves_the_bytes_in_place_and_gunzips():
    source = FileBytes(io.BytesIO(gzip.compress(b"hello world")))

    assert source.compressed
    assert source.head(5) == b"hello"
    assert source.head(3) == b"hel"
    assert source.read(2) == b"he"
    assert source.read() == b"llo world"


@pytest.mark.parametrize(
    ("bom", "encoding", "name"),
    [
        (b"", "utf-8", "utf-8"),
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    ],
)
def test_text_comes_out_as_utf_8_without_its_bom(bom, encoding, name):
    stream = text_of(bom + "a,é\n€,𝄞\n".encode(encoding))

    assert stream.encoding == name
    assert stream.read() == "a,é\n€,𝄞\n".encode()


def test_offset_counts_the_bom_and_every_byte_read():
    stream = text_of(codecs.BOM_UTF8 + b"abcdef")

    assert stream.offset == 3
    stream.peek_all(4)
    assert stream.offset == 3  # a peek is not a read
    stream.read(2)
    assert stream.offset == 5


def test_peek_all_says_whether_it_saw_everything():
    assert text_of(b"  \n").peek_all(10) == (b"  \n", True)
    assert text_of(b"x" * 20).peek_all(10) == (b"x" * 10, False)


def test_utf_16_without_a_bom_is_refused_as_such():
    with pytest.raises(UnreadableFile) as caught:
        text_of("OrderId,qty\n".encode("utf-16-le"))

    assert caught.value.code == "file.encoding"
    assert "without a byte-order mark" in caught.value.message


def test_latin_1_is_refused_with_line_and_offset():
    stream = text_of(b"ok\nJos\xe9\n")

    with pytest.raises(UnreadableFile) as caught:
        stream.read()

    assert caught.value.code == "file.encoding"
    assert "byte 0xE9 at line 2 (byte offset 6)" in caught.value.message
