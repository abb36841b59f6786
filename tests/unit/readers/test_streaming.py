"""Streaming: memory stays flat however many orders."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator

import pytest

from chalicelib.orders.readers import read_records
from tests.unit.readers.support import (
    HEADER,
    Generated,
    order,
)

MANY = 200_000
MEMORY_LIMIT = 3 * 1024 * 1024


def json_document(count: int) -> Iterator[bytes]:
    block = ",".join(json.dumps(order(str(i))) for i in range(1000)).encode()
    yield b'{"batch": "memory-test", "orders": ['
    for start in range(0, count, 1000):
        yield block if start == 0 else b"," + block
    yield b"]}"


def csv_table(count: int) -> Iterator[bytes]:
    block = "".join(
        f'{i},101,"Item One, large",1,Foo Bar,buyer{i}@example.com\r\n' for i in range(1000)
    ).encode()
    yield f"{HEADER}\r\n".encode()
    for _ in range(0, count, 1000):
        yield block


@pytest.mark.parametrize(("key", "chunks"), [("big.json", json_document), ("big.csv", csv_table)])
def test_reading_many_orders_keeps_memory_flat(key, chunks):
    # given a generated file of 200,000 orders (tens of MB), produced on demand
    body = Generated(chunks(MANY))

    # when every record is read while Python allocations are traced
    tracemalloc.start()
    try:
        count = last = 0
        for record in read_records(body, key):
            count += 1
            last = record.row
            assert record.error is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # then all orders came out, and the peak is a tiny fraction of the file size
    assert count == MANY
    assert last == (MANY if key.endswith(".json") else MANY + 1)
    assert body.size > 3 * MEMORY_LIMIT
    assert peak < MEMORY_LIMIT, f"peak traced memory {peak:,} bytes"
