"""An .xlsx package read part by part with expat, each part within the file's `Budget`.

openpyxl's loader turns every part it knows into objects (a styles part of tiny elements into
millions of them), its read-only sheet keeps an element for every row read and pads a sparse
row to its last column (one cell in column XFD is 16,384 values), and its shared strings cost
some 250 bytes each. So the parts an order needs are read here instead, as a stream, keeping
only what is needed, with openpyxl's own rules for what a cell holds (its date formats and
conversions):

* before anything is opened, the ZIP directory's size (`check_directory`); before each part is
  read, its size and compression ratio as the directory declares them (zipfile never hands out
  more than the declared size: a part that lies fails its CRC check);
* `[Content_Types].xml`, the workbook's relations and the workbook itself (its sheets and their
  states, the 1904 date system), the styles (which cell formats are dates), each at most
  `part_bytes`;
* the shared strings, kept as UTF-8 in one buffer with an offset each (`SharedStrings`);
* the sheet, as a stream of rows of the cells present (`Package.rows`): a row costs its cells.
  A formula cell saved without its computed value (as a program that writes formulas but never
  calculates them leaves it) is `UNCALCULATED`, never an empty cell.

Every part is fed to expat 64 KiB at a time. A document type declaration (which no workbook
has, and which entity expansion needs) is refused; expat holds at most one token whole, and
no more than `row_bytes` may pass without an element starting, so a run of whitespace or an
endless tag costs no memory. Anything malformed raises `Damaged`.

Here: `Package`, which judges each part, feeds it to expat and reads the workbook's small parts
with the handlers of `xlsxparts` (which also holds `SharedStrings`); the sheet's rows are
`xlsxrows`'; the ZIP directory's check is `zipdirectory`'s. Their public names are re-exported.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final
from xml.parsers import expat

from chalicelib.orders.readers.budget import Meter, size
from chalicelib.orders.readers.xlsxparts import (
    MAX_ITEMS,
    SHARED_STRINGS_TYPE,
    WORKBOOK_TYPES,
    ContentTypes,
    Damaged,
    Handler,
    Relations,
    SharedStrings,
    StylesPart,
    TooMany,
    WorkbookPart,
)
from chalicelib.orders.readers.xlsxrows import UNCALCULATED, SheetRows, Uncalculated
from chalicelib.orders.readers.zipdirectory import check_directory

__all__ = [
    "UNCALCULATED",
    "Damaged",
    "Package",
    "SharedStrings",
    "Sheet",
    "Uncalculated",
    "check_directory",
]

PIECE: Final = 64 * 1024  # bytes of a part fed to expat at a time
_STYLES: Final = "xl/styles.xml"  # where openpyxl looks for them


@dataclass(frozen=True, slots=True)
class Sheet:
    """A worksheet the workbook lists: its name, `visible`/`hidden`/`veryHidden`, its part."""

    title: str
    sheet_state: str
    path: str


def _doctype(*_: Any) -> None:
    raise Damaged("the part declares a document type, which no workbook part does")


class Package:
    """The parts of one .xlsx package that an order needs."""

    def __init__(self, file: IO[bytes], meter: Meter) -> None:
        check_directory(file, meter)
        file.seek(0)
        self.meter = meter
        self.archive = zipfile.ZipFile(file)
        self.entries = {info.filename: info for info in self.archive.infolist()}
        self._read = 0  # uncompressed bytes of the parts read so far, as declared
        workbook_part, self.strings_path = self._content_types()
        relations = self._relations(workbook_part)
        self.sheets, self.epoch = self._workbook(workbook_part, relations)
        self.date_styles, self.timedelta_styles = self._styles()

    def close(self) -> None:
        self.archive.close()

    # parts --------------------------------------------------------------------------------------

    def _judge(self, name: str, what: str, limit: int | None) -> zipfile.ZipInfo:
        """The directory entry of a part, refused when it declares more than `limit` bytes
        (None: only the file's total applies), or a ratio past the budget."""
        info = self.entries.get(name)
        if info is None:
            raise Damaged(f"there is no item named {name!r} in the archive")
        meter = self.meter
        if info.file_size > meter.budget.ratio_floor:
            meter.ratio(info.file_size, info.compress_size, f"the workbook's {what} ({name})")
        if limit is not None and info.file_size > limit:
            raise meter.part_too_large(f"{what} ({name})", size(info.file_size), size(limit))
        meter.content(self._read + info.file_size, None)
        return info

    def _info(self, name: str, what: str, limit: int | None) -> zipfile.ZipInfo:
        """The directory entry of a part about to be read, judged and counted."""
        info = self._judge(name, what, limit)
        self._read += info.file_size
        return info

    def _feed(self, info: zipfile.ZipInfo, handler: Handler) -> Iterator[int]:
        """Feeds the part to expat; yields the bytes fed so far after each piece, for the
        caller to take what the handler collected."""
        parser = expat.ParserCreate(namespace_separator="}")
        parser.StartElementHandler = handler.start
        parser.EndElementHandler = handler.end
        parser.CharacterDataHandler = handler.data
        parser.StartDoctypeDeclHandler = _doctype
        parser.EntityDeclHandler = _doctype
        parser.buffer_text = True
        limit = self.meter.budget.row_bytes
        quiet = fed = 0  # bytes fed since an element last began, and in all
        seen = handler.starts
        with self.archive.open(info) as part:
            while piece := part.read(PIECE):
                parser.Parse(piece, False)
                fed += len(piece)
                if handler.starts != seen:
                    seen, quiet = handler.starts, 0
                else:
                    quiet += len(piece)
                    if quiet > limit:
                        raise self.meter.row_too_large(
                            f"a stretch of the workbook part {info.filename} without an "
                            "element (a value, a tag or whitespace)"
                        )
                yield fed
            parser.Parse(b"", True)
        yield fed

    def _parse(self, name: str, what: str, handler: Handler, limit: int | None = None) -> None:
        info = self._info(name, what, self.meter.budget.part_bytes if limit is None else limit)
        try:
            for _ in self._feed(info, handler):
                pass
        except TooMany as many:
            raise self.meter.part_too_large(
                f"{what} ({name})", f"more than {MAX_ITEMS:,} {many}", f"{MAX_ITEMS:,}"
            ) from many

    def _content_types(self) -> tuple[str, str | None]:
        """The workbook's part and the shared strings' part (None: there are none)."""
        types = ContentTypes()
        self._parse("[Content_Types].xml", "content types", types)
        for wanted in WORKBOOK_TYPES:
            if wanted in types.overrides:
                return types.overrides[wanted], types.overrides.get(SHARED_STRINGS_TYPE)
        if types.workbook_default:
            return "xl/workbook.xml", types.overrides.get(SHARED_STRINGS_TYPE)
        raise Damaged("File contains no valid workbook part")

    def _relations(self, part: str) -> dict[str, tuple[str, str]]:
        """The part's relations: id -> (target part, type)."""
        folder, name = posixpath.split(part)
        relations = Relations(folder)
        path = posixpath.join(folder, "_rels", f"{name}.rels")
        self._parse(path, "relations", relations)
        return relations.found

    def _workbook(
        self, part: str, relations: dict[str, tuple[str, str]]
    ) -> tuple[list[Sheet], bool]:
        """The worksheets (chart sheets and sheets without a part left out) and whether the
        workbook counts dates from 1904."""
        workbook = WorkbookPart()
        self._parse(part, "workbook", workbook)
        sheets = []
        for title, state, rid in workbook.sheets:
            if not rid:
                continue
            if rid not in relations:
                raise Damaged(f"the sheet {title!r} names the relation {rid!r}, which is absent")
            target, kind = relations[rid]
            if target in self.entries and "chartsheet" not in kind:
                sheets.append(Sheet(title, state, target))
        return sheets, workbook.date1904

    def _styles(self) -> tuple[bytearray, bytearray]:
        """Per cell format (a cell's `s`): 1 where it shows a date, and where a duration."""
        if _STYLES not in self.entries:
            return bytearray(), bytearray()
        styles = StylesPart()
        self._parse(_STYLES, "styles", styles)
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

        dates, durations = bytearray(len(styles.formats)), bytearray(len(styles.formats))
        known: dict[int, tuple[bool, bool]] = {}
        for index, number_format in enumerate(styles.formats):
            if number_format not in known:
                code = styles.codes.get(number_format, BUILTIN_FORMATS.get(number_format))
                known[number_format] = (is_date_format(code), is_timedelta_format(code))
            dates[index], durations[index] = known[number_format]
        return dates, durations

    # the sheet -----------------------------------------------------------------------------------

    def shared_strings(self, sheet: Sheet) -> SharedStrings:
        """The shared strings, read whole (after the sheet's own size and ratio are judged,
        so that a bomb in the sheet is refused before any time is spent)."""
        budget = self.meter.budget
        self._judge(sheet.path, f'sheet "{sheet.title}"', None)
        strings = SharedStrings(self.meter)
        if self.strings_path is not None:
            self._parse(self.strings_path, "shared strings", strings, budget.shared_strings_bytes)
        return strings

    def rows(self, sheet: Sheet, strings: SharedStrings) -> Iterator[tuple[int, list[Any]]]:
        """(row number, [(column index from 0, value), ...]) for each row with a cell that
        holds something, in the order of the sheet; values are what openpyxl reads (with
        `data_only`): str, int, float, bool, datetime, date, time, timedelta."""
        budget = self.meter.budget
        info = self._info(sheet.path, f'sheet "{sheet.title}"', None)
        rows = SheetRows(self, strings)
        for fed in self._feed(info, rows):
            if rows.started >= 0 and fed - rows.started > budget.row_bytes:
                raise self.meter.row_too_large(f"row {rows.number} of the sheet (its XML)")
            rows.fed = fed
            if rows.ready:
                yield from rows.ready
                rows.ready.clear()
