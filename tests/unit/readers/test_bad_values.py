"""Values no order may hold: each is that order's own error, its neighbours go on."""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.orders import jsontext
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import Record, UnreadableFile
from tests.unit.readers.support import (
    Trickle,
    errors,
    order,
    read,
    read_until_unreadable,
    rows,
)


def nested(depth: int) -> str:
    """An order whose extra field makes it `depth` levels deep (the order itself is level 1)."""
    return '{"x": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


BUYER = "buyer@example.com"


def with_order_id(escaped: str) -> str:
    """The JSON text of an order whose OrderId is `escaped`, written as it is in the file."""
    return json.dumps(order("ID", email=BUYER)).replace('"ID"', f'"{escaped}"')


def document(*elements: str) -> bytes:
    return ('{"orders": [' + ", ".join(elements) + "]}").encode()


TRICKY = [
    with_order_id("1"),
    with_order_id("\\udfff"),  # a lone low surrogate
    with_order_id("a\\ud800"),  # a lone high surrogate
    with_order_id("a\\ud801"),  # another: must not collapse into the one before
    with_order_id("\\ud83d\\ude00"),  # a surrogate pair: an emoji, valid
    with_order_id("\\\\udfff"),  # an escaped backslash then "udfff": valid text
    nested(32),
    nested(33),
    nested(400),
    nested(5000),
    '{"n": 1e400}',
    '{"n": -1e400}',
    '{"n": 1e-400}',
    '{"n": ' + "9" * 5000 + "}",
    '{"n": 0.0e-999, "m": 2.5, "k": 12345678901234567890123}',
    '{"\\udc00": "a key that is not valid Unicode"}',
    with_order_id("2"),
]
TRICKY_CODES = [
    None,
    "order.invalid_text",
    "order.invalid_text",
    "order.invalid_text",
    None,
    None,
    None,
    "order.too_deep",
    "order.too_deep",
    "order.too_deep",
    "order.number_out_of_range",
    "order.number_out_of_range",
    "order.number_out_of_range",
    "order.number_out_of_range",
    None,
    "order.invalid_text",
    None,
]


def test_each_bad_value_is_its_orders_error_and_its_neighbours_are_read():
    # given a document of good orders and orders holding values no order may hold
    data = document(*TRICKY)

    # when it is read
    records = read(data, "tricky.json")

    # then every element is a record, in place, each bad one with its own code
    assert rows(records) == list(range(1, len(TRICKY) + 1))
    assert errors(records) == TRICKY_CODES
    assert records[0] == Record(1, order("1", email=BUYER))
    assert records[4].order["order-info"]["OrderId"] == "\U0001f600"
    assert records[5].order["order-info"]["OrderId"] == "\\udfff"
    assert records[14].order == {"n": 0.0, "m": 2.5, "k": 12345678901234567890123}
    assert records[-1] == Record(len(TRICKY), order("2", email=BUYER))
    # and a refused order is carried as its text exactly as sent: nothing replaced by "?"
    for record, text in zip(records, TRICKY, strict=True):
        if record.error is not None:
            assert record.order == text
            assert "?" not in json.dumps(record.order) + json.dumps(record.error.to_dict())


def test_a_lone_surrogate_error_names_the_field_and_shows_the_escape():
    records = read(document(with_order_id("a\\ud800")), "a.json")

    error = records[0].error
    assert error is not None
    assert (error.field, error.code, error.value) == (
        "order-info.OrderId",
        "order.invalid_text",
        "a\\ud800",
    )
    assert "\\ud800 is a lone UTF-16 surrogate" in error.message


def test_two_orders_that_differ_only_in_a_lone_surrogate_stay_apart():
    # given two OrderIds that a lossy decoder would turn into the same "a?"
    records = read(document(with_order_id("a\\ud800"), with_order_id("a\\ud801")), "a.json")

    # then both are refused, each with its own text: no false conflict can follow
    assert errors(records) == ["order.invalid_text", "order.invalid_text"]
    assert records[0].order != records[1].order


def test_a_number_out_of_range_names_the_number():
    records = read(document('{"n": 1e400}'), "a.json")

    error = records[0].error
    assert error is not None
    assert error.code == "order.number_out_of_range"
    assert error.value == "1e400"
    assert "1e400 is out of range" in error.message


def test_json_lines_apply_the_same_rules_line_by_line():
    lines = [with_order_id("1"), nested(2000), '{"b": "\\udc00"}', '{"n": 1e999}', "{broken"]
    data = "\n".join(lines).encode()

    records = read(data, "orders.jsonl")

    assert errors(records) == [
        None,
        "order.too_deep",
        "order.invalid_text",
        "order.number_out_of_range",
        "row.invalid_json",
    ]
    assert [r.order for r in records[1:]] == lines[1:]


def test_a_value_nested_far_beyond_any_recursion_limit_is_measured_not_recursed():
    # given an order 200,000 levels deep (json's own decoder gives up near 1,000)
    data = document(with_order_id("1"), nested(200_000), with_order_id("3"))

    records = read(data, "deep.json")

    assert errors(records) == [None, "order.too_deep", None]


def without_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value goes through the exact, token by token path."""

    def refuse(text: str, index: int) -> Any:
        raise StopIteration(index)

    monkeypatch.setattr(jsontext, "SCAN", refuse)


@pytest.mark.parametrize("step", [None, 1, 3, 7, 64])
@pytest.mark.parametrize("fast", [True, False])
def test_fast_and_exact_paths_agree_whatever_the_reads(monkeypatch, step, fast):
    # given the tricky document with other members around "orders", read through a small
    # buffer so that values are cut at every possible place
    monkeypatch.setattr(jsontext, "CHUNK", 16)
    if not fast:
        without_fast_path(monkeypatch)
    data = ('{"before": {"a": [1, 2]}, "orders": [' + ",\n ".join(TRICKY) + '], "x": 1}').encode()
    body = io.BytesIO(data) if step is None else Trickle(data, step)

    # when it is read
    records = list(read_records(body, "a.json"))

    # then it gives what the plain read gives
    assert records == read(document(*TRICKY), "a.json")


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"orders": [{"a": 1,}]}', "expected a key"),
        (b'{"orders": [{"a": 1}, ]}', "expected a value, found ']'"),
        (b'{"orders": [{"qty": NaN}]}', "NaN is not a JSON value"),
        (b'{"orders": [{"qty": -Infinity}]}', "-Infinity is not a JSON value"),
        (b'{"orders": [{"a": "tab\there"}]}', "must be escaped"),
        (b'{"orders": [{"a": "\\x"}]}', "invalid escape"),
        (b'{"orders": [{"a": 01}]}', "expected ',' or '}', found '1'"),
        (b'{"orders": [{"a" 1}]}', "expected ':' after a key"),
        (b'{"orders": [{"a": tru}]}', "expected a value"),
    ],
)
def test_text_that_is_not_json_is_still_the_files_problem(monkeypatch, fast, data, problem):
    if not fast:
        without_fast_path(monkeypatch)

    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.invalid_json"
    assert problem in error.message
    assert "line 1" in error.message


def _mutations(seed: int, count: int) -> Iterator[bytes]:
    """Seeded random edits of documents full of tricky values (repeatable, no new package)."""
    rng = random.Random(seed)
    bases = [document(*TRICKY).decode(), '[1, 2.5e3, -0.1, true, false, null, "x\\ud800y"]']
    alphabet = '{}[]",:\\ u0123456789abcdefeE+-.tnrfl\n\t\x01dD8é'
    for _ in range(count):
        text = list(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text))
            edit = rng.random()
            if edit < 0.4:
                text[at] = rng.choice(alphabet)
            elif edit < 0.7:
                text.insert(at, rng.choice(alphabet))
            else:
                del text[at]
        yield "".join(text).encode()


def _outcome(data: bytes) -> tuple[Any, ...]:
    records: list[Record] = []
    try:
        records.extend(read_records(io.BytesIO(data), "a.json"))
    except UnreadableFile as error:
        return ("unreadable", error.code, error.message, records)
    return ("read", records)


def test_fast_and_exact_paths_and_any_buffer_give_the_same_outcome_for_random_edits(monkeypatch):
    # given hundreds of randomly edited documents, read as they come
    documents = list(_mutations(seed=20261125, count=150))
    plain = [_outcome(data) for data in documents]

    # when they are read again through a tiny buffer, and through the exact path alone
    monkeypatch.setattr(jsontext, "CHUNK", 5)
    tiny = [_outcome(data) for data in documents]
    without_fast_path(monkeypatch)
    exact = [_outcome(data) for data in documents]

    # then every outcome is the same, to the message
    assert tiny == plain
    assert exact == plain
    # and what is read, json.loads reads too (what it refuses is refused, NaN aside), where it
    # can judge at all: it gives up on the orders nested thousands deep. Whole numbers of any
    # length are JSON: the oracle may not refuse them for Python's int conversion limit
    # (4,300 digits; json.loads applies it from Python 3.13 on)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        for data, outcome in zip(documents, plain, strict=True):
            with contextlib.suppress(RecursionError):
                if outcome[0] == "read":
                    json.loads(data)
                elif outcome[1] == "file.invalid_json":
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(data, parse_constant=_refuse_constant)
    finally:
        sys.set_int_max_str_digits(limit)


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


@pytest.mark.parametrize(
    "data",
    [
        b'{"orders": [{"a": 1}], "orders": [{"b": 2}]}',
        b'{"orders": [{"a": 1}], "\\u006frders": [{"b": 2}]}',  # the same key, escaped
        b'{"orders": [{"a": 1}], "x": 1, "orders": 5}',
    ],
)
def test_a_second_orders_key_makes_the_document_unreadable(data):
    _, error = read_until_unreadable(data, "a.json")

    assert error.code == "file.duplicate_orders_key"
    assert "more than once" in error.message


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_a_member_repeated_inside_an_order_is_that_orders_error_alone(name: str) -> None:
    # given an order whose OrderId is given twice, deep inside, between two good orders
    repeated = '{"order-info": {"OrderId": "C", "OrderId": "D"}}'
    lines = ['{"orders": 1}', repeated, '{"orders": 1, "x": {"y": 1}}']
    body = "\n".join(lines) if name.endswith("jsonl") else '{"orders": [' + ",".join(lines) + "]}"

    records = read(body.encode(), name)

    # then that order alone is refused, with its text as sent, neither C nor D chosen
    assert [r.order for r in records if r.error is None] == [
        {"orders": 1},
        {"orders": 1, "x": {"y": 1}},
    ]
    (bad,) = [r for r in records if r.error is not None]
    assert bad.error is not None
    assert bad.row == 2
    assert bad.error.code == "order.repeated_member"
    assert '"OrderId"' in bad.error.message
    assert bad.order == repeated


def test_top_level_members_are_given_to_who_asks_and_bad_ones_do_not_sink_the_file():
    fields: dict[str, Any] = {}
    data = (
        '{"callback_url": "https://example.com/hook", "big": 1e400, "deep": '
        + nested(100)
        + ', "orders": [{"a": 1}], "after": [1, 2]}'
    ).encode()

    records = list(read_records(io.BytesIO(data), "a.json", fields=fields))

    assert records == [Record(1, {"a": 1})]
    assert fields["callback_url"].value == "https://example.com/hook"
    assert fields["after"].value == [1, 2]
    assert fields["big"].error.code == "order.number_out_of_range"
    assert fields["deep"].error.code == "order.too_deep"
