"""columns.py: loose names, synonyms, explicit mappings, and what a missing column says."""

from __future__ import annotations

import pytest

from chalicelib.orders.readers.columns import (
    SYNONYMS,
    ColumnMapping,
    Columns,
    MappingError,
    is_report,
    normalise,
)
from chalicelib.orders.records import ORDER_FIELDS, UnreadableFile


def found(header: list[str], mapping: ColumnMapping | None = None) -> dict[str, str]:
    return Columns(header, "header found at line 1", mapping).found


def refused(header: list[str], mapping: ColumnMapping | None = None) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        Columns(header, "header found at line 1", mapping)
    return caught.value


def test_synonyms_and_names_never_mean_two_fields():
    names = [normalise(name) for name in ORDER_FIELDS]
    synonyms = [normalise(s) for values in SYNONYMS.values() for s in values]

    assert len(set(names + synonyms)) == len(names) + len(synonyms)


def test_the_synonyms_are_those_of_the_orders_fields_in_their_order():
    assert tuple(SYNONYMS) == ORDER_FIELDS


def test_a_row_becomes_the_order_in_its_groups():
    columns = Columns(["email", "qty", "Extra", *ORDER_FIELDS[:2], "name", "item-desc"], "h", None)
    order = columns.order(["e", "3", "x", "A", "B", "n", "d"])
    assert order == {
        "order-info": {"OrderId": "A", "item-id": "B", "item-desc": "d", "qty": "3"},
        "contact-info": {"name": "n", "email": "e"},
        "Extra": "x",
    }
    assert [list(group) for group in order.values() if isinstance(group, dict)] == [
        ["OrderId", "item-id", "item-desc", "qty"],
        ["name", "email"],
    ]


@pytest.mark.parametrize("header", ["Order ID", "order_id", "ORDERID", "order-id", " OrderId "])
def test_case_spaces_and_punctuation_do_not_matter(header):
    assert (
        found([header, "item-id", "item-desc", "qty", "name", "email"])["OrderId"] == header.strip()
    )


def test_the_issues_header_is_read_through_synonyms():
    header = ["Order ID", "Item ID", "Description", "Quantity", "Name", "E-mail"]

    assert found(header) == dict(zip(ORDER_FIELDS, header, strict=True))


def test_a_fields_own_name_wins_over_a_synonym_and_the_synonym_stays_an_extra():
    columns = Columns([*ORDER_FIELDS, "Quantity"], "header", None)

    assert columns.found["qty"] == "qty"
    assert columns.order(["1", "2", "3", "4", "5", "6", "7"])["Quantity"] == "7"


def test_two_columns_meaning_one_field_are_refused_not_guessed():
    error = refused(["Order ID", "order_id", "item-id", "item-desc", "qty", "name", "email"])

    assert error.code == "file.duplicate_columns"
    assert '"Order ID" and "order_id" both match OrderId' in error.message


def test_a_missing_column_names_the_closest_headers():
    error = refused(["OrderId", "item-id", "item-desc", "Quantitiy", "name", "email"])

    assert error.code == "file.missing_columns"
    assert 'qty (closest headers: "Quantitiy")' in error.message
    assert "header found at line 1: OrderId, item-id" in error.message


def test_a_mapping_names_columns_no_rule_would_find():
    mapping = ColumnMapping({"OrderId": "Bestellung", "qty": "Menge"})
    header = ["Bestellung", "item-id", "item-desc", "Menge", "name", "email"]

    assert found(header, mapping)["qty"] == "Menge"


def test_a_mapped_column_is_taken_from_the_automatic_match():
    # their "Name" holds the product's name; the buyer is in "Customer"
    mapping = ColumnMapping({"item-desc": "Name"})
    header = ["OrderId", "item-id", "Name", "qty", "Customer", "email"]

    assert found(header, mapping) == {
        "item-desc": "Name",
        "OrderId": "OrderId",
        "item-id": "item-id",
        "qty": "qty",
        "name": "Customer",
        "email": "email",
    }


def test_a_mapped_column_that_is_not_there_says_so():
    mapping = ColumnMapping({"qty": "Menge"})

    error = refused(["OrderId", "item-id", "item-desc", "Mengen", "name", "email"], mapping)

    assert error.code == "file.missing_columns"
    assert 'the mapping names the column "Menge", which is not there' in error.message
    assert '"Mengen"' in error.message


def test_a_report_header_and_its_cells_lose_exactly_one_leading_quote():
    columns = Columns([*ORDER_FIELDS, "'=note", "_row", "_errors"], "header", None)

    order = columns.order(["'-1", "''x'", "x'", "'+3", "'@a", "'=b", "'=HYPERLINK()", "2", "e"])

    assert order["order-info"] == {
        "OrderId": "-1",
        "item-id": "'x'",
        "item-desc": "x'",
        "qty": "+3",
    }
    assert order["contact-info"] == {"name": "@a", "email": "=b"}
    assert order["=note"] == "=HYPERLINK()"


def test_a_quote_in_an_ordinary_upload_is_the_senders():
    columns = Columns(list(ORDER_FIELDS), "header", None)

    assert columns.order(["'1", "2", "3", "4", "5", "6"])["order-info"]["OrderId"] == "'1"


def test_mapping_from_json_reads_every_key():
    mapping = ColumnMapping.from_json(
        '{"columns": {"qty": " Menge "}, "sheet": "Orders", "delimiter": "tab"}'
    )

    assert mapping == ColumnMapping({"qty": "Menge"}, "Orders", "\t")
    assert ColumnMapping.from_json(mapping.to_dict()) == mapping
    assert ColumnMapping.from_json("{}") == ColumnMapping()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("not json", "it is not JSON"),
        ("[]", "must be a JSON object"),
        ('{"colums": {}}', 'unknown key "colums"'),
        ('{"columns": {"quantity": "Menge"}}', 'unknown field "quantity"'),
        ('{"columns": {"qty": ""}}', "the header for qty must be a non-empty string"),
        ('{"columns": {"qty": 3}}', "the header for qty must be a non-empty string"),
        ('{"columns": {"qty": "A", "name": "a"}}', "mapped to several fields: qty, name"),
        ('{"columns": []}', "columns must be an object"),
        ('{"sheet": ""}', "sheet must be a non-empty string"),
        ('{"delimiter": ":"}', "delimiter must be one of"),
        ('{"delimiter": {}}', "delimiter must be one of"),  # found by the API's fuzz: a 500
        ('{"delimiter": [";"]}', 'delimiter must be one of ",", ";", "\\t", "|" (or comma'),
        ('{"sheet": {"a": 1}}', "sheet must be a non-empty string"),
    ],
)
def test_mapping_from_json_refuses_with_every_problem(data, problem):
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_json(data)

    assert caught.value.code == "mapping.invalid"
    assert problem in caught.value.message


def test_mapping_from_json_lists_every_problem_at_once():
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_json({"columns": {"x": "a"}, "sheet": 1, "delimiter": "::"})

    message = caught.value.message
    assert 'unknown field "x"' in message
    assert "sheet must be" in message
    assert "delimiter must be" in message


def test_annotation_columns_never_match_a_field():
    error = refused(["OrderId", "item-id", "item-desc", "qty", "_name", "email"])

    assert error.code == "file.missing_columns"
    assert 'name (closest headers: "_name")' in error.message


@pytest.mark.parametrize(
    ("head", "report"),
    [
        (b"OrderId,item-id,item-desc,qty,name,email,_row,_errors\r\n1,2", True),
        (b'\r\n"OrderId","_row","_errors"\r\n', True),
        (b"Bestellung;Menge;_errors\r\n", False),  # not our comma-delimited header
        (b"OrderId,qty,errors\r\n", False),
        (b"", False),
    ],
)
def test_our_report_is_told_by_its_header(head, report):
    assert is_report(head) is report
