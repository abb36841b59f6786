"""Helpers shared by the readers' tests: orders, reads, and bodies that read oddly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from chalicelib.orders.readers import ColumnMapping, Reading, read_records
from chalicelib.orders.records import Record, UnreadableFile

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
HEADER = "OrderId,item-id,item-desc,qty,name,email"
FIELDS_HEADER = HEADER.split(",")


def order(order_id: str, qty: str = "1", email: str | None = None) -> dict[str, Any]:
    return {
        "order-info": {"OrderId": order_id, "item-id": "101", "item-desc": "Item One", "qty": qty},
        "contact-info": {"name": "Foo Bar", "email": email or f"buyer{order_id}@example.com"},
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


def read_sample(name: str) -> list[Record]:
    with (SAMPLES / name).open("rb") as body:
        return list(read_records(body, name))


def unreadable(data: bytes, key: str) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read(data, key)
    return caught.value


def read_until_unreadable(data: bytes, key: str) -> tuple[list[Record], UnreadableFile]:
    records: list[Record] = []
    with pytest.raises(UnreadableFile) as caught:
        records.extend(read_records(io.BytesIO(data), key))
    return records, caught.value


def rows(records: list[Record]) -> list[int]:
    return [record.row for record in records]


def errors(records: list[Record]) -> list[str | None]:
    return [record.error.code if record.error else None for record in records]


class Trickle:
    """A body that hands out at most `step` bytes per read, like a slow network stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


class Generated:
    """A body whose bytes are produced on demand by a generator, never all in memory."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        parts = [self._buffer]
        have = len(self._buffer)
        while size < 0 or have < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts)
        cut = len(joined) if size < 0 else size
        data, self._buffer = joined[:cut], joined[cut:]
        self.size += len(data)
        return data
