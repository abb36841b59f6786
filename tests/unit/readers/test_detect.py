"""detect.py: content before name; refusals by magic bytes; the CSV delimiter."""

from __future__ import annotations

import io
import zipfile

import pytest

from chalicelib.orders.readers.detect import (
    detect_delimiter,
    judge_ole2,
    judge_zip,
    refuse_binary,
)
from chalicelib.orders.records import UnreadableFile
from tests.unit.readers.support import workbook

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def zipped(files: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    out.seek(0)
    return out


def refused(call, *args) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    ("head", "code", "said"),
    [
        (b"%PDF-1.7\n", "file.pdf", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n", "file.image", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JF", "file.image", "a JPEG image"),
        (b"GIF89a\x01\x00", "file.image", "a GIF image"),
    ],
)
def test_documents_and_images_are_refused_by_their_magic_bytes(head, code, said):
    error = refused(refuse_binary, head)

    assert error.code == code
    assert said in error.message
    assert "send the orders as" in error.message


@pytest.mark.parametrize(
    ("head", "kind"),
    [(b"PK\x03\x04\x14\x00", "zip"), (OLE2, "ole2"), (b"OrderId,", None), (b"\xef\xbb\xbf{", None)],
)
def test_containers_and_text(head, kind):
    assert refuse_binary(head) == kind


def test_an_xlsx_passes_and_other_zips_are_refused_by_what_they_hold():
    judge_zip(io.BytesIO(workbook(("Sheet1", [["a"]]))))  # no exception

    ods = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "c.xml": b""})
    numbers = zipped({"Index/Document.iwa": b"", "Metadata/Properties.plist": b""})
    several = zipped({"a.csv": b"x", "b.csv": b"y"})

    assert refused(judge_zip, ods).code == "file.ods"
    assert refused(judge_zip, numbers).code == "file.numbers"
    error = refused(judge_zip, several)
    assert error.code == "file.zip"
    assert "2 files (a.csv, b.csv)" in error.message


def test_a_broken_zip_is_an_unreadable_workbook():
    data = workbook(("Sheet1", [["a"]]))

    assert refused(judge_zip, io.BytesIO(data[: len(data) // 2])).code == "file.invalid_xlsx"


def test_ole2_is_a_legacy_xls_unless_it_holds_an_encrypted_package():
    plain = OLE2 + bytes(2000) + "Workbook".encode("utf-16-le")
    # the stream name straddles the 1 MiB read boundary
    encrypted = OLE2 + bytes(1024 * 1024 - 20) + "EncryptedPackage".encode("utf-16-le")

    assert refused(judge_ole2, io.BytesIO(plain)).code == "file.xls"
    assert refused(judge_ole2, io.BytesIO(encrypted)).code == "file.encrypted"


@pytest.mark.parametrize(
    ("key", "head", "delimiter"),
    [
        ("a.csv", b"OrderId,item-id,qty\n1;2;3\n", ","),
        ("a.csv", b"OrderId;item-id;qty\n", ";"),
        ("a.csv", b"OrderId\titem-id\tqty\n", "\t"),
        ("a.csv", b"OrderId|item-id|qty\n", "|"),
        ("a.csv", b'"Order; ID",item-id,qty\n', ","),  # quoted delimiters do not count
        ("a.csv", b"\n\nOrderId;qty\n", ";"),  # the first non-blank line
        ("a.csv", b"OrderId\n1\n", ","),
        ("a.csv", b"a,b;c;d", ";"),
        ("a.csv", b"a,b;c", ","),  # a tie goes to the earlier of , ; tab |
        ("orders.tsv.gz", b"OrderId,item-id,qty\n", "\t"),
    ],
)
def test_detect_delimiter(key, head, delimiter):
    assert detect_delimiter(key, head) == delimiter
