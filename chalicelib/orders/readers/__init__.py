"""Read an order file as a stream of `Record`s, whatever its format.

Formats, decided by content first (`detect`), then by name:

* a JSON document ``{"orders": [...]}`` or array ``[...]`` (`jsondoc`): `row` = position;
* JSON Lines (`jsonlines`): `row` = line number; blank lines are skipped;
* CSV or TSV with a header row, delimited by `,` `;` tab or `|` (`csvfile`): `row` = the line
  where the record starts (the header is line 1);
* an .xlsx workbook (`spreadsheet`, reading the package with `xlsx`, `xlsxparts`, `xlsxrows`
  and `zipdirectory`): `row` = the row number Excel shows.

Text is UTF-8 or UTF-16 with a byte-order mark, and a CSV may also be Windows-1252 (found when
it is not UTF-8) or Latin-1 (when the mapping names its `encoding`); any format may be
gzip-compressed (`stream`). A table's header is matched to the order's fields by `columns`
(loosely or by synonym, `names`, or by an explicit `ColumnMapping`, `mapping`). Other files
(a legacy .xls, .ods, .numbers, a PDF, an image, a ZIP of other files, an encrypted workbook)
are refused, each with its own code.

The file is never held in memory as a whole, and records are yielded one at a time. What
reading a file may cost is bounded by its `Budget` (`budget`: decompressed bytes and their
ratio to the compressed ones, rows, columns, cells, bytes per row, a workbook's size on the
temporary disk and its parts, rows that cannot be orders), counted as it streams: a file past
any limit raises `UnreadableFile` with that limit's own code the moment it passes. A record
that cannot be parsed (a bad JSON line, a CSV row with the wrong number of fields) or that holds
a value no order may hold (`limits`) is yielded with `error` set and reading goes on; a problem
with the file as a whole raises `UnreadableFile` (codes: `codes.FILE_ERROR_CODES`), possibly
after some records were yielded (callers then discard everything they received).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Final

from chalicelib.orders.codes import FILE_ERROR_CODES
from chalicelib.orders.jsontext import Parsed
from chalicelib.orders.readers.budget import DEFAULT, Budget, Meter
from chalicelib.orders.readers.columns import ColumnMapping, MappingError, is_report, mark_totals
from chalicelib.orders.readers.csvfile import read_csv
from chalicelib.orders.readers.detect import (
    CSV,
    FORMATS,
    JSONL,
    MAGIC_BYTES,
    XLSX,
    detect_delimiter,
    detect_format,
    judge_ole2,
    judge_zip,
    refuse_binary,
)
from chalicelib.orders.readers.facts import FileFacts
from chalicelib.orders.readers.jsondoc import read_json
from chalicelib.orders.readers.jsonlines import read_jsonl
from chalicelib.orders.readers.spreadsheet import read_xlsx
from chalicelib.orders.readers.stream import CHUNK, ByteSource, FileBytes, TextBytes
from chalicelib.orders.records import Record, UnreadableFile

__all__ = [
    "DEFAULT",
    "FILE_ERROR_CODES",
    "FORMATS",
    "Budget",
    "ByteSource",
    "ColumnMapping",
    "FileFacts",
    "MappingError",
    "Reading",
    "detect_format",
    "read_records",
]

_HEAD: Final = 64 * 1024  # bytes peeked for format detection


class Reading(Iterator[Record]):
    """The records of one file, in file order, and `facts` about the file as they are found."""

    def __init__(
        self,
        body: ByteSource,
        key: str,
        mapping: ColumnMapping | None = None,
        fields: dict[str, Parsed] | None = None,
        budget: Budget = DEFAULT,
    ) -> None:
        self.facts = FileFacts(mapping=mapping)
        self.meter = Meter(budget)
        self._records = self._counted(self._read(body, key, mapping, fields))

    def __iter__(self) -> Iterator[Record]:
        # The generator itself, so that a loop over the reading costs no extra call per record.
        return self._records

    def __next__(self) -> Record:
        return next(self._records)

    def _counted(self, records: Iterator[Record]) -> Iterator[Record]:
        """`records`, each counted as an order or a row that cannot be one (`Meter.record`)."""
        record = self.meter.record
        for each in records:
            record(each.error is not None)
            yield each

    def _read(
        self,
        body: ByteSource,
        key: str,
        mapping: ColumnMapping | None,
        fields: dict[str, Parsed] | None,
    ) -> Iterator[Record]:
        facts, meter = self.facts, self.meter
        source = FileBytes(body, meter)
        facts.compressed = source.compressed
        container = refuse_binary(source.head(MAGIC_BYTES))
        if container is not None:
            yield from self._container(source, container, mapping)
            return
        # Only a CSV may be in a single-byte encoding (JSON is UTF-8, RFC 8259). An encoding the
        # mapping names applies to a CSV other than our report sent back, which the raw head
        # tells (its ASCII is the same in all of them); without one, a CSV not in UTF-8 turns
        # out to be Windows-1252 as it is read (`TextBytes`), refused below in JSON.
        named = mapping.encoding if mapping else None
        if named is not None:
            raw = source.head(_HEAD)
            if detect_format(key, raw) != CSV or is_report(raw):
                named = None
        stream = TextBytes(source, named, legacy=named is None)
        try:
            yield from self._text(stream, key, mapping, fields)
        finally:
            facts.encoding = stream.encoding  # a CSV's may fall back to Windows-1252 as it is read

    def _text(
        self,
        stream: TextBytes,
        key: str,
        mapping: ColumnMapping | None,
        fields: dict[str, Parsed] | None,
    ) -> Iterator[Record]:
        facts, meter = self.facts, self.meter
        facts.encoding = stream.encoding
        head, whole = stream.peek_all(_HEAD)
        if whole and not head.strip():
            raise UnreadableFile("file.empty", stream.describe_blank())
        facts.format = detect_format(key, head)
        if facts.format != CSV:
            stream.legacy = False
            if stream.refusal is not None:  # a JSON head that is not UTF-8
                raise stream.refusal
        if facts.format == CSV and is_report(head):
            # one of our rejection reports sent back: always our columns and commas, whatever
            # the sender's mapping says about its own files
            facts.mapping = mapping = None
        if facts.format == CSV:
            given = mapping.delimiter if mapping else None
            facts.delimiter = given or detect_delimiter(key, head)
            yield from mark_totals(read_csv(stream, facts.delimiter, mapping, facts, meter))
        elif facts.format == JSONL:
            facts.mapping = None  # JSON has no columns to map
            yield from read_jsonl(stream, meter)
        else:
            facts.mapping = None
            yield from read_json(stream, fields, meter)

    def _container(
        self, source: FileBytes, kind: str, mapping: ColumnMapping | None
    ) -> Iterator[Record]:
        """A ZIP file: copied to a temporary file (its directory is at its end), within the
        budget's `workbook_bytes`, then read if it is an .xlsx workbook and refused otherwise.
        An OLE2 file is refused as it streams by (it is never a workbook this reads)."""
        if kind == "ole2":
            judge_ole2(source)
        meter = self.meter
        limit = meter.budget.workbook_bytes
        with tempfile.TemporaryFile() as file:
            copied = 0
            while block := source.read(CHUNK):
                copied += len(block)
                if copied > limit:
                    raise meter.workbook_too_large()
                file.write(block)
            file.seek(0)
            judge_zip(file, meter)
            file.seek(0)
            self.facts.format = XLSX
            yield from mark_totals(read_xlsx(file, mapping, self.facts, meter))


def read_records(
    body: ByteSource,
    key: str,
    *,
    mapping: ColumnMapping | None = None,
    fields: dict[str, Parsed] | None = None,
    budget: Budget = DEFAULT,
) -> Reading:
    """The records of the file in `body`, one per order, in file order (see the module).

    `key` (the S3 key or file name) only helps detection. Raises `UnreadableFile` when the file
    as a whole cannot be read, possibly after yielding some records. `mapping` says which of a
    table's headers hold which fields (and a sheet and a delimiter); JSON formats ignore it.
    `fields`, when given, receives the top-level members of a JSON document other than
    "orders", each read like an order (a `Parsed` value, or its text and error). The returned
    `Reading` also tells what the file turned out to be (`Reading.facts`). `budget` bounds what
    reading may cost (the default everywhere but in tests).
    """
    return Reading(body, key, mapping, fields, budget)
