"""The rejection report's CSV: safe to open in a spreadsheet, and read back exactly as sent."""

from __future__ import annotations

import csv
import io
from typing import Any, BinaryIO

import pytest

from chalicelib.orders.readers import read_records
from chalicelib.pipeline.report import ReportWriter, extra_columns, neutralise

RISKY = ["=1+1", "+31 20 123", "-1", "@SUM(A1)", "\tTab", "\rCR", "'quoted'", "''", "'"]


class Captured:
    """Stands in for the S3 client: keeps what `upload_fileobj` was given."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}

    def upload_fileobj(self, body: BinaryIO, bucket: str, key: str, **_: Any) -> None:
        self.bodies[key] = body.read()


def report_csv(orders: list[dict[str, Any]]) -> bytes:
    writer = ReportWriter(extra_columns({"order": order} for order in orders))
    for row, order in enumerate(orders, start=2):
        writer.add({"row": row, "order": order, "errors": [{"code": "x.y", "message": "-m"}]})
    client = Captured()
    keys = writer.upload(client, "bucket", "p/")  # type: ignore[arg-type]
    return client.bodies[keys["csv"]]


def order(value: str) -> dict[str, Any]:
    return {
        "order-info": {"OrderId": value, "item-id": "101", "item-desc": value, "qty": value},
        "contact-info": {"name": value, "email": "a@b.org"},
        "=note": value,
    }


@pytest.mark.parametrize("text", [*RISKY, "plain", "a=b", "", "1"])
def test_neutralise_prefixes_exactly_the_risky_starts(text):
    expected = "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else text
    assert neutralise(text) == expected


def test_no_cell_of_the_report_starts_a_formula():
    data = report_csv([order(value) for value in RISKY])

    cells = [cell for row in csv.reader(io.StringIO(data.decode(), newline="")) for cell in row]
    assert cells  # header and rows
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_report_read_back_gives_every_value_exactly_as_sent():
    sent = [order(value) for value in RISKY]

    records = list(read_records(io.BytesIO(report_csv(sent)), "rejections.csv"))

    assert [record.order for record in records] == sent
    assert records[2].order["order-info"]["qty"] == "-1"


def test_a_negative_quantity_sent_as_a_json_number_comes_back_as_minus_one():
    sent = {**order("x"), "order-info": {**order("x")["order-info"], "qty": -1}}

    (record,) = read_records(io.BytesIO(report_csv([sent])), "rejections.csv")

    assert record.order["order-info"]["qty"] == "-1"
