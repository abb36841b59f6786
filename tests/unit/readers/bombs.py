"""File bombs, made on the spot (none is committed), and what reading one costs.

Each maker returns the bytes an attacker would upload; `cost` reads them as PrepareFile does and
measures the peak of Python's allocations (tracemalloc), the peak of the process's resident
memory above where it stood (Linux: VmHWM, reset through /proc/self/clear_refs) and the time.
"""

from __future__ import annotations

import gzip
import io
import re
import time
import tracemalloc
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.orders.readers import DEFAULT, Budget, read_records
from chalicelib.orders.records import Record, UnreadableFile
from tests.unit.readers.support import FIELDS_HEADER, workbook

MiB = 1024 * 1024
GiB = 1024 * MiB

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}"><sheetData>'
SHEET_TAIL = "</sheetData></worksheet>"


@dataclass
class Cost:
    """What reading a file came to: the refusal's code (None: read to its end), the records
    handed out before, the peak traced allocations, the peak RSS growth and the seconds."""

    code: str | None
    message: str
    records: list[Record] = field(repr=False)
    peak: int  # bytes
    rss_growth: int | None  # bytes; None where /proc cannot tell
    seconds: float

    def __str__(self) -> str:
        rss = "?" if self.rss_growth is None else f"{self.rss_growth / MiB:.1f} MiB"
        return (
            f"{self.code}: {len(self.records)} records, peak traced {self.peak / MiB:.1f} MiB, "
            f"peak RSS growth {rss}, {self.seconds:.2f} s"
        )


def cost(data: bytes, key: str, budget: Budget = DEFAULT) -> Cost:
    """Reads `data` (named `key`) to its end or its refusal twice: once as it is, timed, with
    the process's peak RSS watched, and once with Python's allocations traced (which slows
    allocation-heavy code several times over)."""
    rss_before = _reset_rss_peak()
    started = time.perf_counter()
    records, code, message = _read(data, key, budget)
    seconds = time.perf_counter() - started
    rss_growth = None if rss_before is None else _rss_peak() - rss_before
    tracemalloc.start()
    _read(data, key, budget)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return Cost(code, message, records, peak, rss_growth, seconds)


def _read(data: bytes, key: str, budget: Budget) -> tuple[list[Record], str | None, str]:
    records: list[Record] = []
    try:
        # keep only the first records: a reader that holds nothing must not be charged for ours
        for record in read_records(io.BytesIO(data), key, budget=budget):
            if len(records) < 100:
                records.append(record)
    except UnreadableFile as refused:
        return records, refused.code, refused.message
    return records, None, ""


def _status(name: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{name}:\s+(\d+) kB", text, flags=re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _reset_rss_peak() -> int | None:
    """Sets the peak RSS to the RSS now (Linux 4.0 and later); None where that cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status("VmRSS")


def _rss_peak() -> int:
    return _status("VmHWM") or 0


# makers -----------------------------------------------------------------------------------------


def gzip_of(first: bytes, filler: bytes, total: int) -> bytes:
    """A gzip file of `first`, then `filler` repeated up to `total` bytes of content: as gzip
    members one after another (a gzip reader reads them as one stream), each compressed once."""
    piece = 16 * MiB
    head = gzip.compress(first + filler * ((piece - len(first)) // len(filler)), 9)
    member = gzip.compress(filler * (piece // len(filler)), 9)
    return head + member * (total // piece - 1)


def cell(column: str, row: int, text: str) -> str:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row(row: int = 1) -> str:
    cells = "".join(cell(chr(ord("A") + i), row, name) for i, name in enumerate(FIELDS_HEADER))
    return f'<row r="{row}">{cells}</row>'


def order_row(row: int) -> str:
    values = [str(row), "101", "Item One", "1", "Foo Bar", f"buyer{row}@example.com"]
    cells = "".join(cell(chr(ord("A") + i), row, value) for i, value in enumerate(values))
    return f'<row r="{row}">{cells}</row>'


def xlsx(
    sheet: Iterable[bytes],
    strings: Iterable[bytes] | None = None,
    *,
    level: int = 6,
    extra: Iterable[tuple[str, bytes]] = (),
) -> bytes:
    """A workbook (written by openpyxl, as Excel would) whose sheet's XML, and shared strings'
    XML if given, are replaced by the pieces given, streamed into the archive."""
    base = zipfile.ZipFile(io.BytesIO(workbook(("Sheet1", [["x"]]))))
    out = io.BytesIO()
    replaced = {"xl/worksheets/sheet1.xml": sheet}
    if strings is not None:
        replaced["xl/sharedStrings.xml"] = strings
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        for name in [*base.namelist(), *(name for name in replaced if name not in base.namelist())]:
            pieces = replaced.get(name)
            if pieces is None:
                data = base.read(name)
                if name == "[Content_Types].xml" and strings is not None:
                    data = data.replace(b"</Types>", _STRINGS_TYPE + b"</Types>")
                target.writestr(name, data)
                continue
            with target.open(name, "w") as part:
                for piece in pieces:
                    part.write(piece)
        for name, data in extra:
            target.writestr(name, data)
    return out.getvalue()


_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sharedStrings+xml" />'
)


def sheet_of(*parts: str | Iterator[bytes]) -> Iterator[bytes]:
    """The sheet's XML: its head, the parts (text, or pieces of bytes), its tail."""
    yield SHEET_HEAD.encode()
    for part in parts:
        if isinstance(part, str):
            yield part.encode()
        else:
            yield from part
    yield SHEET_TAIL.encode()


def repeated(piece: bytes, total: int) -> Iterator[bytes]:
    """`total` bytes of `piece` repeated, in blocks of 1 MiB or so."""
    block = piece * max(MiB // len(piece), 1)
    for _ in range(total // len(block)):
        yield block
