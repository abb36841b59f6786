"""CSV (and TSV): a header row, then one order per record.

The delimiter (`,` `;` tab or `|`) is chosen by the caller (`detect.detect_delimiter`, or the
sender's mapping). `row` is the line where the record starts (the header is line 1), so that a
quoted field spanning lines never shifts the rows after it. Values stay strings, as written.
The header is the first row that matches the order's fields within the first
`HEADER_SEARCH_ROWS` lines (title rows above it are skipped; none matching is the first row's
`file.missing_columns`), or the first non-blank one from the mapping's `header_row` on. A header
column without a name (a trailing `,,`) is ignored: a row may leave it out at the end, and a
row with a value under it is `row.value_without_header`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from functools import partial

from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.columns import ColumnMapping, Columns, HeaderSearch
from chalicelib.orders.readers.facts import FileFacts
from chalicelib.orders.readers.stream import CHUNK, TextBytes
from chalicelib.orders.records import FieldError, Record, UnreadableFile

__all__ = ["read_csv"]


def read_csv(
    stream: TextBytes,
    delimiter: str,
    mapping: ColumnMapping | None,
    facts: FileFacts,
    meter: Meter,
) -> Iterator[Record]:
    """The records of the CSV in `stream`; `facts.columns` is filled once the header is read."""
    text = io.TextIOWrapper(io.BufferedReader(stream, CHUNK), encoding="utf-8", newline="")
    lines = _Lines(text, delimiter, meter)
    rows = csv.reader(lines, delimiter=delimiter)
    budget = meter.budget
    max_rows, max_columns, max_cells = budget.rows, budget.columns, budget.cells
    cells = 0
    end = 0  # the line the previous record ended on
    try:
        columns: Columns | None = None
        search = HeaderSearch(mapping, facts)
        records = 0
        for fields in rows:
            start, end = end + 1, rows.line_num
            lines.start, lines.mark = end + 1, lines.read
            if end > max_rows:
                raise meter.too_many_rows()
            width = len(fields)
            cells += width
            if width > max_columns:
                raise meter.too_many_columns(f"the record at line {start}", width)
            if cells > max_cells:
                raise meter.too_many_cells()
            if _is_blank(fields):
                continue
            if columns is None:
                where = f"header found at line {start}"
                columns = search.look(start, partial(Columns, fields, where, mapping))
                continue
            records += 1
            yield _record(start, fields, columns)
    except csv.Error as exc:
        raise UnreadableFile(
            "file.invalid_csv",
            f"the CSV cannot be parsed past the record that starts at line {end + 1}: {exc} "
            "(is a quoted field never closed?)",
        ) from exc
    if columns is None:
        if search.title is not None:
            raise search.refused(search.title)
        raise UnreadableFile(
            "file.empty", "the file contains no orders: it holds nothing but blank lines"
        )
    if not records:
        raise UnreadableFile(
            "file.empty", "the file contains no orders: the CSV has a header row but no data rows"
        )


class _Lines:
    """The lines of the text for `csv.reader`, each read at most `row_bytes` characters at a
    time: a record longer than that is refused before more of it is read. The reader sets
    `start` (the line the next record starts on) and `mark` (`read` then) after each record."""

    def __init__(self, text: io.TextIOWrapper, delimiter: str, meter: Meter) -> None:
        self._readline = text.readline
        self._delimiter = delimiter
        self._meter = meter
        self.start = 1
        self.read = 0  # characters read so far
        self.mark = 0

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._readline, self._meter.budget.row_bytes
        read = 0
        while line := readline(limit + 1):
            read += len(line)
            self.read = read
            if read - self.mark > limit:
                raise self._too_large(line)
            yield line

    def _too_large(self, line: str) -> UnreadableFile:
        meter = self._meter
        where = f"the record at line {self.start}"
        if line.count(self._delimiter) >= meter.budget.columns:
            return meter.too_many_columns(where)
        return meter.row_too_large(where)


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _record(row: int, fields: list[str], columns: Columns) -> Record:
    width = columns.width
    if len(fields) < width and all(index in columns.unnamed for index in range(len(fields), width)):
        # the header's trailing columns without a name, left out of this row: nothing is missing
        fields = fields + [""] * (width - len(fields))
    elif len(fields) != width:
        message = f"expected {width} fields, found {len(fields)}"
        return Record(row, fields, FieldError("row", "row.field_count", message, None))
    unnamed = columns.value_without_header(fields)
    if unnamed is not None:
        index, value = unnamed
        message = (
            f"line {row} has a value in field {index + 1}, whose column has no header: which "
            "field it belongs to cannot be told; name the column in the header, or remove the "
            "value"
        )
        error = FieldError("row", "row.value_without_header", message, value[:200])
        return Record(row, fields, error)
    return Record(row, columns.order(fields))
