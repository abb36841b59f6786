"""Unit tests for chalicelib.orders.validation."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.orders.records import ORDER_GROUPS, FieldError
from chalicelib.orders.validation import (
    ORDER_ERROR_CODES,
    ValidOrder,
    order_content_hash,
    validate_order,
)

SEED: dict[str, Any] = {
    "order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": "1"},
    "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
}

MISSING = object()  # marker: remove the field instead of setting it


def make(group: str | None = None, field: str | None = None, value: Any = MISSING) -> Any:
    """A copy of the seed order with one field of one group set (or removed)."""
    order = copy.deepcopy(SEED)
    if group is not None and field is not None:
        if value is MISSING:
            del order[group][field]
        else:
            order[group][field] = value
    return order


def valid(raw: Any) -> ValidOrder:
    result = validate_order(raw)
    assert isinstance(result, ValidOrder), result
    return result


def errors(raw: Any) -> list[FieldError]:
    result = validate_order(raw)
    assert isinstance(result, list), result
    assert result, "an invalid order must report at least one error"
    for err in result:
        assert isinstance(err, FieldError)
    return result


def triples(raw: Any) -> list[tuple[str, str, Any]]:
    return [(e.field, e.code, e.value) for e in errors(raw)]


# --- the seed order -------------------------------------------------------------------------------


def test_seed_order_is_valid_and_normalised() -> None:
    result = valid(SEED)
    assert result.order_id == "1"
    assert result.order == {
        "order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": 1},
        "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
    }
    assert re.fullmatch(r"[0-9a-f]{32}", result.content_hash)


def test_input_is_not_modified() -> None:
    raw = make("order-info", "qty", " 2 ")
    before = copy.deepcopy(raw)
    valid(raw)
    assert raw == before


def test_strings_are_trimmed() -> None:
    raw = {
        "order-info": {"OrderId": " 1\t", "item-id": " 101 ", "item-desc": "  Item One ", "qty": 1},
        "contact-info": {"name": "\n Foo Bar ", "email": "  foobar@test.com "},
    }
    result = valid(raw)
    assert result.order_id == "1"
    assert result.order == {
        "order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": 1},
        "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
    }


def test_extra_fields_are_kept_at_top_level_and_inside_groups() -> None:
    raw = copy.deepcopy(SEED)
    raw["source"] = {"channel": "web", "tags": [1, "two", None]}
    raw["order-info"]["gift"] = True
    raw["order-info"]["note"] = " leave at door "
    raw["contact-info"]["phone"] = "+351 123"
    result = valid(raw)
    assert result.order["source"] == {"channel": "web", "tags": [1, "two", None]}
    assert result.order["order-info"]["gift"] is True
    assert result.order["order-info"]["note"] == " leave at door "  # unknown fields: as sent
    assert result.order["contact-info"]["phone"] == "+351 123"
    assert result.order["order-info"]["qty"] == 1


def test_wire_names_are_kept_and_python_names_are_just_extra_fields() -> None:
    raw = make("order-info", "order_id", "999")
    result = valid(raw)
    assert result.order_id == "1"
    assert result.order["order-info"]["OrderId"] == "1"
    assert result.order["order-info"]["order_id"] == "999"
    assert "order_info" not in result.order


# --- whole order and groups ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["an order", "", ["a", "list"], [], None, 42, 1.5, True])
def test_order_must_be_an_object(raw: Any) -> None:
    errs = errors(raw)
    assert [(e.field, e.code, e.value) for e in errs] == [("order", "order.not_object", raw)]
    assert errs[0].message == ORDER_ERROR_CODES["order.not_object"]


def test_empty_object_reports_both_groups_missing() -> None:
    assert triples({}) == [
        ("order-info", "order-info.missing", None),
        ("contact-info", "contact-info.missing", None),
    ]


@pytest.mark.parametrize("group", ["order-info", "contact-info"])
def test_group_missing(group: str) -> None:
    raw = copy.deepcopy(SEED)
    del raw[group]
    assert triples(raw) == [(group, f"{group}.missing", None)]


@pytest.mark.parametrize("group", ["order-info", "contact-info"])
@pytest.mark.parametrize("value", ["text", ["list"], 1, None, True])
def test_group_not_object(group: str, value: Any) -> None:
    raw = copy.deepcopy(SEED)
    raw[group] = value
    assert triples(raw) == [(group, f"{group}.not_object", value)]


def test_both_groups_not_objects_reported_together() -> None:
    raw = {"order-info": "x", "contact-info": [1]}
    assert triples(raw) == [
        ("order-info", "order-info.not_object", "x"),
        ("contact-info", "contact-info.not_object", [1]),
    ]


def test_group_problem_and_field_problems_of_the_other_group_reported_together() -> None:
    raw = {"order-info": None, "contact-info": {"name": " ", "email": "nope"}}
    assert triples(raw) == [
        ("order-info", "order-info.not_object", None),
        ("contact-info.name", "name.empty", " "),
        ("contact-info.email", "email.invalid", "nope"),
    ]


# --- fields: accepted values --------------------------------------------------------------------

ACCEPTED: list[tuple[str, str, Any, Any]] = [
    # group, field, value sent, value in the normalised order
    ("order-info", "OrderId", "A-1", "A-1"),
    ("order-info", "OrderId", "  abc  ", "abc"),
    ("order-info", "OrderId", "x" * 64, "x" * 64),
    ("order-info", "OrderId", " " + "x" * 64 + " ", "x" * 64),  # length counted after trimming
    ("order-info", "OrderId", "ü" * 64, "ü" * 64),  # characters, not bytes
    ("order-info", "item-id", "101", "101"),
    ("order-info", "item-id", " SKU 7 ", "SKU 7"),
    ("order-info", "item-id", 101, "101"),
    ("order-info", "item-id", 0, "0"),
    ("order-info", "item-desc", "Item One", "Item One"),
    ("order-info", "item-desc", "", ""),
    ("order-info", "item-desc", "   ", ""),
    ("order-info", "qty", 1, 1),
    ("order-info", "qty", 2, 2),
    ("order-info", "qty", "2", 2),
    ("order-info", "qty", " 2 ", 2),
    ("order-info", "qty", "02", 2),
    ("order-info", "qty", 10**12, 10**12),
    ("order-info", "qty", "1000000", 1000000),
    ("contact-info", "name", "Ana Núñez", "Ana Núñez"),
    ("contact-info", "name", " x ", "x"),
    ("contact-info", "email", "foobar@test.com", "foobar@test.com"),
    ("contact-info", "email", "ana.nunez@example.org", "ana.nunez@example.org"),
    ("contact-info", "email", " ana.nunez@example.org\t", "ana.nunez@example.org"),
    # the sender's form is kept, not email-validator's normalised one
    ("contact-info", "email", "Foo.Bar@Example.COM", "Foo.Bar@Example.COM"),
    ("contact-info", "email", "first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
]


@pytest.mark.parametrize(("group", "field", "sent", "expected"), ACCEPTED)
def test_field_accepted(group: str, field: str, sent: Any, expected: Any) -> None:
    result = valid(make(group, field, sent))
    normalised = result.order[group][field]
    assert normalised == expected
    assert type(normalised) is type(expected)
    if field == "OrderId":
        assert result.order_id == expected


def test_item_desc_may_be_missing_and_stays_missing() -> None:
    result = valid(make("order-info", "item-desc", MISSING))
    assert "item-desc" not in result.order["order-info"]


# --- fields: rejected values --------------------------------------------------------------------

REJECTED: list[tuple[str, str, Any, str]] = [
    # group, field, value sent (MISSING: field left out), code
    ("order-info", "OrderId", MISSING, "OrderId.missing"),
    ("order-info", "OrderId", 1, "OrderId.not_string"),
    ("order-info", "OrderId", 1.0, "OrderId.not_string"),
    ("order-info", "OrderId", None, "OrderId.not_string"),
    ("order-info", "OrderId", True, "OrderId.not_string"),
    ("order-info", "OrderId", ["1"], "OrderId.not_string"),
    ("order-info", "OrderId", "", "OrderId.empty"),
    ("order-info", "OrderId", "   ", "OrderId.empty"),
    ("order-info", "OrderId", "x" * 65, "OrderId.too_long"),
    ("order-info", "OrderId", "\u200b", "OrderId.empty"),  # only an invisible character
    ("order-info", "OrderId", "70\u200b01", "OrderId.invisible_character"),
    ("order-info", "OrderId", "70\x0001", "OrderId.invisible_character"),  # a NUL
    ("order-info", "OrderId", "A\u202eB", "OrderId.invisible_character"),  # right-to-left override
    ("order-info", "OrderId", "70\u200d01", "OrderId.invisible_character"),  # zero-width joiner
    ("order-info", "OrderId", "7\n001", "OrderId.invisible_character"),  # a line break inside
    ("order-info", "item-id", MISSING, "item-id.missing"),
    ("order-info", "item-id", "", "item-id.empty"),
    ("order-info", "item-id", " \t", "item-id.empty"),
    ("order-info", "item-id", None, "item-id.not_string"),
    ("order-info", "item-id", True, "item-id.not_string"),
    ("order-info", "item-id", 1.5, "item-id.not_string"),
    ("order-info", "item-id", 101.0, "item-id.not_string"),
    ("order-info", "item-id", {"id": 1}, "item-id.not_string"),
    ("order-info", "item-desc", 5, "item-desc.not_string"),
    ("order-info", "item-desc", None, "item-desc.not_string"),
    ("order-info", "item-desc", ["a"], "item-desc.not_string"),
    ("order-info", "qty", MISSING, "qty.missing"),
    *[
        ("order-info", "qty", bad, "qty.not_positive_integer")
        for bad in [
            "three",
            "0",
            "00",
            "-1",
            "+2",
            "1.5",
            "2.0",
            "1e3",
            "1_000",
            "١٢",  # Arabic-Indic digits: int() accepts them, we do not
            "",
            " ",
            1.5,
            2.0,
            Decimal("2.0"),
            Decimal("1.5"),
            0,
            -1,
            True,
            False,
            None,
            [1],
            "9" * 5000,  # beyond Python's int/str conversion limit
        ]
    ],
    ("contact-info", "name", MISSING, "name.missing"),
    ("contact-info", "name", "", "name.empty"),
    ("contact-info", "name", "  ", "name.empty"),
    ("contact-info", "name", None, "name.not_string"),
    ("contact-info", "name", 7, "name.not_string"),
    ("contact-info", "email", MISSING, "email.missing"),
    *[
        ("contact-info", "email", bad, "email.invalid")
        for bad in [
            "not-an-email",
            "a@b",
            "@x.com",
            "a b@x.com",
            "",
            "   ",
            "foo@",
            "foo@@x.com",
            "Foo <foo@x.com>",
            None,
            42,
        ]
    ],
]


@pytest.mark.parametrize(("group", "field", "sent", "code"), REJECTED)
def test_field_rejected(group: str, field: str, sent: Any, code: str) -> None:
    errs = errors(make(group, field, sent))
    expected_value = None if sent is MISSING else sent
    assert len(errs) == 1
    err = errs[0]
    assert (err.field, err.code) == (f"{group}.{field}", code)
    assert err.value == expected_value
    assert type(err.value) is type(expected_value)
    assert err.message == ORDER_ERROR_CODES[code]


def test_qty_message_is_a_human_sentence() -> None:
    (err,) = errors(make("order-info", "qty", "three"))
    assert err.message == "qty must be a whole number of at least 1"


def test_error_to_dict() -> None:
    (err,) = errors(make("order-info", "qty", "0"))
    assert err.to_dict() == {
        "field": "order-info.qty",
        "code": "qty.not_positive_integer",
        "message": "qty must be a whole number of at least 1",
        "value": "0",
    }


# --- several problems at once -------------------------------------------------------------------


def test_all_problems_reported_at_once() -> None:
    raw = {
        "order-info": {"OrderId": 7, "item-id": "  ", "item-desc": 3, "qty": "three"},
        "contact-info": {"email": "a@b", "extra": 1},
        "extra": "kept",
    }
    assert triples(raw) == [
        ("order-info.OrderId", "OrderId.not_string", 7),
        ("order-info.item-id", "item-id.empty", "  "),
        ("order-info.item-desc", "item-desc.not_string", 3),
        ("order-info.qty", "qty.not_positive_integer", "three"),
        ("contact-info.name", "name.missing", None),
        ("contact-info.email", "email.invalid", "a@b"),
    ]


def test_all_fields_missing() -> None:
    raw: dict[str, Any] = {"order-info": {}, "contact-info": {}}
    assert triples(raw) == [
        ("order-info.OrderId", "OrderId.missing", None),
        ("order-info.item-id", "item-id.missing", None),
        ("order-info.qty", "qty.missing", None),
        ("contact-info.name", "name.missing", None),
        ("contact-info.email", "email.missing", None),
    ]


# --- every error carries a known code -----------------------------------------------------------


def test_unexpected_problem_maps_to_field_invalid() -> None:
    # str() of an int with more than 4300 digits raises ValueError inside our validator: not one
    # of our codes, so it must come out as the `<field>.invalid` fallback, not escape.
    errs = errors(make("order-info", "item-id", 10**5000))
    assert [(e.field, e.code) for e in errs] == [("order-info.item-id", "item-id.invalid")]
    assert errs[0].message


def test_value_that_is_not_json_data() -> None:
    raw = copy.deepcopy(SEED)
    raw["tags"] = {"a", "b"}  # only possible for a caller passing Python objects
    assert [(e.field, e.code) for e in errors(raw)] == [("order", "order.invalid")]


def test_codes_table_is_consistent() -> None:
    pattern = re.compile(r"[A-Za-z<>-]+\.[a-z_]+")
    for code, description in ORDER_ERROR_CODES.items():
        assert pattern.fullmatch(code), code
        assert description
        assert "\n" not in description


def test_every_code_reachable_from_the_tables_above_is_documented() -> None:
    used = {code for *_, code in REJECTED} | {
        "order.not_object",
        "order.invalid",
        "order-info.missing",
        "order-info.not_object",
        "contact-info.missing",
        "contact-info.not_object",
        "order.too_deep",
        "order.invalid_text",
    }
    # Only the readers meet numbers out of range (validation gets the numbers they built).
    documented = set(ORDER_ERROR_CODES) - {
        "<field>.invalid",
        "order.number_out_of_range",
        "order.repeated_member",  # the JSON reader's (validation gets the dicts it built)
    }
    assert used == documented


def test_the_rules_are_those_of_the_orders_fields_in_their_groups() -> None:
    # every field of records.ORDER_GROUPS is checked in its group, in its order; all but
    # item-desc are required
    empty: dict[str, Any] = {group: {} for group in ORDER_GROUPS}
    assert [e.field for e in errors(empty)] == [
        f"{group}.{name}" for group, names in ORDER_GROUPS.items() for name in names
        if name != "item-desc"
    ]  # fmt: skip
    wrong: dict[str, Any] = {g: {name: [] for name in names} for g, names in ORDER_GROUPS.items()}
    assert [e.field for e in errors(wrong)] == [
        f"{group}.{name}" for group, names in ORDER_GROUPS.items() for name in names
    ]


# --- content hash ---------------------------------------------------------------------------------


def canonical_hash(order: dict[str, Any]) -> str:
    text = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def test_content_hash_is_sha256_of_canonical_json() -> None:
    result = valid(SEED)
    assert result.content_hash == canonical_hash(result.order)
    assert result.content_hash == order_content_hash(result.order)


def test_content_hash_ignores_whitespace_and_qty_form() -> None:
    plain = make("order-info", "qty", 2)
    padded = {
        "order-info": {"OrderId": " 1 ", "item-id": "101 ", "item-desc": " Item One", "qty": " 2"},
        "contact-info": {"name": "Foo Bar  ", "email": "\tfoobar@test.com"},
    }
    assert valid(plain).content_hash == valid(padded).content_hash
    assert valid(plain).content_hash == valid(make("order-info", "qty", "2")).content_hash


def test_content_hash_ignores_key_order_and_item_id_number_form() -> None:
    reordered = {
        "contact-info": {"email": "foobar@test.com", "name": "Foo Bar"},
        "order-info": {"qty": 1, "item-desc": "Item One", "item-id": 101, "OrderId": "1"},
    }
    assert valid(reordered).content_hash == valid(SEED).content_hash


@pytest.mark.parametrize(
    ("group", "field", "value"),
    [
        ("order-info", "OrderId", "2"),
        ("order-info", "item-id", "102"),
        ("order-info", "item-desc", "Item Two"),
        ("order-info", "item-desc", MISSING),
        ("order-info", "qty", 2),
        ("contact-info", "name", "Foo Baz"),
        ("contact-info", "email", "foobar@test.org"),
        ("contact-info", "email", "FOOBAR@test.com"),
        ("order-info", "note", "extra field"),
        ("contact-info", "phone", "123"),
    ],
)
def test_content_hash_differs_when_a_value_differs(group: str, field: str, value: Any) -> None:
    assert valid(make(group, field, value)).content_hash != valid(SEED).content_hash


def test_content_hash_differs_for_extra_top_level_field() -> None:
    raw = copy.deepcopy(SEED)
    raw["note"] = "x"
    assert valid(raw).content_hash != valid(SEED).content_hash


def test_content_hash_same_whichever_json_parser() -> None:
    # DynamoDB gives Decimal for numbers, the readers a float: same hash either way.
    as_float = copy.deepcopy(SEED)
    as_float["weight"] = 1.25
    as_decimal = copy.deepcopy(SEED)
    as_decimal["weight"] = Decimal("1.25")
    result = valid(as_decimal)
    assert result.order["weight"] == Decimal("1.25")  # kept as sent (boto3 wants Decimal)
    assert result.content_hash == valid(as_float).content_hash


def test_non_ascii_text_hashes_as_utf_8() -> None:
    unicode_order = make("contact-info", "name", "Ana Núñez 李 \U0001f600")
    result = valid(unicode_order)
    assert result.content_hash == canonical_hash(result.order)


# --- what no order may hold, whoever calls (the DLQ reviewer too) ---------------------------------


@pytest.mark.parametrize(
    ("group", "field", "text"),
    [
        ("order-info", "OrderId", "a\ud800"),
        ("order-info", "item-desc", "\udfff"),
        ("contact-info", "name", "Foo \udc00Bar"),
    ],
)
def test_a_lone_surrogate_anywhere_is_invalid_text_never_replaced(
    group: str, field: str, text: str
) -> None:
    shown = text.encode("utf-8", "backslashreplace").decode()  # the escape, not "?"
    assert triples(make(group, field, text)) == [(f"{group}.{field}", "order.invalid_text", shown)]


def test_a_lone_surrogate_in_an_extra_key_or_list_is_found() -> None:
    raw = copy.deepcopy(SEED)
    raw["tags"] = ["ok", {"\udfff": 1}]
    assert [(e.field, e.code) for e in errors(raw)] == [("tags[1].\\udfff", "order.invalid_text")]


def nest(depth: int) -> Any:
    """An extra field that makes the order `depth` levels deep (the order is level 1)."""
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [33, 400, 100_000])
def test_an_order_nested_too_deep_is_refused_without_recursion(depth: int) -> None:
    raw = copy.deepcopy(SEED)
    raw["extra"] = nest(depth)
    assert triples(raw) == [("order", "order.too_deep", None)]


def test_an_order_32_levels_deep_is_valid() -> None:
    raw = copy.deepcopy(SEED)
    raw["extra"] = nest(32)
    assert valid(raw).order["extra"] == nest(32)


def test_same_email_checked_twice_gives_same_answer() -> None:
    # the outcome of the email check is memoised; make sure both outcomes are stable
    for _ in range(2):
        valid(SEED)
        assert [e.code for e in errors(make("contact-info", "email", "a@b"))] == ["email.invalid"]


@pytest.mark.parametrize(
    "sent",
    [
        "7001",
        " 7001 ",
        "\u200b7001",  # a zero-width space before it
        "\ufeff7001",  # a byte-order mark at the start of a later line
        "7001\u200d\u200e",  # a zero-width joiner and a direction mark after it
        "\uff17\uff10\uff10\uff11",  # full-width digits
        "\uff17001",
        "\u00a07001\u3000",  # a no-break space and an ideographic space around it
    ],
)
def test_order_ids_a_person_cannot_tell_apart_are_one_id(sent: str) -> None:
    result = validate_order(make("order-info", "OrderId", sent))

    assert isinstance(result, ValidOrder), result
    assert result.order_id == "7001"
    assert result.order["order-info"]["OrderId"] == "7001"
    # and the same order, however its id was typed, has one content hash: sent again, it is
    # `unchanged`, not a `conflict`
    plain = validate_order(make("order-info", "OrderId", "7001"))
    assert isinstance(plain, ValidOrder)
    assert result.content_hash == plain.content_hash


def test_nfkc_is_what_normalises_an_order_id() -> None:
    # an independent statement of NFKC for a few compatibility characters
    for sent, read in [("\ufb01le-1", "file-1"), ("\u2168", "IX"), ("\u00bd", "1\u20442")]:
        result = validate_order(make("order-info", "OrderId", sent))
        assert isinstance(result, ValidOrder), result
        assert result.order_id == read
