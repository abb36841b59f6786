"""The rejection report's CSV: safe to open in a spreadsheet, and read back exactly as sent."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.contracts import Reason, Rejection
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import FieldError
from chalicelib.pipeline.report import ReportWriter, extra_columns, neutralise

RISKY = ["=1+1", "+31 20 123", "-1", "@SUM(A1)", "\tTab", "\rCR", "'quoted'", "''", "'"]


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """One bucket of moto's S3: all the report's upload needs."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bucket")
        yield client


def report_csv(s3: Any, orders: list[dict[str, Any]]) -> bytes:
    writer = ReportWriter(extra_columns(orders))
    for row, order in enumerate(orders, start=2):
        error = FieldError("x", "x.y", "-m", None)
        writer.add(Rejection(row, order, None, Reason.INVALID, (error,)))
    keys = writer.upload(s3, "bucket", "p/")
    return bytes(s3.get_object(Bucket="bucket", Key=keys["csv"])["Body"].read())


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


def test_no_cell_of_the_report_starts_a_formula(s3):
    data = report_csv(s3, [order(value) for value in RISKY])

    cells = [cell for row in csv.reader(io.StringIO(data.decode(), newline="")) for cell in row]
    assert cells  # header and rows
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_report_read_back_gives_every_value_exactly_as_sent(s3):
    sent = [order(value) for value in RISKY]

    records = list(read_records(io.BytesIO(report_csv(s3, sent)), "rejections.csv"))

    assert [record.order for record in records] == sent
    assert records[2].order["order-info"]["qty"] == "-1"


def test_a_negative_quantity_sent_as_a_json_number_comes_back_as_minus_one(s3):
    sent = {**order("x"), "order-info": {**order("x")["order-info"], "qty": -1}}

    (record,) = read_records(io.BytesIO(report_csv(s3, [sent])), "rejections.csv")

    assert record.order["order-info"]["qty"] == "-1"
