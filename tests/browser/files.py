"""The files the browser tests upload, made by the tests (nothing big is committed).

- `orders_csv`: a CSV with every tenth row invalid in one of three ways (a bad qty, a bad email,
  an empty item-id) and hostile cells near the top, where the page's preview shows them: in
  valid rows a `<script>` tag, a spreadsheet formula and a control character (BEL) in
  item-desc, and in an invalid row an `<img onerror>` as the email, shown back as "value as
  sent" in the rejected rows.
- `german_xlsx`: a workbook whose headers (German) match none of our fields by name, so the
  pipeline cannot read it without a column mapping.
- `large_csv`: many rows streamed to disk a line at a time.

Every OrderId starts with the caller's prefix, so files of one server never share an id.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook

HEADERS = ("OrderId", "item-id", "item-desc", "qty", "name", "email")
GERMAN = ("Bestellnummer", "Artikel", "Beschreibung", "Menge", "Kunde", "E-Mail-Adresse")

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'
BELL = "Bell \x07 ring"
IMG = "<img src=x onerror=alert(2)>"

# Every tenth row (the one whose index ends in 5) is invalid, in turn in each of these ways:
# (field, the value sent).
BAD = (("qty", "0"), ("email", "not-an-address"), ("item-id", ""), ("qty", "two"))


@dataclass
class OrdersFile:
    path: Path
    rows: int
    # OrderId -> the field that makes it invalid
    invalid: dict[str, str] = field(default_factory=dict)

    def first_invalid(self, field_name: str) -> str:
        return next(order for order, bad in self.invalid.items() if bad == field_name)


def _row(prefix: str, index: int) -> list[str]:
    return [
        f"{prefix}-{index:06d}",
        str(100 + index % 50),
        f"Item {index}",
        str(1 + index % 9),
        f"Customer {index}",
        f"customer{index}@example.com",
    ]


def _rows(prefix: str, count: int, invalid: dict[str, str]) -> Iterator[list[str]]:
    hostile = {1: SCRIPT, 2: FORMULA, 3: BELL}
    for index in range(count):
        row = _row(prefix, index)
        if index in hostile:
            row[2] = hostile[index]
        if index % 10 == 5:
            name, value = BAD[(index // 10) % len(BAD)]
            row[HEADERS.index(name)] = value
            if index == 15:
                row[HEADERS.index("email")] = IMG  # invalid twice: an email shown back as sent
            invalid[row[0]] = name
        yield row


def orders_csv(path: Path, prefix: str, rows: int = 2000) -> OrdersFile:
    """`rows` orders, a tenth of them invalid (see the module's docstring)."""
    made = OrdersFile(path, rows)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows(_rows(prefix, rows, made.invalid))
    return made


def german_xlsx(path: Path, prefix: str, rows: int = 50) -> Path:
    """A sheet headed with `GERMAN`, every order valid."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Bestellungen"
    sheet.append(GERMAN)
    for index in range(rows):
        row: list[str | int] = list(_row(prefix, index))
        row[3] = int(row[3])
        sheet.append(row)
    book.save(path)
    return path


def large_csv(path: Path, prefix: str, rows: int) -> int:
    """`rows` valid orders written a line at a time; answers the file's size in bytes."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for index in range(rows):
            writer.writerow(_row(prefix, index))
    return path.stat().st_size
