"""CSV (and TSV): a header row, then one order per record.

The delimiter (`,` `;` tab or `|`) is chosen by the caller (`detect.detect_delimiter`, or the
sender's mapping). `row` is the line where the record starts (the header is line 1), so that a
quoted field spanning lines never shifts the rows after it. Values stay strings, as written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from chalicelib.orders.readers.columns import ColumnMapping, Columns
from chalicelib.orders.readers.facts import FileFacts
from chalicelib.orders.readers.stream import CHUNK, TextBytes
from chalicelib.orders.records import FieldError, Record, UnreadableFile

__all__ = ["read_csv"]


def read_csv(
    stream: TextBytes, delimiter: str, mapping: ColumnMapping | None, facts: FileFacts
) -> Iterator[Record]:
    """The records of the CSV in `stream`; `facts.columns` is filled once the header is read."""
    text = io.TextIOWrapper(io.BufferedReader(stream, CHUNK), encoding="utf-8", newline="")
    rows = csv.reader(text, delimiter=delimiter)
    end = 0  # the line the previous record ended on
    try:
        columns: Columns | None = None
        records = 0
        for fields in rows:
            start, end = end + 1, rows.line_num
            if _is_blank(fields):
                continue
            if columns is None:
                columns = Columns(fields, f"header found at line {start}", mapping)
                facts.columns.update(columns.found)
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
        raise UnreadableFile(
            "file.empty", "the file contains no orders: it holds nothing but blank lines"
        )
    if not records:
        raise UnreadableFile(
            "file.empty", "the file contains no orders: the CSV has a header row but no data rows"
        )


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _record(row: int, fields: list[str], columns: Columns) -> Record:
    if len(fields) != columns.width:
        message = f"expected {columns.width} fields, found {len(fields)}"
        return Record(row, fields, FieldError("row", "row.field_count", message, None))
    return Record(row, columns.order(fields))
