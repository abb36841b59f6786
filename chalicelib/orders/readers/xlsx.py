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
"""

from __future__ import annotations

import array
import posixpath
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final
from xml.parsers import expat

from chalicelib.orders.readers.budget import Meter, size

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

_MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL: Final = "http://schemas.openxmlformats.org/package/2006/relationships}"
_TYPES: Final = "http://schemas.openxmlformats.org/package/2006/content-types}"
_WORKBOOK_TYPES: Final = (  # in openpyxl's order of preference
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
)
_SHARED_STRINGS_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_STYLES: Final = "xl/styles.xml"  # where openpyxl looks for them
# Sheets, relations, cell formats or number formats one part may list: Excel's own limit on cell
# formats is 64,000, and each item listed is kept while the workbook is read.
_MAX_ITEMS: Final = 65_536

# sheet elements
_ROW: Final = _MAIN + "row"
_C: Final = _MAIN + "c"
_V: Final = _MAIN + "v"
_F: Final = _MAIN + "f"
_IS: Final = _MAIN + "is"
_T: Final = _MAIN + "t"
_RPH: Final = _MAIN + "rPh"
_SI: Final = _MAIN + "si"


class Uncalculated:
    """What a formula cell saved without its computed value holds (see `UNCALCULATED`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCALCULATED"


#: The value of a cell with a formula (`<f>`) and no value (`<v>` absent, or empty when the
#: formula's result is not text): the program that wrote the workbook never calculated it.
UNCALCULATED: Final = Uncalculated()


class Damaged(Exception):
    """The package or one of its parts is not what a workbook holds."""


class _TooMany(Exception):
    """A part lists more items than `_MAX_ITEMS` (the message names them)."""


def _count(items: int, what: str) -> None:
    if items > _MAX_ITEMS:
        raise _TooMany(what)


@dataclass(frozen=True, slots=True)
class Sheet:
    """A worksheet the workbook lists: its name, `visible`/`hidden`/`veryHidden`, its part."""

    title: str
    sheet_state: str
    path: str


# the ZIP directory ------------------------------------------------------------------------------

_EOCD: Final = struct.Struct("<4s4H2LH")
_DIRECTORY_ENTRY_BYTES: Final = 256  # an entry of the ZIP directory: 46 bytes, and its name
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_EOCD: Final = struct.Struct("<4sQ2H2L4Q")


def check_directory(file: IO[bytes], meter: Meter) -> None:
    """Refuses a ZIP whose directory lists more entries than a workbook may have, or is larger
    than a part may be, before zipfile reads it (it keeps an object per entry). The directory's
    end is found as zipfile finds it (the last end record, and the ZIP64 record just before it
    when a ZIP64 locator is there). A file without one is left to zipfile to refuse."""
    file.seek(0, 2)
    end = file.tell()
    tail_at = max(end - (_EOCD.size + 65535), 0)
    file.seek(tail_at)
    tail = file.read()
    last = len(tail) - _EOCD.size  # an end record without a comment, which zipfile tries first
    if last >= 0 and tail.startswith(b"PK\x05\x06", last) and tail.endswith(b"\0\0"):
        at = last
    else:
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return
    fields = _EOCD.unpack_from(tail, at)
    entries, directory = fields[4], fields[5]
    locator_at = tail_at + at - _ZIP64_LOCATOR.size
    if locator_at >= _ZIP64_EOCD.size:
        file.seek(locator_at - _ZIP64_EOCD.size)
        record = file.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
        if record[_ZIP64_EOCD.size :].startswith(b"PK\x06\x07"):
            zip64 = _ZIP64_EOCD.unpack_from(record)
            entries, directory = max(entries, zip64[6], zip64[7]), max(directory, zip64[8])
    budget = meter.budget
    if entries > budget.zip_entries:
        raise meter.part_too_large(
            "ZIP directory", f"{entries:,} entries", f"{budget.zip_entries:,}"
        )
    # zipfile lists every entry the directory's bytes hold (46 bytes and a name each), whatever
    # count the end record gives: the bytes are bounded by what the entries allowed may need
    if directory > budget.zip_entries * _DIRECTORY_ENTRY_BYTES:
        limit = size(budget.zip_entries * _DIRECTORY_ENTRY_BYTES)
        raise meter.part_too_large("ZIP directory", size(directory), limit)


# feeding expat ----------------------------------------------------------------------------------


class _Handler:
    """What a part's reader does with expat's events; `starts` counts elements begun."""

    starts = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1

    def end(self, name: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass


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

    def _feed(self, info: zipfile.ZipInfo, handler: _Handler) -> Iterator[int]:
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

    def _parse(self, name: str, what: str, handler: _Handler, limit: int | None = None) -> None:
        info = self._info(name, what, self.meter.budget.part_bytes if limit is None else limit)
        try:
            for _ in self._feed(info, handler):
                pass
        except _TooMany as many:
            raise self.meter.part_too_large(
                f"{what} ({name})", f"more than {_MAX_ITEMS:,} {many}", f"{_MAX_ITEMS:,}"
            ) from many

    def _content_types(self) -> tuple[str, str | None]:
        """The workbook's part and the shared strings' part (None: there are none)."""
        types = _ContentTypes()
        self._parse("[Content_Types].xml", "content types", types)
        for wanted in _WORKBOOK_TYPES:
            if wanted in types.overrides:
                return types.overrides[wanted], types.overrides.get(_SHARED_STRINGS_TYPE)
        if types.workbook_default:
            return "xl/workbook.xml", types.overrides.get(_SHARED_STRINGS_TYPE)
        raise Damaged("File contains no valid workbook part")

    def _relations(self, part: str) -> dict[str, tuple[str, str]]:
        """The part's relations: id -> (target part, type)."""
        folder, name = posixpath.split(part)
        relations = _Relations(folder)
        path = posixpath.join(folder, "_rels", f"{name}.rels")
        self._parse(path, "relations", relations)
        return relations.found

    def _workbook(
        self, part: str, relations: dict[str, tuple[str, str]]
    ) -> tuple[list[Sheet], bool]:
        """The worksheets (chart sheets and sheets without a part left out) and whether the
        workbook counts dates from 1904."""
        workbook = _Workbook()
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
        styles = _Styles()
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
        rows = _SheetRows(self, strings)
        for fed in self._feed(info, rows):
            if rows.started >= 0 and fed - rows.started > budget.row_bytes:
                raise self.meter.row_too_large(f"row {rows.number} of the sheet (its XML)")
            rows.fed = fed
            if rows.ready:
                yield from rows.ready
                rows.ready.clear()


# the parts' readers -----------------------------------------------------------------------------


class _ContentTypes(_Handler):
    def __init__(self) -> None:
        self.overrides: dict[str, str] = {}  # content type -> its first part (those we need)
        self.workbook_default = False  # a default content type is a workbook's

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == _TYPES + "Override":
            kind, part = attrs.get("ContentType", ""), attrs.get("PartName", "")
            if kind in _WORKBOOK_TYPES or kind == _SHARED_STRINGS_TYPE:
                self.overrides.setdefault(kind, part.removeprefix("/"))
        elif name == _TYPES + "Default":
            self.workbook_default |= attrs.get("ContentType", "") in _WORKBOOK_TYPES


class _Relations(_Handler):
    def __init__(self, base: str) -> None:
        self.base = base
        self.found: dict[str, tuple[str, str]] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name != _PKG_REL + "Relationship" or attrs.get("TargetMode") == "External":
            return
        target = attrs.get("Target", "")
        if target.startswith("/"):
            target = target[1:]
        else:
            target = posixpath.normpath(posixpath.join(self.base, target))
        self.found[attrs.get("Id", "")] = (target, attrs.get("Type", ""))
        _count(len(self.found), "relations")


class _Workbook(_Handler):
    def __init__(self) -> None:
        self.sheets: list[tuple[str, str, str]] = []  # name, state, relation id
        self.date1904 = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == _MAIN + "sheet":
            state = attrs.get("state", "visible")
            self.sheets.append((attrs.get("name", ""), state, attrs.get(_REL + "id", "")))
            _count(len(self.sheets), "sheets")
        elif name == _MAIN + "workbookPr":
            self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")


class _Styles(_Handler):
    def __init__(self) -> None:
        self.codes: dict[int, str] = {}  # custom number formats: id -> format code
        self.formats = array.array("q")  # per cell format (`cellXfs`): its number format id
        self._in_cell_formats = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == _MAIN + "xf":
            if self._in_cell_formats:
                self.formats.append(int(attrs.get("numFmtId", "0")))
                _count(len(self.formats), "cell formats")
        elif name == _MAIN + "cellXfs":
            self._in_cell_formats = True
        elif name == _MAIN + "numFmt":
            self.codes[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            _count(len(self.codes), "number formats")

    def end(self, name: str) -> None:
        if name == _MAIN + "cellXfs":
            self._in_cell_formats = False


class SharedStrings(_Handler):
    """The shared strings: the text of each, as UTF-8 in one buffer, and where each starts.

    `strings[i]` is string i (as openpyxl reads it: plain and rich text runs joined, phonetic
    runs left out); a number past the end raises IndexError.
    """

    def __init__(self, meter: Meter) -> None:
        self._meter = meter
        self._text = bytearray()
        self._starts = array.array("I" if meter.budget.shared_strings_bytes < 2**32 else "Q", [0])
        self._limit = meter.budget.shared_strings + 1  # entries of `_starts` at most
        self._parts: list[str] | None = None  # the texts of the string being read
        self._depth = 0  # inside a phonetic run (rPh) when > 0
        self._capture: list[str] | None = None

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < len(self._starts) - 1:
            raise IndexError(f"shared string {index} of {len(self._starts) - 1}")
        return self._text[self._starts[index] : self._starts[index + 1]].decode()

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == _T:
            if self._parts is not None and not self._depth:
                self._capture = self._parts
        elif name == _SI:
            self._parts = []
        elif name == _RPH:
            self._depth += 1

    def end(self, name: str) -> None:
        if name == _T:
            self._capture = None
        elif name == _SI and self._parts is not None:
            parts, self._parts = self._parts, None
            text = parts[0] if len(parts) == 1 else "".join(parts)
            if "x005F_" in text:
                text = text.replace("x005F_", "")  # as openpyxl reads it
            self._text += text.encode("utf-8", "surrogatepass")
            self._starts.append(len(self._text))
            if len(self._starts) > self._limit:
                limit = self._meter.budget.shared_strings
                raise self._meter.part_too_large(
                    "shared strings", f"more than {limit:,} strings", f"{limit:,}"
                )
        elif name == _RPH:
            self._depth -= 1

    def data(self, text: str) -> None:
        if self._capture is not None:
            self._capture.append(text)


def _cast_number(text: str) -> int | float:
    """As openpyxl reads a number cell."""
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


_LETTERS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    """The column (from 0) of a cell reference such as `B12` or `$XFD$3`."""
    letters = ref.rstrip("0123456789").replace("$", "").upper()
    if not _LETTERS:
        from openpyxl.utils.cell import get_column_letter

        _LETTERS.update((get_column_letter(n), n - 1) for n in range(1, 16385))
    index = _LETTERS.get(letters)
    if index is None:
        raise Damaged(f"{ref!r} is not a cell reference")
    return index


class _SheetRows(_Handler):
    """A sheet's rows as expat reads them: `ready` holds the rows finished so far."""

    def __init__(self, package: Package, strings: SharedStrings) -> None:
        from openpyxl.utils.datetime import (
            CALENDAR_MAC_1904,
            CALENDAR_WINDOWS_1900,
            from_excel,
            from_ISO8601,
        )

        self._from_excel: Callable[..., Any] = from_excel
        self._from_iso: Callable[[str], Any] = from_ISO8601
        self._epoch = CALENDAR_MAC_1904 if package.epoch else CALENDAR_WINDOWS_1900
        self._dates = package.date_styles
        self._durations = package.timedelta_styles
        self._strings = strings
        budget = package.meter.budget
        self._meter = package.meter
        self._max_rows, self._max_columns, self._max_cells = (
            budget.rows,
            budget.columns,
            budget.cells,
        )
        self.ready: list[tuple[int, list[Any]]] = []
        self.fed = 0  # bytes fed before the current piece
        self.started = -1  # `fed` when the row being read began (-1: between rows)
        self.number = 0  # the row being read (or last read)
        self._last = 0  # the last row handed on
        self._rows = 0  # rows in the sheet so far
        self._cells = 0  # cells in the sheet so far
        self._row: list[Any] = []  # (column, value) of the row being read
        self._in_row = 0  # cells of the row being read
        self._column = -1
        self._kind = "n"
        self._style = 0
        self._value: list[str] | None = None  # the text of <v>, while inside it
        self._formula = False  # the cell has a formula (<f>)
        self._inline: list[str] | None = None  # the texts of <is>, while inside the cell
        self._capture: list[str] | None = None  # where text goes now
        self._phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == _C:
            self._in_row += 1
            if self._in_row > self._max_columns:
                raise self._meter.too_many_columns(f"row {self.number} of the sheet")
            self._cells += 1
            if self._cells > self._max_cells:
                raise self._meter.too_many_cells()
            ref = attrs.get("r")
            self._column = _column_index(ref) if ref else self._column + 1
            self._kind = attrs.get("t", "n")
            style = attrs.get("s")
            self._style = int(style) if style else 0
            self._value = self._inline = None
            self._formula = False
        elif name == _F:
            self._formula = True
        elif name == _V:
            self._capture = self._value = []
        elif name == _ROW:
            self._rows += 1
            if self._rows > self._max_rows:
                raise self._meter.too_many_rows()
            number = attrs.get("r")
            self.number = int(number) if number else self.number + 1
            self._row, self._in_row, self._column = [], 0, -1
            self.started = self.fed
        elif name == _IS:
            self._inline = []
        elif name == _T:
            if self._inline is not None and not self._phonetic:
                self._capture = self._inline
        elif name == _RPH:
            self._phonetic += 1

    def end(self, name: str) -> None:
        if name == _C:
            value = self._cell()
            if value is not None:
                self._row.append((self._column, value))
        elif name in (_V, _T):
            self._capture = None
        elif name == _ROW:
            self.started = -1
            if self._row and self.number > self._last:
                self._last = self.number
                self.ready.append((self.number, self._row))
        elif name == _RPH:
            self._phonetic -= 1

    def data(self, text: str) -> None:
        if self._capture is not None:
            self._capture.append(text)

    def _cell(self) -> Any:
        """The value of the cell just read, as openpyxl reads it (`WorkSheetParser.parse_cell`
        with `data_only`)."""
        kind = self._kind
        if kind == "inlineStr":
            return None if self._inline is None else "".join(self._inline)
        if not self._value:
            # a formula computed to "" keeps an empty text value; otherwise nothing was computed
            if self._formula and (self._value is None or kind != "str"):
                return UNCALCULATED
            return None
        text = "".join(self._value)
        if not text:
            return None
        if kind == "n":
            number = _cast_number(text)
            style = self._style
            if style < len(self._dates) and self._dates[style]:
                timedelta = style < len(self._durations) and bool(self._durations[style])
                try:
                    return self._from_excel(number, self._epoch, timedelta=timedelta)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if kind == "s":
            return self._strings[int(text)]
        if kind == "b":
            return bool(int(text))
        if kind == "d":
            return self._from_iso(text)
        return text  # "str" (a formula's text), "e" (an error such as #N/A)
