"""`ReviewRecords.outcomes`: where every reviewed order of a batch ended, read from the groups'
`outcomes` alone (what `orders run` counts its orders from), over several DynamoDB pages and
from continuation items; what an operator may mark; every field of a review record written and
read back (no field is dropped on the way). One table: the reviews table alone."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.contracts.deadletter import Reason
from chalicelib.contracts.review import (
    FIELD_NAMES,
    Change,
    Decision,
    Ended,
    ReviewRecord,
    parse_outcome,
)
from chalicelib.review.records import ReviewRecords
from tests.unit.test_review_pages import BATCH, OTHER, review, write_review_items


def _records(table: str, page_size: int | None = 2) -> ReviewRecords:
    return ReviewRecords(aws.dynamodb(), table, page_size=page_size)


def _expected(records: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    return {r["row"]: (r["decision"], r["ended"]) for r in records}


def test_every_reviewed_order_of_the_batch_and_only_of_it(reviews_table: str) -> None:
    mine = [review(BATCH, row) for row in range(1, 41)]  # 6 groups of 7: 3 pages of 2
    write_review_items(aws.dynamodb(), reviews_table, mine)
    write_review_items(aws.dynamodb(), reviews_table, [review(OTHER, 1)])

    found = _records(reviews_table).outcomes(sender="demo", batch_id=BATCH)

    assert found == _expected(mine)
    assert _records(reviews_table).outcomes(sender="someone-else", batch_id=BATCH) == {}


def test_a_group_without_outcomes_is_an_error_not_an_empty_group(reviews_table: str) -> None:
    # every group item is written with its outcomes (no stage holds one written before them,
    # so nothing reads a group in full for them): an item without is refused, never read as
    # a group of no orders
    write_review_items(aws.dynamodb(), reviews_table, [review(BATCH, row) for row in range(1, 15)])
    old_key = {"sender": {"S": "demo"}, "batch_group": {"S": f"{BATCH}/000000"}}
    aws.dynamodb().update_item(
        TableName=reviews_table, Key=old_key, UpdateExpression="REMOVE outcomes"
    )

    with pytest.raises(ValueError, match=r"000000.* has no outcomes"):
        _records(reviews_table).outcomes(sender="demo", batch_id=BATCH)


def test_a_group_continued_in_more_items_counts_every_order(reviews_table: str) -> None:
    records = [{**review(BATCH, row), "why": "w" * 60_000} for row in range(1, 13)]  # > 350 KB
    writer = _records(reviews_table)
    assert writer.put_group(
        sender="demo", batch_id=BATCH, group="g-00000", message_id="m", reviews=records
    )
    stored = aws.dynamodb().query(
        TableName=reviews_table,
        KeyConditionExpression="sender = :s",
        ExpressionAttributeValues={":s": {"S": "demo"}},
    )["Items"]
    assert len(stored) > 1  # the group took more than one item

    assert writer.outcomes(sender="demo", batch_id=BATCH) == _expected(records)


@pytest.mark.parametrize("field", ["decision", "ended", "reason", "row"])
def test_what_the_group_holds_besides_the_order_is_never_marked(
    reviews_table: str, field: str
) -> None:
    records = [review(BATCH, 1)]
    write_review_items(aws.dynamodb(), reviews_table, records)
    with pytest.raises(ValueError, match=field):
        _records(reviews_table).mark(f"{BATCH}:1", sender="demo", **{field: "other"})
    assert _records(reviews_table).outcomes(sender="demo", batch_id=BATCH) == _expected(records)
    assert _records(reviews_table).get(f"{BATCH}:1") == _records(reviews_table).query()[0]
    assert _records(reviews_table).query()[0][field] == records[0][field]


def test_a_field_a_review_does_not_have_is_never_marked(reviews_table: str) -> None:
    # a reader would drop it: refused, not written where nothing reads it
    write_review_items(aws.dynamodb(), reviews_table, [review(BATCH, 1)])

    with pytest.raises(ValueError, match="no field colour"):
        _records(reviews_table).mark(f"{BATCH}:1", sender="demo", colour="red")


# --- the record -------------------------------------------------------------------------------


def _every_field() -> ReviewRecord:
    """A record with every field set, none to its default."""
    return ReviewRecord(
        review_id=f"{BATCH}:3", row=3, order_id="o-3", reason=Reason.INVALID,
        decision=Decision.ARCHIVE, ended=Ended.ARCHIVED, why="still invalid after repair: x",
        changes=(Change("qty_integral_decimal", "order-info.qty", "2.0", 2),),
        archive_key=f"archive/demo/{BATCH}/000000.json",
        redriven_to="incoming/demo/redrive/0a1b.jsonl", sender="demo", batch_id=BATCH,
        created_at="2026-12-07T23:00:00Z",
    )  # fmt: skip


def test_every_field_of_a_record_comes_back_from_its_plain_values() -> None:
    record = _every_field()
    defaults = {f.name: f.default for f in dataclasses.fields(ReviewRecord)}
    assert [name for name in FIELD_NAMES if getattr(record, name) == defaults[name]] == []

    plain = record.to_dict()

    assert list(plain) == list(FIELD_NAMES)
    assert (plain["reason"], plain["decision"], plain["ended"]) == (
        "invalid",
        "archive",
        "archived",
    )
    assert type(plain["decision"]) is str  # plain values: JSON and DynamoDB take them as text
    assert ReviewRecord.from_dict(plain) == record
    assert parse_outcome(record.outcome) == (Decision.ARCHIVE, Ended.ARCHIVED)


def test_every_field_of_a_record_is_kept_in_the_table_and_read_back(reviews_table: str) -> None:
    records = _records(reviews_table)
    record = _every_field()

    assert records.put_group(
        sender="demo", batch_id=BATCH, group="000000", message_id=f"{BATCH}:0", reviews=[record]
    )

    # then every reader hands out every field; created_at is the group's, set when written
    read = records.get(record.review_id, sender="demo")
    assert read is not None
    assert read["created_at"]
    assert read == {**record.to_dict(), "created_at": read["created_at"]}
    assert records.get_group("demo", BATCH, "000000") == [read]
    assert records.query() == [read]
    assert records.page(sender="demo", limit=5).records == [read]
    assert records.count(batch_id=BATCH) == {"archive:archived": 1}


def test_a_repair_of_a_float_is_kept(reviews_table: str) -> None:
    # a JSON order's qty of 2.0, repaired to 2: DynamoDB takes no float, and the group's item
    # could not be written (the message failed every delivery, its order already stored)
    records = _records(reviews_table)
    change = Change("qty_integral_decimal", "order-info.qty", 2.0, 2)
    record = dataclasses.replace(
        _every_field(), decision=Decision.REPAIR, ended=Ended.STORED, changes=(change,)
    )

    assert records.put_group(
        sender="demo", batch_id=BATCH, group="000000", message_id=f"{BATCH}:0", reviews=[record]
    )

    (read,) = records.query()
    assert read["changes"] == [{**change.to_dict(), "before": 2}]  # a number, read back as 2
