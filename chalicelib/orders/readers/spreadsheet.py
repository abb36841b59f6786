"""An .xlsx workbook: the first sheet, or the one the mapping names; a header row, then one order
per row, `row` = the row number Excel shows.

The workbook is read part by part as a stream (`xlsx`), within the file's budget: rows are
parsed from the sheet's XML as they are needed, so memory stays flat however long the sheet, and
a row costs the cells it holds (a single value in column XFD is one cell, not 16,384). A ZIP
archive needs its directory at the end, so the file is first copied to a temporary file.

Cells come as Excel holds them and become the text a CSV export would hold: a whole number
(`3`, or `3.0` as Excel stores every number) is `"3"`, so it is a valid qty and a valid
OrderId `"1001"`; other numbers keep Excel's 15 significant digits; TRUE and FALSE are
`"TRUE"` and `"FALSE"`; a date is ISO 8601 (`2024-05-01`, with the time if it has one); a
formula is its value as last calculated (openpyxl's rules, as its read-only reader applies
them), and a formula saved without a calculated value refuses its row
(`row.formula_without_value`) rather than being read as an empty cell. Blank rows are skipped;
cells right of the header's last column must be empty
(`row.field_count` otherwise: the record then holds the row's values up to its last one, or,
for a value far right of the header, the header's columns and a few values beyond them, never
the thousands of empty columns between). A whole number of 2**53 or more
(an OrderId of 20 digits typed into a number cell) was not kept exactly by the workbook, so its
row is refused (`row.inexact_number`) rather than read as digits nobody typed. A column whose
header cell is empty is ignored; a value under it is its row's `row.value_without_header`. The
header is the first row that matches the order's fields within the first `HEADER_SEARCH_ROWS`
rows (title rows above it are skipped), or the first non-blank one from the mapping's
`header_row` on.
"""

from __future__ import annotations

import datetime
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from functools import partial
from typing import IO, Any, Final
from xml.parsers import expat

from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.columns import ColumnMapping, Columns, HeaderSearch
from chalicelib.orders.readers.facts import FileFacts
from chalicelib.orders.readers.xlsx import UNCALCULATED, Damaged, Package, Sheet
from chalicelib.orders.records import FieldError, Record, UnreadableFile

__all__ = ["cell_text", "read_xlsx"]

# What a workbook whose parts are missing or malformed raises while it is read.
_DAMAGED = (
    Damaged,
    zipfile.BadZipFile,
    expat.ExpatError,
    zlib.error,
    struct.error,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    OverflowError,
    OSError,
    EOFError,
    RuntimeError,  # zipfile: an encrypted part
    NotImplementedError,  # zipfile: a compression method it does not know
)
# A row whose last value lies this far right of the header keeps only its values beyond the
# header (at most `_SHOWN_BEYOND` of them), not the empty columns between.
_DENSE_BEYOND: Final = 64
_SHOWN_BEYOND: Final = 16


def read_xlsx(
    file: IO[bytes], mapping: ColumnMapping | None, facts: FileFacts, meter: Meter
) -> Iterator[Record]:
    """The records of the workbook in `file` (seekable); `facts.sheet` and `facts.columns` are
    filled in once they are known."""
    try:
        package = Package(file, meter)
    except _DAMAGED as exc:
        raise _damaged(exc) from exc
    try:
        sheet = _sheet(package.sheets, mapping.sheet if mapping else None)
        facts.sheet = sheet.title
        strings = package.shared_strings(sheet)
        yield from _rows(package.rows(sheet, strings), sheet.title, mapping, facts, meter)
    except _DAMAGED as exc:
        raise _damaged(exc) from exc
    finally:
        package.close()


def _sheet(sheets: list[Sheet], name: str | None) -> Sheet:
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


def _rows(
    rows: Iterable[tuple[int, list[Any]]],
    sheet: str,
    mapping: ColumnMapping | None,
    facts: FileFacts,
    meter: Meter,
) -> Iterator[Record]:
    columns: Columns | None = None
    search = HeaderSearch(mapping, facts)
    records = 0
    # Rows come with Excel's row numbers, each with the cells it holds: (column, value).
    for number, cells in rows:
        texts = [cell_text(value) for _, value in cells]
        if not any(text.strip() for text in texts) and not any(
            value is UNCALCULATED for _, value in cells
        ):
            continue
        if columns is None:
            header = partial(_header, number, cells, texts, sheet, mapping, meter)
            columns = search.look(number, header)
            continue
        records += 1
        yield _record(number, cells, texts, columns)
    if columns is None:
        if search.title is not None:
            raise search.refused(search.title)
        raise UnreadableFile(
            "file.empty", f'the file contains no orders: the sheet "{sheet}" is empty'
        )
    if not records:
        raise UnreadableFile(
            "file.empty",
            f'the file contains no orders: the sheet "{sheet}" has a header row but no data rows',
        )


def _header(
    number: int,
    cells: list[Any],
    texts: list[str],
    title: str,
    mapping: ColumnMapping | None,
    meter: Meter,
) -> Columns:
    """The header row: up to its last cell that holds something."""
    width = 1 + max(column for (column, _), text in zip(cells, texts, strict=True) if text.strip())
    where = f'header found in row {number} of sheet "{title}"'
    if width > meter.budget.columns:
        raise meter.too_many_columns(
            f"the {where}, which reaches column {_column_letter(width - 1)},", width
        )
    values = [""] * width
    for (column, _), text in zip(cells, texts, strict=True):
        if column < width:
            values[column] = text
    return Columns(values, where, mapping)


def _record(number: int, cells: list[Any], texts: list[str], columns: Columns) -> Record:
    width = columns.width
    values = [""] * width
    beyond: list[tuple[int, str]] = []  # (column, text) right of the header, not blank
    inexact: tuple[int, float] | None = None
    uncalculated = -1  # the first column of the header's with a formula never calculated
    for (column, value), text in zip(cells, texts, strict=True):
        if column < width:
            values[column] = text
            if value is UNCALCULATED and uncalculated < 0:
                uncalculated = column
            elif (
                isinstance(value, float)
                and value.is_integer()
                and abs(value) >= _EXACT_LIMIT
                and (inexact is None or column < inexact[0])
            ):
                inexact = (column, value)
        elif text.strip():
            beyond.append((column, text))
    if uncalculated >= 0:
        return Record(number, _shown(values, beyond), _uncalculated_error(number, uncalculated))
    if inexact is not None:
        return Record(number, _shown(values, beyond), _inexact_error(number, *inexact))
    unnamed = columns.value_without_header(values)
    if unnamed is not None:
        index, text = unnamed
        message = (
            f"row {number} has a value in column {_column_letter(index)}, whose header cell is "
            "empty: which field it belongs to cannot be told; name the column in the header "
            "row, or remove the value"
        )
        error = FieldError("row", "row.value_without_header", message, text[:200])
        return Record(number, _shown(values, beyond), error)
    if beyond:
        first = min(column for column, _ in beyond)
        message = (
            f"row {number} has a value in column {_column_letter(first)}, right of the "
            f"header's last column {_column_letter(width - 1)}"
        )
        error = FieldError("row", "row.field_count", message, None)
        return Record(number, _shown(values, beyond), error)
    return Record(number, columns.order(values))


def _shown(values: list[str], beyond: list[tuple[int, str]]) -> list[str]:
    """What a refused row's record holds: its values, with the columns right of the header up
    to its last value when that is near, else only the values there (at most a few)."""
    if not beyond:
        return values
    beyond.sort()
    last = beyond[-1][0]
    if last < len(values) + _DENSE_BEYOND:
        dense = values + [""] * (last + 1 - len(values))
        for column, text in beyond:
            dense[column] = text
        return dense
    return values + [text for _, text in beyond[:_SHOWN_BEYOND]]


# Above 2**53 a float no longer holds every whole number: Excel keeps 15 significant digits, so
# 12345678901234567890 is stored as 1.2345678901234567e19, whose digits were never sent.
_EXACT_LIMIT: Final = 2**53


def _inexact_error(number: int, index: int, value: float) -> FieldError:
    shown = f"{value:.15g}"
    message = (
        f"row {number}, column {_column_letter(index)}: the number {shown} is too large for a"
        " spreadsheet to hold exactly (it keeps 15 significant digits, so the digits read back"
        " are not the ones typed); format the column as Text in the workbook and type the value"
        " again, or send a CSV"
    )
    return FieldError("row", "row.inexact_number", message, shown)


def _uncalculated_error(number: int, index: int) -> FieldError:
    message = (
        f"row {number}, column {_column_letter(index)}: the cell holds a formula but no computed "
        "value: the workbook was saved without computed values (by a program that writes "
        "formulas without calculating them); open it in Excel and save it again, or export CSV"
    )
    return FieldError("row", "row.formula_without_value", message, None)


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV export of it would hold (see the module's rules)."""
    if value is None or value is UNCALCULATED:
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
