"""jsondoc.py through read_records: JSON documents and arrays."""

from __future__ import annotations

import json

import pytest

from chalicelib.orders.records import Record
from tests.unit.readers.support import (
    order,
    read,
    read_until_unreadable,
    rows,
    unreadable,
)


def test_json_document_yields_orders_by_position_and_ignores_other_keys():
    # given a document with keys before and after "orders"
    data = json.dumps(
        {"batch": {"id": 7}, "orders": [order("1"), order("2"), order("3")], "sender": "acme"}
    ).encode()

    # when it is read
    records = read(data, "batch.json")

    # then every element comes out in order, numbered from 1
    assert records == [Record(1, order("1")), Record(2, order("2")), Record(3, order("3"))]


def test_json_numbers_come_out_as_int_and_float_not_decimal():
    records = read(b'{"orders": [{"qty": 3, "price": 2.5, "max": 9223372036854775807}]}', "a.json")

    assert records[0].order == {"qty": 3, "price": 2.5, "max": 9223372036854775807}
    assert type(records[0].order["price"]) is float


@pytest.mark.parametrize("number", [12345678901234567890, -9223372036854775809, 10**40])
def test_json_whole_numbers_beyond_64_bits_are_read_exactly(number):
    records = read(b'{"orders": [{"OrderId": ' + str(number).encode() + b"}]}", "a.json")

    assert records == [Record(1, {"OrderId": number})]


def test_json_elements_of_any_type_are_yielded_as_parsed():
    records = read(b'{"orders": ["text", 42, null, [1, 2], {"a": {"b": []}}, true]}', "a.json")

    assert [r.order for r in records] == ["text", 42, None, [1, 2], {"a": {"b": []}}, True]
    assert rows(records) == [1, 2, 3, 4, 5, 6]


def test_top_level_json_array_yields_each_element_by_position():
    data = json.dumps([order("1"), "not an order", order("3")]).encode()

    records = read(data, "array.json")

    assert records == [Record(1, order("1")), Record(2, "not an order"), Record(3, order("3"))]


def test_orders_key_far_from_the_start_reads_the_same_as_near_it():
    # given "orders" after a large other key (beyond the peeked head), and the usual layout
    orders = [order(str(i)) for i in range(50)]
    far = json.dumps({"notes": "x" * 100_000, "orders": orders, "after": [1, 2]}).encode()
    near = json.dumps({"orders": orders}).encode()

    # when both are read, then they give the same records
    assert read(far, "far.json") == read(near, "near.json")
    assert len(read(far, "far.json")) == 50


def test_a_dotted_key_is_not_mistaken_for_the_orders_array():
    # given a key that a reader of dotted paths (ijson's "orders.item") would confuse
    data = b'{"orders.item": {"OrderId": "fake"}, "orders": [{"OrderId": "real"}]}'

    records = read(data, "a.json")

    assert records == [Record(1, {"OrderId": "real"})]


def test_orders_nested_under_another_key_do_not_count():
    error = unreadable(b'{"data": {"orders": [{"a": 1}]}}', "a.json")

    assert error.code == "file.no_orders_array"
    assert '"data"' in error.message


def test_truncated_json_yields_complete_orders_then_fails():
    # given a document cut off in the middle of its third order
    data = json.dumps({"orders": [order("1"), order("2"), order("3")]}).encode()[:-60]

    # when it is read
    records, error = read_until_unreadable(data, "cut.json")

    # then the complete orders may come out, and the file is reported as cut short
    assert [r.order for r in records] == [order("1"), order("2")][: len(records)]
    assert error.code == "file.invalid_json"
    assert "incomplete" in error.message
    assert f"byte {len(data)}" in error.message


def test_text_that_is_not_json_is_invalid_json():
    error = unreadable(b"OrderId;qty\n1;2\n", "orders.json")

    assert error.code == "file.invalid_json"
    assert "not valid JSON" in error.message
    assert "line 1" in error.message


def test_a_syntax_error_is_located_by_line():
    data = b'{"orders": [\n  {"a": 1},\n  {"a": 2},\n  {"a": oops}\n]}'

    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.invalid_json"
    assert "expected a value, found 'o'" in error.message
    assert "line 4" in error.message
    assert f"byte offset {data.index(b'oops')}" in error.message
    assert "oops" in error.message


def test_data_after_the_json_document_is_invalid_json_with_a_hint():
    _, error = read_until_unreadable(b'{"orders": [{"a": 1}]}\n{"orders": []}\n', "a.json")

    assert error.code == "file.invalid_json"
    assert "more data after the end of the JSON document" in error.message
    assert "line 2" in error.message
    assert ".jsonl" in error.message


def test_json_lines_of_orders_named_json_get_a_hint():
    data = f"{json.dumps(order('1'))}\n{json.dumps(order('2'))}\n".encode()

    error = unreadable(data, "orders.json")

    assert error.code == "file.no_orders_array"
    assert '"order-info", "contact-info"' in error.message
    assert ".jsonl" in error.message


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b'{"orders": 5}', "a number"),
        (b'{"orders": "none"}', "a string"),
        (b'{"orders": null}', "null"),
        (b'{"orders": {"item": {"OrderId": "1"}}}', "an object"),
    ],
)
def test_orders_that_is_not_an_array_is_rejected(data, found):
    error = unreadable(data, "a.json")

    assert error.code == "file.no_orders_array"
    assert f'"orders" key holds {found}' in error.message


def test_object_without_orders_key_names_the_keys_it_has():
    error = unreadable(b'{"order": [{"a": 1}], "count": 1}', "a.json")

    assert error.code == "file.no_orders_array"
    assert '"order", "count"' in error.message


@pytest.mark.parametrize("data", [b"42", b'"orders"', b"null", b"true"])
def test_a_lone_json_scalar_has_no_orders_array(data):
    assert unreadable(data, "a.json").code == "file.no_orders_array"


@pytest.mark.parametrize("data", [b'{"orders": []}', b"[]", b" [ ] ", b'{"orders": [], "x": 1}'])
def test_an_empty_order_list_is_an_empty_file(data):
    error = unreadable(data, "a.json")

    assert error.code == "file.empty"
    assert "contains no orders" in error.message
