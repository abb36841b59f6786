"""`ReviewRecords.outcomes`: where every reviewed order of a batch ended, read from the groups'
`outcomes` alone (what `orders run` counts its orders from), over several DynamoDB pages, from
continuation items, and from groups recorded before there were `outcomes`."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.review.records import ReviewRecords
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.unit.test_review_pages import BATCH, OTHER, review, write_review_items


def _records(local: EmbeddedAWS, page_size: int | None = 2) -> ReviewRecords:
    return ReviewRecords(local.dynamodb, local.settings.reviews_table, page_size=page_size)


def _expected(records: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    return {r["row"]: (r["decision"], r["ended"]) for r in records}


def test_every_reviewed_order_of_the_batch_and_only_of_it(local: EmbeddedAWS) -> None:
    mine = [review(BATCH, row) for row in range(1, 41)]  # 6 groups of 7: 3 pages of 2
    write_review_items(local.dynamodb, local.settings.reviews_table, mine)
    write_review_items(local.dynamodb, local.settings.reviews_table, [review(OTHER, 1)])

    found = _records(local).outcomes(sender="demo", batch_id=BATCH)

    assert found == _expected(mine)
    assert _records(local).outcomes(sender="someone-else", batch_id=BATCH) == {}


def test_a_group_recorded_before_outcomes_is_read_in_full(local: EmbeddedAWS) -> None:
    records = [review(BATCH, row) for row in range(1, 15)]  # two groups of 7
    table = local.settings.reviews_table
    write_review_items(local.dynamodb, table, records)
    old_key = {"sender": {"S": "demo"}, "batch_group": {"S": f"{BATCH}/000000"}}
    local.dynamodb.update_item(  # as the reviewer wrote it before outcomes
        TableName=table, Key=old_key, UpdateExpression="REMOVE outcomes"
    )
    items = local.dynamodb.query(
        TableName=table,
        KeyConditionExpression="sender = :s",
        ExpressionAttributeValues={":s": {"S": "demo"}},
    )["Items"]
    assert [("outcomes" in item) for item in items] == [False, True]

    assert _records(local).outcomes(sender="demo", batch_id=BATCH) == _expected(records)


def test_a_group_continued_in_more_items_counts_every_order(local: EmbeddedAWS) -> None:
    records = [{**review(BATCH, row), "why": "w" * 60_000} for row in range(1, 13)]  # > 350 KB
    writer = _records(local)
    assert writer.put_group(
        sender="demo", batch_id=BATCH, group="g-00000", message_id="m", reviews=records
    )
    stored = local.dynamodb.query(
        TableName=local.settings.reviews_table,
        KeyConditionExpression="sender = :s",
        ExpressionAttributeValues={":s": {"S": "demo"}},
    )["Items"]
    assert len(stored) > 1  # the group took more than one item

    assert writer.outcomes(sender="demo", batch_id=BATCH) == _expected(records)


@pytest.mark.parametrize("field", ["decision", "ended"])
def test_decision_and_ended_are_never_marked(local: EmbeddedAWS, field: str) -> None:
    records = [review(BATCH, 1)]
    write_review_items(local.dynamodb, local.settings.reviews_table, records)
    with pytest.raises(ValueError, match=field):
        _records(local).mark(f"{BATCH}:1", sender="demo", **{field: "other"})
    assert _records(local).outcomes(sender="demo", batch_id=BATCH) == _expected(records)
