"""A worksheet's rows, as expat reads its part: `SheetRows` hands on each row with a cell that
holds something, as (row number, [(column from 0, value), ...]), a row costing its cells only.

Values are what openpyxl reads with `data_only` (its date formats and conversions); a formula
cell saved without its computed value is `UNCALCULATED`, never an empty cell. The rows, columns
and cells of the sheet are counted against the file's `Budget` as they come.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from chalicelib.orders.readers.xlsxparts import MAIN, RPH, Damaged, Handler, SharedStrings, T

if TYPE_CHECKING:
    from chalicelib.orders.readers.xlsx import Package

__all__ = ["UNCALCULATED", "SheetRows", "Uncalculated"]

# sheet elements
ROW: Final = MAIN + "row"
C: Final = MAIN + "c"
V: Final = MAIN + "v"
F: Final = MAIN + "f"
IS: Final = MAIN + "is"


class Uncalculated:
    """What a formula cell saved without its computed value holds (see `UNCALCULATED`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCALCULATED"


#: The value of a cell with a formula (`<f>`) and no value (`<v>` absent, or empty when the
#: formula's result is not text): the program that wrote the workbook never calculated it.
UNCALCULATED: Final = Uncalculated()


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


class SheetRows(Handler):
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
        if name == C:
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
        elif name == F:
            self._formula = True
        elif name == V:
            self._capture = self._value = []
        elif name == ROW:
            self._rows += 1
            if self._rows > self._max_rows:
                raise self._meter.too_many_rows()
            number = attrs.get("r")
            self.number = int(number) if number else self.number + 1
            self._row, self._in_row, self._column = [], 0, -1
            self.started = self.fed
        elif name == IS:
            self._inline = []
        elif name == T:
            if self._inline is not None and not self._phonetic:
                self._capture = self._inline
        elif name == RPH:
            self._phonetic += 1

    def end(self, name: str) -> None:
        if name == C:
            value = self._cell()
            if value is not None:
                self._row.append((self._column, value))
        elif name in (V, T):
            self._capture = None
        elif name == ROW:
            self.started = -1
            if self._row and self.number > self._last:
                self._last = self.number
                self.ready.append((self.number, self._row))
        elif name == RPH:
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
