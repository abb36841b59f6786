"""The small parts of an .xlsx package, each read by an expat handler: the content types, a
part's relations, the workbook (its sheets, its date system), the styles (each cell format's
number format) and the shared strings.

Each handler keeps only what the workbook's reader needs, and refuses a part that lists more
items than `MAX_ITEMS` (`TooMany`, which `xlsx.Package` turns into the file's refusal). Anything
malformed is `Damaged`.
"""

from __future__ import annotations

import array
import posixpath
from typing import Final

from chalicelib.orders.readers.budget import Meter

__all__ = [
    "MAX_ITEMS",
    "ContentTypes",
    "Damaged",
    "Handler",
    "Relations",
    "SharedStrings",
    "StylesPart",
    "TooMany",
    "WorkbookPart",
]

MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL: Final = "http://schemas.openxmlformats.org/package/2006/relationships}"
TYPES: Final = "http://schemas.openxmlformats.org/package/2006/content-types}"
WORKBOOK_TYPES: Final = (  # in openpyxl's order of preference
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
)
SHARED_STRINGS_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
# Sheets, relations, cell formats or number formats one part may list: Excel's own limit on cell
# formats is 64,000, and each item listed is kept while the workbook is read.
MAX_ITEMS: Final = 65_536

# the shared strings' elements
SI: Final = MAIN + "si"
T: Final = MAIN + "t"
RPH: Final = MAIN + "rPh"


class Damaged(Exception):
    """The package or one of its parts is not what a workbook holds."""


class TooMany(Exception):
    """A part lists more items than `MAX_ITEMS` (the message names them)."""


def count_items(items: int, what: str) -> None:
    """Refuses a part at its `MAX_ITEMS`+1st item of a kind (`what`)."""
    if items > MAX_ITEMS:
        raise TooMany(what)


class Handler:
    """What a part's reader does with expat's events; `starts` counts elements begun."""

    starts = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1

    def end(self, name: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass


class ContentTypes(Handler):
    def __init__(self) -> None:
        self.overrides: dict[str, str] = {}  # content type -> its first part (those we need)
        self.workbook_default = False  # a default content type is a workbook's

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == TYPES + "Override":
            kind, part = attrs.get("ContentType", ""), attrs.get("PartName", "")
            if kind in WORKBOOK_TYPES or kind == SHARED_STRINGS_TYPE:
                self.overrides.setdefault(kind, part.removeprefix("/"))
        elif name == TYPES + "Default":
            self.workbook_default |= attrs.get("ContentType", "") in WORKBOOK_TYPES


class Relations(Handler):
    def __init__(self, base: str) -> None:
        self.base = base
        self.found: dict[str, tuple[str, str]] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name != PKG_REL + "Relationship" or attrs.get("TargetMode") == "External":
            return
        target = attrs.get("Target", "")
        if target.startswith("/"):
            target = target[1:]
        else:
            target = posixpath.normpath(posixpath.join(self.base, target))
        self.found[attrs.get("Id", "")] = (target, attrs.get("Type", ""))
        count_items(len(self.found), "relations")


class WorkbookPart(Handler):
    def __init__(self) -> None:
        self.sheets: list[tuple[str, str, str]] = []  # name, state, relation id
        self.date1904 = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == MAIN + "sheet":
            state = attrs.get("state", "visible")
            self.sheets.append((attrs.get("name", ""), state, attrs.get(REL + "id", "")))
            count_items(len(self.sheets), "sheets")
        elif name == MAIN + "workbookPr":
            self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")


class StylesPart(Handler):
    def __init__(self) -> None:
        self.codes: dict[int, str] = {}  # custom number formats: id -> format code
        self.formats = array.array("q")  # per cell format (`cellXfs`): its number format id
        self._in_cell_formats = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.starts += 1
        if name == MAIN + "xf":
            if self._in_cell_formats:
                self.formats.append(int(attrs.get("numFmtId", "0")))
                count_items(len(self.formats), "cell formats")
        elif name == MAIN + "cellXfs":
            self._in_cell_formats = True
        elif name == MAIN + "numFmt":
            self.codes[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            count_items(len(self.codes), "number formats")

    def end(self, name: str) -> None:
        if name == MAIN + "cellXfs":
            self._in_cell_formats = False


class SharedStrings(Handler):
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
        if name == T:
            if self._parts is not None and not self._depth:
                self._capture = self._parts
        elif name == SI:
            self._parts = []
        elif name == RPH:
            self._depth += 1

    def end(self, name: str) -> None:
        if name == T:
            self._capture = None
        elif name == SI and self._parts is not None:
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
        elif name == RPH:
            self._depth -= 1

    def data(self, text: str) -> None:
        if self._capture is not None:
            self._capture.append(text)
