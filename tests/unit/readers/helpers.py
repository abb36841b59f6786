"""Files built in the tests themselves, so each test shows what it reads."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from chalicelib.orders.readers import ColumnMapping, Reading, read_records
from chalicelib.orders.records import Record

FIELDS_HEADER = ["OrderId", "item-id", "item-desc", "qty", "name", "email"]


def order(order_id: str, qty: str = "1", **contact: str) -> dict[str, Any]:
    return {
        "order-info": {"OrderId": order_id, "item-id": "101", "item-desc": "Item One", "qty": qty},
        "contact-info": {"name": "Foo Bar", "email": f"b{order_id}@example.com", **contact},
    }


def reading(data: bytes, key: str, mapping: ColumnMapping | None = None) -> Reading:
    return read_records(io.BytesIO(data), key, mapping=mapping)


def read(data: bytes, key: str, mapping: ColumnMapping | None = None) -> list[Record]:
    return list(reading(data, key, mapping))


def workbook(*sheets: tuple[str, Any], hidden: tuple[str, ...] = ()) -> bytes:
    """An .xlsx with the given sheets (name, rows), written by openpyxl as Excel would."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
