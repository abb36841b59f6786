"""What reading one file may cost, enforced while it is read: the limits and the `Meter`.

PrepareFile reads every file once, in a Lambda with 512 MB of memory, 512 MB of temporary disk
and a 900 s timeout. A file is data from outside: its size on the wire says little about what
reading it costs (1 MB of gzip can unpack to 1 GiB, one cell in column XFD can stand for 16,384
values), so each cost has its own limit below, counted as the file streams through the readers.
A file past any of them is refused the moment the count passes, with its own `file.*` code
(`codes.FILE_ERROR_CODES`) saying which limit and what to send instead, and quarantined like
any unreadable file: never half read, never `failed`, never slow.

Within the defaults, a file costs at most about 200 MB of memory (the shared strings of a
workbook, held compactly, are the most; text formats hold one row at a time) and about a minute:
the readers take a CSV at some 400,000 rows (20 MiB) a second, JSON at 30 MiB a second and a
workbook at some 300,000 cells a second, and every count that costs time is capped (rows,
cells, bytes), so the slowest file within the limits (1 GiB of CSV, 20 million cells) is read
well inside PrepareFile's timeout. A row that cannot be read as an order costs a record in a
chunk and a message in the dead-letter queue, so those are limited too (`row_errors`): the work
written for a file stays in proportion to the orders it holds.

Tests lower the limits through `Budget` (`read_records(..., budget=...)`) to show each refusal
on a small file; the pipeline always reads with `DEFAULT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chalicelib.orders.records import UnreadableFile

__all__ = [
    "DEFAULT",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_COMPRESSION_RATIO",
    "MAX_PART_BYTES",
    "MAX_ROWS",
    "MAX_ROW_BYTES",
    "MAX_ROW_ERRORS",
    "MAX_SHARED_STRINGS",
    "MAX_SHARED_STRINGS_BYTES",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_WORKBOOK_BYTES",
    "MAX_ZIP_ENTRIES",
    "RATIO_FLOOR",
    "Budget",
    "Meter",
    "size",
]

MiB: Final = 1024 * 1024

#: The content of a file once decompressed (gzip, or the parts of a workbook read): an upload may
#: be 1 GiB (UPLOAD_MAX_BYTES), and a compressed one may not unpack to more. Reading 1 GiB of
#: CSV or JSON takes one to three minutes, inside PrepareFile's 900 s.
MAX_UNCOMPRESSED_BYTES: Final = 1024 * MiB

#: Content over compressed size, for gzip and for each workbook part read. Order data compresses
#: 5 to 20 times (a sheet's XML up to 40); deflate tops out near 1,030, which only runs of one
#: byte (blank lines, whitespace, zeros) reach: a decompression bomb, not data.
MAX_COMPRESSION_RATIO: Final = 100

#: The ratio is judged once this much content is out, so that a small file's well-compressed
#: start is never mistaken for a bomb; a bomb is refused after decompressing this much.
RATIO_FLOOR: Final = 4 * MiB

#: Rows of a file: CSV and JSON Lines lines (blank ones included), the elements of a JSON list,
#: a sheet's rows present in its XML. Excel's own limit; a million orders is the largest file
#: the pipeline has been measured with (docs/benchmarks.md, "Speed, memory and cost").
MAX_ROWS: Final = 1_048_576

#: Columns of one row: a CSV record's fields, a sheet row's cells present, a header's width, a
#: JSON document's top-level members. An order has six fields; exports with a few hundred extra
#: columns are read, and a header this wide is still matched in well under a second.
MAX_COLUMNS: Final = 1_024

#: Cells of a whole file (CSV fields, sheet cells present): what a workbook costs to read is its
#: cells, some 300,000 a second; 20 million (about a minute) is 20 columns of a million rows.
MAX_CELLS: Final = 20_000_000

#: One row as read: a CSV record (in characters), a sheet row's XML, one JSON order and the
#: whitespace around it, one XML token or text. The chunk an order travels in holds 1 MB, and
#: DynamoDB stores at most 400 KB of an order: no order is this large.
MAX_ROW_BYTES: Final = MiB

#: A workbook as sent (after any gzip) is copied to the temporary disk to be read (a ZIP keeps
#: its directory at the end); Lambda's /tmp holds 512 MB. A million-row workbook is 30-60 MB.
MAX_WORKBOOK_BYTES: Final = 256 * MiB

#: Entries in a workbook's ZIP directory: Excel writes a few dozen; each costs memory to list
#: (zipfile keeps an object per entry). The directory may hold 256 bytes an entry allowed.
MAX_ZIP_ENTRIES: Final = 10_000

#: Every workbook part read other than a sheet and its shared strings (content types, relations,
#: workbook, styles), uncompressed. Excel's largest styles part (64,000 formats) is about 8 MB.
MAX_PART_BYTES: Final = 16 * MiB

#: A workbook's shared strings part, uncompressed, and how many strings it may hold: they are the
#: one thing read whole (a cell names its string by number), kept as UTF-8 in one buffer with a
#: 4-byte offset each, so at most about 150 MB. Two million unique strings is two unique text
#: columns of a million rows.
MAX_SHARED_STRINGS_BYTES: Final = 128 * MiB
MAX_SHARED_STRINGS: Final = 4_194_304

#: Rows that cannot be read as orders (a CSV row with too many fields, a line that is not JSON,
#: a value beyond a sheet's header): each costs a chunk record and a dead-letter message. Past
#: this many, a file must hold more orders than such rows, or it is not the table it looks
#: like (a wrong delimiter, a shifted sheet) and is refused before it writes work for nothing.
MAX_ROW_ERRORS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits one read is held to (the module's constants, unless a test lowers them)."""

    uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
    compression_ratio: int = MAX_COMPRESSION_RATIO
    ratio_floor: int = RATIO_FLOOR
    rows: int = MAX_ROWS
    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS
    row_bytes: int = MAX_ROW_BYTES
    workbook_bytes: int = MAX_WORKBOOK_BYTES
    zip_entries: int = MAX_ZIP_ENTRIES
    part_bytes: int = MAX_PART_BYTES
    shared_strings_bytes: int = MAX_SHARED_STRINGS_BYTES
    shared_strings: int = MAX_SHARED_STRINGS
    row_errors: int = MAX_ROW_ERRORS


DEFAULT: Final = Budget()

_SPLIT: Final = "split it into smaller files, or send the orders alone"


def size(count: int) -> str:
    """`1 GiB`, `16 MiB`, `300 KiB`, `512 bytes`: a limit as people read it."""
    for unit, name in ((1024 * MiB, "GiB"), (MiB, "MiB"), (1024, "KiB")):
        if count >= unit:
            value = count / unit
            return f"{value:.0f} {name}" if value == int(value) else f"{value:.1f} {name}"
    return f"{count} bytes"


class Meter:
    """What reading one file has cost so far, against its `Budget`.

    The readers count in their own loops where a count is per row or per cell (a method call
    per cell would cost more than the cell); they call the `too_many_*` methods to refuse, so
    that every refusal says the same thing in the same words.
    """

    def __init__(self, budget: Budget = DEFAULT) -> None:
        self.budget = budget
        self.errors = 0  # rows read that cannot be orders
        self.orders = 0  # rows read as orders

    # counted here ------------------------------------------------------------------------------

    def content(self, produced: int, consumed: int | None) -> None:
        """`produced` bytes of content so far, from `consumed` bytes of compressed data (None:
        the file is not compressed): refuses past the size or the ratio."""
        budget = self.budget
        if produced > budget.uncompressed_bytes:
            what = "once decompressed " if consumed is not None else ""
            raise UnreadableFile(
                "file.too_large_uncompressed",
                f"the file holds more than {size(budget.uncompressed_bytes)} {what}(the most "
                f"one file may hold): {_SPLIT}",
            )
        if consumed is not None and produced > budget.ratio_floor:
            self.ratio(produced, consumed, "the file")

    def ratio(self, produced: int, consumed: int, what: str) -> None:
        """Refuses `what` when `produced` bytes came from fewer than 1/ratio as many."""
        limit = self.budget.compression_ratio
        if produced > limit * max(consumed, 1):
            raise UnreadableFile(
                "file.compression_ratio",
                f"{what} unpacks to more than {limit} times its compressed size ({size(produced)}"
                f" from {size(consumed)}): that is padding (blank lines, whitespace, zeros), not "
                f"order data, and is not read; send the orders without the padding",
            )

    def record(self, failed: bool) -> None:
        """One record handed on: refuses once rows that cannot be orders pass the budget and
        outnumber the orders."""
        if not failed:
            self.orders += 1
            return
        self.errors += 1
        if self.errors > self.budget.row_errors and self.errors > self.orders:
            raise UnreadableFile(
                "file.too_many_row_errors",
                f"more than {self.budget.row_errors:,} rows of the file cannot be read as orders"
                f" (row.* codes), more than the {self.orders:,} that can: the file is not laid "
                "out as its header or format says (a wrong delimiter, values beyond the "
                "header's columns, lines that are not JSON), and is not read further; fix its "
                "layout and send it again",
            )

    # refusals ----------------------------------------------------------------------------------

    def too_many_rows(self) -> UnreadableFile:
        return UnreadableFile(
            "file.too_many_rows",
            f"the file has more than {self.budget.rows:,} rows (lines or list elements, blank "
            f"ones included; the most one file may have): {_SPLIT}",
        )

    def too_many_columns(self, where: str, count: int | None = None) -> UnreadableFile:
        found = f" ({count:,})" if count is not None else ""
        return UnreadableFile(
            "file.too_many_columns",
            f"{where} has more than {self.budget.columns:,} columns{found}, the most a row may "
            "have: send only the columns the orders need (a stray value far to the right of a "
            "sheet counts: clear it)",
        )

    def too_many_cells(self) -> UnreadableFile:
        return UnreadableFile(
            "file.too_many_cells",
            f"the file has more than {self.budget.cells:,} cells (values, empty ones written "
            f"in the file included), the most one file may have: {_SPLIT}, or send only the "
            "columns the orders need",
        )

    def row_too_large(self, where: str) -> UnreadableFile:
        return UnreadableFile(
            "file.row_too_large",
            f"{where} is larger than {size(self.budget.row_bytes)}, more than any order may be "
            "(a quoted field never closed, or padding): fix that row and send the file again",
        )

    def part_too_large(self, what: str, found: str, limit: str) -> UnreadableFile:
        return UnreadableFile(
            "file.workbook_part_too_large",
            f"the workbook's {what} holds {found}, more than the {limit} it may: the workbook is"
            " not read; save the sheet as CSV (gzip-compressed if large) and send that, or "
            "split the workbook",
        )

    def workbook_too_large(self) -> UnreadableFile:
        return UnreadableFile(
            "file.workbook_too_large",
            f"the workbook is larger than {size(self.budget.workbook_bytes)} (the temporary "
            "disk it is copied to while it is read): save the sheet as CSV (gzip-compressed) "
            "and send that, or split the workbook",
        )
