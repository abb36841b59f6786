"""Issue 21's file bombs, each made here: refused (or read) within the budget, with its code,
its peak memory and its time.

The old readers, measured on the same files: the workbook of 1 GiB of whitespace took 1,066 MB;
the sheet of 2,000 values in column XFD 25 s and 263 MB of chunks and results; a million shared
strings 266 MB; a header of 16,384 cells 23 s; the gzip of 2 GiB of blank lines was still being
read after 150 s; the gzip of zeros posing as a workbook was copied whole (2 GiB) to the
temporary disk; one CSV row of 2,000,000 columns made a 10 MB chunk. Each test below uses the
issue's own size with the default budget where that is quick, and a smaller file with a budget
lowered to match where the default limit is only reached after seconds of honest reading.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.orders.readers import DEFAULT, read_records
from chalicelib.orders.readers.budget import Budget
from chalicelib.pipeline.chunks import cut
from tests.unit.readers.bombs import (
    MAIN,
    GiB,
    MiB,
    cell,
    cost,
    gzip_of,
    header_row,
    order_row,
    repeated,
    sheet_of,
    xlsx,
)
from tests.unit.readers.support import HEADER

# What any file may cost the readers, in these tests: far inside PrepareFile's 512 MB, 900 s.
PEAK = 16 * MiB  # Python's allocations at their peak (tracemalloc)
RSS = 64 * MiB  # the process's resident memory above where it stood


def lowered(**limits: int) -> Budget:
    return dataclasses.replace(DEFAULT, **limits)


def within(spent: Any, seconds: float, peak: int = PEAK) -> None:
    print(spent)  # shown with -s: the figures the report quotes
    assert spent.seconds < seconds, spent
    assert spent.peak < peak, spent
    if spent.rss_growth is not None:
        assert spent.rss_growth < RSS, spent


# a workbook of whitespace -----------------------------------------------------------------------


def test_a_sheet_of_a_gibibyte_of_whitespace_is_refused_from_the_zip_directory():
    # the file: 1 MB, whose sheet unpacks to 1 GiB (1,066 MB to read before)
    data = xlsx(sheet_of(header_row(), repeated(b" ", GiB), order_row(2)), level=9)
    assert len(data) < 1.1 * MiB

    spent = cost(data, "orders.xlsx")

    assert spent.code == "file.compression_ratio"
    assert "sheet" in spent.message
    assert "GiB from" in spent.message
    within(spent, seconds=0.5, peak=MiB)


def test_whitespace_that_passes_the_ratio_still_costs_no_memory():
    # 64 MiB of whitespace between two rows, with the ratio lifted so that the directory lets it
    # through: openpyxl held such a run whole (twice); here it is never held
    data = xlsx(sheet_of(header_row(), repeated(b"\n ", 64 * MiB), order_row(2)), level=1)

    spent = cost(data, "orders.xlsx", lowered(compression_ratio=10**6))

    assert spent.code == "file.row_too_large"
    assert "without an element" in spent.message
    within(spent, seconds=1, peak=4 * MiB)


def test_an_endless_tag_costs_no_memory():
    # one start tag of 64 MiB of attributes: expat holds a token whole until it ends
    tag = iter([b'<row r="2" ', *repeated(b'a=" " ', 64 * MiB)])
    data = xlsx(sheet_of(header_row(), tag, "/>"), level=1)

    spent = cost(data, "orders.xlsx", lowered(compression_ratio=10**6))

    assert spent.code == "file.row_too_large"
    within(spent, seconds=1, peak=8 * MiB)


# sparse and wide sheets ---------------------------------------------------------------------------


def xfd_sheet(rows: int) -> bytes:
    body = "".join(f'<row r="{n}">{cell("XFD", n, "x")}</row>' for n in range(2, rows + 2))
    return xlsx(sheet_of(header_row(), body))


def test_a_sheet_of_values_in_column_xfd_costs_its_cells_not_its_columns():
    # the 12 KB sheet: 2,000 rows, each one value in the last column (25 s and 263 MB of
    # chunks and results before: every row became 16,384 values)
    data = xfd_sheet(2_000)
    assert len(data) < 20_000

    spent = cost(data, "orders.xlsx")
    records = list(read_records(io.BytesIO(data), "orders.xlsx"))

    assert spent.code is None
    within(spent, seconds=1, peak=4 * MiB)
    assert len(records) == 2_000
    assert {record.error.code for record in records if record.error} == {"row.field_count"}
    assert records[0].order == ["", "", "", "", "", "", "x"]  # its values, not 16,384 of them
    assert "column XFD" in records[0].error.message  # type: ignore[union-attr]
    chunks = list(cut(records, 1000, 1_000_000))
    assert sum(len(",".join(chunk)) for chunk in chunks) < 400_000  # was 131 MB


def test_the_larger_sheet_of_values_in_column_xfd_is_refused_for_its_row_errors():
    # the 980 KB sibling (which would have outlasted PrepareFile's 900 s): after 10,000
    # rows that are no orders, and none that is, the rest is not read
    data = xfd_sheet(160_000)
    assert len(data) < MiB

    spent = cost(data, "orders.xlsx")

    assert spent.code == "file.too_many_row_errors"
    assert "10,000 rows" in spent.message
    within(spent, seconds=2)


def test_a_header_of_16384_cells_is_refused_at_once():
    # 23 s to say file.missing_columns before
    header = "".join(cell(letter, 1, f"h{n}") for n, letter in enumerate(_letters(16_384)))
    data = xlsx(sheet_of(f'<row r="1">{header}</row>', order_row(2)))

    spent = cost(data, "orders.xlsx")

    assert spent.code == "file.too_many_columns"
    within(spent, seconds=1)


def test_a_header_as_wide_as_the_budget_says_what_is_missing_quickly():
    names = [f"column {n}" for n in range(DEFAULT.columns)]
    data = (",".join(names) + "\n" + ",".join("1" * len(names)) + "\n").encode()

    spent = cost(data, "orders.csv")

    assert spent.code == "file.missing_columns"
    within(spent, seconds=1)


def test_a_row_of_more_cells_than_the_budget_is_refused():
    cells = "".join(cell(letter, 2, "1") for letter in _letters(2_000))
    data = xlsx(sheet_of(header_row(), f'<row r="2">{cells}</row>'))

    spent = cost(data, "orders.xlsx")

    assert spent.code == "file.too_many_columns"
    assert "row 2" in spent.message


def _letters(count: int) -> Iterator[str]:
    from openpyxl.utils.cell import get_column_letter

    return (get_column_letter(n) for n in range(1, count + 1))


# shared strings -----------------------------------------------------------------------------------


def strings_of(count: int) -> Iterator[bytes]:
    yield f'<sst xmlns="{MAIN}" count="{count}" uniqueCount="{count}">'.encode()
    for start in range(0, count, 4096):
        pieces = (f"<si><t>{n}</t></si>" for n in range(start, min(count, start + 4096)))
        yield "".join(pieces).encode()
    yield b"</sst>"


def test_a_million_shared_strings_cost_a_compact_table():
    # the 2.9 MB of 1,048,576 shared strings (266 MB before): kept as UTF-8 and offsets
    shared = '<row r="2"><c r="A2" t="s"><v>1048575</v></c>' + "".join(
        cell(chr(ord("B") + i), 2, value)
        for i, value in enumerate(["101", "Item One", "1", "Foo Bar", "b@example.com"])
    )
    data = xlsx(sheet_of(header_row(), shared + "</row>"), strings_of(1_048_576))
    assert len(data) < 3.5 * MiB

    spent = cost(data, "orders.xlsx")

    assert spent.code is None
    assert spent.records[0].order["order-info"]["OrderId"] == "1048575"
    within(spent, seconds=6, peak=12 * MiB)


def test_more_shared_strings_than_the_budget_are_refused():
    data = xlsx(sheet_of(header_row(), order_row(2)), strings_of(200_000))

    spent = cost(data, "orders.xlsx", lowered(shared_strings=100_000))

    assert spent.code == "file.workbook_part_too_large"
    assert "shared strings" in spent.message
    within(spent, seconds=2)


# gzip -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("orders.csv.gz", "file.too_many_rows"),
        ("orders.jsonl.gz", "file.too_many_rows"),
        ("orders.json.gz", "file.compression_ratio"),
    ],
)
def test_a_gzip_of_two_gibibytes_of_blank_lines(key, code):
    # the 2 MB file (still being read after 150 s before)
    data = gzip_of(b"", b"\n", 2 * GiB)
    assert len(data) < 2.5 * MiB

    spent = cost(data, key)

    assert spent.code == code
    within(spent, seconds=3)


def test_a_gzip_bomb_past_the_row_limit_is_refused_by_its_ratio():
    data = gzip_of(HEADER.encode() + b"\n", b"\n", 2 * GiB)

    # (judged from 1 MiB of content on: each blank line costs a trip through the CSV reader)
    spent = cost(data, "orders.csv.gz", lowered(rows=10**9, ratio_floor=MiB))

    assert spent.code == "file.compression_ratio"
    assert "1.0 MiB from" in spent.message
    within(spent, seconds=3)


def test_a_gzip_of_zeros_posing_as_a_workbook_never_fills_the_disk(monkeypatch):
    # the 2 MB of gzip, 2 GiB of zeros after a ZIP signature (copied whole to the
    # temporary disk before it was refused)
    data = gzip_of(b"PK\x03\x04", b"\x00", 2 * GiB)
    written = _count_temporary_writes(monkeypatch)

    spent = cost(data, "orders.xlsx")

    assert spent.code == "file.compression_ratio"
    assert max(written) <= DEFAULT.ratio_floor + 128 * 1024
    within(spent, seconds=1)


def test_a_workbook_larger_than_the_temporary_disk_budget_is_refused(monkeypatch):
    noise = bytes(range(256)) * 8192  # 2 MiB that deflate cannot shrink much... stored anyway
    data = xlsx(sheet_of(header_row(), order_row(2)), extra=[("xl/media/noise.bin", noise)])
    written = _count_temporary_writes(monkeypatch)

    spent = cost(data, "orders.xlsx", lowered(workbook_bytes=len(data) // 2))

    assert spent.code == "file.workbook_too_large"
    assert max(written) <= len(data) // 2


def _count_temporary_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes written to each temporary file the readers open, as a list that fills."""
    written: list[int] = [0]
    real = tempfile.TemporaryFile

    class Counting:
        def __init__(self) -> None:
            self._file = real()
            written.append(0)

        def write(self, data: bytes) -> int:
            written[-1] += len(data)
            return self._file.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._file, name)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *_: object) -> None:
            self._file.close()

    monkeypatch.setattr("chalicelib.orders.readers.tempfile.TemporaryFile", Counting)
    return written


# CSV and chunks -------------------------------------------------------------------------------


def test_one_csv_row_of_two_million_columns_is_refused_before_it_is_held():
    # the row: 2,000,000 columns (a 10 MB chunk before)
    data = (HEADER + "\n" + "," * 1_999_999 + "\n").encode()

    spent = cost(data, "orders.csv")

    assert spent.code == "file.too_many_columns"
    assert "line 2" in spent.message
    within(spent, seconds=1, peak=8 * MiB)


def test_a_row_within_the_budget_but_larger_than_a_chunk_is_its_own_rejection():
    # 1,000 fields of 1,000 characters: within the row budget, but not within a chunk
    wide = ",".join("x" * 1_000 for _ in range(1_000))
    lines = [HEADER, "1,101,Item One,1,Foo Bar,b1@example.com", wide, "3,101,Item,1,Foo,b@x.org"]
    records = list(read_records(io.BytesIO("\n".join(lines).encode()), "orders.csv"))

    chunks = list(cut(records, 1_000, 1_000_000))

    assert all(len(",".join(chunk).encode()) <= 1_000_000 for chunk in chunks)
    rows = [json.loads(item) for chunk in chunks for item in chunk]
    assert [row[0] for row in rows] == [2, 3, 4]
    assert rows[1][2]["code"] == "row.too_large"
    assert rows[0][2] is None
    assert rows[2][2] is None


def test_a_line_longer_than_a_row_may_be_is_refused_without_being_held():
    data = (HEADER + "\n" + "x" * (64 * MiB) + "\n").encode()

    spent = cost(data, "orders.csv")

    assert spent.code == "file.row_too_large"
    within(spent, seconds=1, peak=12 * MiB)


def test_more_rows_that_cannot_be_orders_than_orders_are_refused():
    rows = [HEADER] + ["1,101,Item One,1,Foo Bar,b@example.com,extra"] * 20_000
    data = "\n".join(rows).encode()

    spent = cost(data, "orders.csv")

    assert spent.code == "file.too_many_row_errors"
    assert "10,000 rows" in spent.message
    assert "than the 0 that can" in spent.message


def test_a_few_rows_that_cannot_be_orders_among_many_orders_are_read():
    good = "1,101,Item One,1,Foo Bar,b@example.com"
    rows = [HEADER] + [good] * 60 + [good + ",extra"] * 50
    data = "\n".join(rows).encode()

    spent = cost(data, "orders.csv", lowered(row_errors=20))

    assert spent.code is None


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ({"rows": 100}, "file.too_many_rows"),
        ({"cells": 600}, "file.too_many_cells"),
        ({"uncompressed_bytes": 5_000}, "file.too_large_uncompressed"),
    ],
)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_each_count_has_its_limit(kind, limit, code):
    if kind == "csv":
        lines = [HEADER] + [f"{n},101,Item One,1,Foo Bar,b{n}@example.com" for n in range(200)]
        data = "\n".join(lines).encode()
    else:
        data = xlsx(sheet_of(header_row(), "".join(order_row(n) for n in range(2, 202))))
        limit = {"uncompressed_bytes": 20_000} if "uncompressed_bytes" in limit else limit

    spent = cost(data, f"orders.{kind}", lowered(**limit))

    assert spent.code == code


# JSON -----------------------------------------------------------------------------------------


def test_a_json_order_larger_than_the_buffer_may_grow_is_refused():
    data = b'{"orders": [{"note": "' + b"x" * (32 * MiB) + b'"}]}'

    spent = cost(data, "orders.json", lowered(row_bytes=MiB))

    assert spent.code == "file.row_too_large"
    within(spent, seconds=1, peak=24 * MiB)


def test_json_whitespace_is_never_held():
    data = b"[" + b" " * (64 * MiB) + b"]"

    spent = cost(data, "orders.json")

    assert spent.code == "file.row_too_large"
    within(spent, seconds=1, peak=24 * MiB)


def test_a_json_document_of_endless_top_level_members_is_refused():
    members = ", ".join(f'"k{n}": {n}' for n in range(5_000))
    data = ("{" + members + ', "orders": [{}]}').encode()

    spent = cost(data, "orders.json")

    assert spent.code == "file.too_many_columns"


# the workbook's package -----------------------------------------------------------------------


def test_a_zip_directory_of_too_many_entries_is_refused_before_it_is_listed():
    extra = [(f"xl/media/{n}.bin", b"") for n in range(200)]
    data = xlsx(sheet_of(header_row(), order_row(2)), extra=extra)

    spent = cost(data, "orders.xlsx", lowered(zip_entries=100))

    assert spent.code == "file.workbook_part_too_large"
    assert "ZIP directory" in spent.message


def test_a_zip_directory_that_understates_its_entries_is_judged_by_its_size():
    # zipfile lists every entry the directory's bytes hold, whatever count its end record says
    extra = [(f"xl/media/{n:04d}.bin", b"") for n in range(600)]
    data = bytearray(xlsx(sheet_of(header_row(), order_row(2)), extra=extra))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2  # 5 entries, it says

    spent = cost(bytes(data), "orders.xlsx", lowered(zip_entries=100))

    assert spent.code == "file.workbook_part_too_large"
    assert "ZIP directory" in spent.message


def test_a_styles_part_of_too_many_formats_is_refused():
    base = zipfile.ZipFile(io.BytesIO(xlsx(sheet_of(header_row(), order_row(2)))))
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs>{"<xf/>" * 70_000}</cellXfs></styleSheet>'
    styles_xml = styles.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in base.infolist():
            data = styles_xml if item.filename == "xl/styles.xml" else base.read(item)
            target.writestr(item.filename, data)

    spent = cost(out.getvalue(), "orders.xlsx")

    assert spent.code == "file.workbook_part_too_large"
    assert "cell formats" in spent.message
    within(spent, seconds=1)


def test_a_part_larger_than_its_directory_says_is_damaged_not_read_further():
    # a directory that understates a part's size cannot get more than it declares read
    data = bytearray(xlsx(sheet_of(header_row(), *(order_row(n) for n in range(2, 500)))))
    directory = data.find(b"PK\x01\x02")
    name = data.find(b"xl/worksheets/sheet1.xml", directory)
    entry = data.rfind(b"PK\x01\x02", 0, name)
    data[entry + 24 : entry + 28] = (1000).to_bytes(4, "little")  # its uncompressed size

    spent = cost(bytes(data), "orders.xlsx")

    assert spent.code == "file.invalid_xlsx"
