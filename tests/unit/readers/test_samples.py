"""The shipped sample files, read as the pipeline reads them."""

from __future__ import annotations

from chalicelib.orders.records import Record
from tests.unit.readers.support import (
    errors,
    read_sample,
    rows,
)


def test_seed_example_yields_its_single_order():
    # given the seed example, when it is read
    records = read_sample("seed-example.json")

    # then its one order comes out whole, at position 1
    assert records == [
        Record(
            1,
            {
                "order-info": {
                    "OrderId": "1",
                    "item-id": "101",
                    "item-desc": "Item One",
                    "qty": "1",
                },
                "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
            },
        )
    ]


def test_mixed_sample_yields_every_order_in_list_position_even_incomplete_ones():
    records = read_sample("mixed.json")

    assert rows(records) == [1, 2, 3, 4, 5, 6]
    assert errors(records) == [None] * 6
    assert records[1].order["contact-info"]["name"] == "Ana María Núñez"
    assert "contact-info" not in records[2].order
    assert "order-info" not in records[3].order


def test_orders_csv_sample_yields_rows_from_line_two():
    records = read_sample("orders.csv")

    assert rows(records) == [2, 3, 4, 5]
    assert records[1].order["order-info"]["item-desc"] == "Blue mug, 350 ml"
    assert records[2].order["contact-info"]["name"] == ""
    assert records[3].order["order-info"]["qty"] == "three"


def test_array_sample_yields_each_element_by_position():
    records = read_sample("array.json")

    assert rows(records) == [1, 2, 3, 4, 5]
    assert errors(records) == [None] * 5
    assert [r.order["order-info"]["OrderId"] for r in records] == [
        "3001",
        "3002",
        "3003",
        "3004",
        "3005",
    ]


def test_jsonl_sample_reports_the_cut_line_and_skips_the_blank_one():
    records = read_sample("orders.jsonl")

    assert rows(records) == [1, 2, 3, 5, 6, 7]
    assert errors(records) == [None, None, "row.invalid_json", None, None, None]
    assert isinstance(records[2].order, str)
    assert records[2].order.startswith('{"order-info": {"OrderId": "4003"')


def test_crlf_bom_csv_sample_keeps_line_numbers_across_a_two_line_field():
    records = read_sample("orders-crlf-bom.csv")

    assert rows(records) == [2, 3, 5, 6, 8, 9]
    assert errors(records) == [None, None, "row.field_count", None, None, None]
    assert records[0].order["order-info"]["OrderId"] == "5001"  # BOM gone from "OrderId"
    assert records[1].order["gift-note"] == "Happy birthday,\r\nwith love"
    assert records[2].order == ["5003", "310", "Desk lamp", "1", "Short Row"]
    assert records[4].order["order-info"]["item-desc"] == 'Pencil set (12), "HB"'


def test_gzipped_jsonl_sample_is_decompressed_on_the_fly():
    records = read_sample("orders.jsonl.gz")

    assert rows(records) == [1, 2, 3, 4, 5]
    assert errors(records) == [None, None, None, "row.invalid_json", None]
    assert records[3].order == "not json at all"
