"""An .xlsx workbook: the first sheet, or the one the mapping names; a header row, then one order
per row, `row` = the row number Excel shows.

The workbook is read with openpyxl in read-only mode: rows are parsed from the sheet's XML as
they are needed, so memory stays flat however long the sheet (openpyxl is imported only when a
workbook arrives, so reading any other format does not pay for its import). A ZIP archive
needs its directory at the end, so the file is first copied to a temporary file.

Cells come as Excel holds them and become the text a CSV export would hold: a whole number
(`3`, or `3.0` as Excel stores every number) is `"3"`, so it is a valid qty and a valid
OrderId `"1001"`; other numbers keep Excel's 15 significant digits; TRUE and FALSE are
`"TRUE"` and `"FALSE"`; a date is ISO 8601 (`2024-05-01`, with the time if it has one); a
formula is its value as last calculated. Blank rows are skipped; cells right of the header's
last column must be empty (`row.field_count` otherwise). A whole number of 2**53 or more
(an OrderId of 20 digits typed into a number cell) was not kept exactly by the workbook, so its
row is refused (`row.inexact_number`) rather than read as digits nobody typed.
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Final
from xml.etree.ElementTree import ParseError

from chalicelib.orders.readers.columns import ColumnMapping, Columns
from chalicelib.orders.readers.facts import FileFacts
from chalicelib.orders.records import FieldError, Record, UnreadableFile

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = ["cell_text", "read_xlsx"]

# What openpyxl raises for a workbook whose parts are missing or malformed.
_DAMAGED = (zipfile.BadZipFile, ParseError, KeyError, ValueError, TypeError, IndexError, OSError)


def read_xlsx(file: IO[bytes], mapping: ColumnMapping | None, facts: FileFacts) -> Iterator[Record]:
    """The records of the workbook in `file` (seekable); `facts.sheet` and `facts.columns` are
    filled in once they are known."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except _DAMAGED as exc:
        raise _damaged(exc) from exc
    try:
        sheet = _sheet(workbook, mapping.sheet if mapping else None)
        facts.sheet = sheet.title
        yield from _rows(sheet, mapping, facts)
    except _DAMAGED as exc:
        raise _damaged(exc) from exc
    finally:
        workbook.close()


def _sheet(workbook: Workbook, name: str | None) -> Any:  # a ReadOnlyWorksheet (untyped)
    sheets: list[Any] = list(workbook.worksheets)
    names = ", ".join(f'"{sheet.title}"' for sheet in sheets)
    if name is not None:
        for sheet in sheets:
            if sheet.title == name or sheet.title.strip().casefold() == name.strip().casefold():
                return sheet
        raise UnreadableFile(
            "file.sheet_not_found",
            f'the workbook has no sheet named "{name}" (its sheets: {names or "none"}); fix '
            "the sheet name in the mapping, or leave it out to read the first sheet",
        )
    visible = [sheet for sheet in sheets if sheet.sheet_state == "visible"] or sheets
    if not visible:
        raise UnreadableFile("file.invalid_xlsx", "the workbook has no worksheet to read")
    return visible[0]


def _rows(sheet: Any, mapping: ColumnMapping | None, facts: FileFacts) -> Iterator[Record]:
    sheet.reset_dimensions()  # the stored dimensions may be wrong: read every row there is
    columns: Columns | None = None
    records = 0
    # Rows come from row 1 on, a blank one for every row the file leaves out, so the count is
    # the row number Excel shows.
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        values = [cell_text(cell) for cell in cells]
        if not any(value.strip() for value in values):
            continue
        if columns is None:
            while values and not values[-1].strip():
                values.pop()
            where = f'header found in row {number} of sheet "{sheet.title}"'
            columns = Columns(values, where, mapping)
            facts.columns.update(columns.found)
            continue
        records += 1
        inexact = _inexact(cells, columns.width)
        if inexact is not None:
            yield Record(number, values, _inexact_error(number, *inexact))
            continue
        yield _record(number, values, columns)
    if columns is None:
        raise UnreadableFile(
            "file.empty", f'the file contains no orders: the sheet "{sheet.title}" is empty'
        )
    if not records:
        raise UnreadableFile(
            "file.empty",
            f'the file contains no orders: the sheet "{sheet.title}" has a header row but no '
            "data rows",
        )


def _record(number: int, values: list[str], columns: Columns) -> Record:
    width = columns.width
    beyond = [index for index, value in enumerate(values[width:], width) if value.strip()]
    if beyond:
        message = (
            f"row {number} has a value in column {_column_letter(beyond[0])}, right of the "
            f"header's last column {_column_letter(width - 1)}"
        )
        return Record(number, values, FieldError("row", "row.field_count", message, None))
    return Record(number, columns.order(_padded(values, width)))


# Above 2**53 a float no longer holds every whole number: Excel keeps 15 significant digits, so
# 12345678901234567890 is stored as 1.2345678901234567e19, whose digits were never sent.
_EXACT_LIMIT: Final = 2**53


def _inexact(cells: Sequence[Any], width: int) -> tuple[int, float] | None:
    """The first cell (index, value) within the header's columns holding a whole number too
    large for the workbook to have kept exactly, if any."""
    for index, cell in enumerate(cells[:width]):
        if isinstance(cell, float) and cell.is_integer() and abs(cell) >= _EXACT_LIMIT:
            return index, cell
    return None


def _inexact_error(number: int, index: int, value: float) -> FieldError:
    shown = f"{value:.15g}"
    message = (
        f"row {number}, column {_column_letter(index)}: the number {shown} is too large for a"
        " spreadsheet to hold exactly (it keeps 15 significant digits, so the digits read back"
        " are not the ones typed); format the column as Text in the workbook and type the value"
        " again, or send a CSV"
    )
    return FieldError("row", "row.inexact_number", message, shown)


def _padded(values: Sequence[str], width: int) -> list[str]:
    return [*values[:width], *([""] * (width - len(values)))]


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV export of it would hold (see the module's rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime.datetime):
        has_time = value.time() != datetime.time()
        return value.isoformat(sep=" ") if has_time else value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _damaged(exc: Exception) -> UnreadableFile:
    return UnreadableFile(
        "file.invalid_xlsx",
        f"the file is an .xlsx workbook that cannot be read ({type(exc).__name__}: {exc}): it "
        "is damaged or was not written completely; open it in Excel and save it again",
    )
