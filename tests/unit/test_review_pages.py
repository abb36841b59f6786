"""GET /reviews pages with a cursor, and no count of review records is ever cut.

On the reviews and batches tables alone in moto (tests/unit/conftest.py), written straight
into as the reviewer leaves them."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws, wiring
from chalicelib.api import service
from chalicelib.api.errors import BadRequest
from chalicelib.contracts import Counts
from chalicelib.pipeline.batches import SUCCEEDED
from chalicelib.pipeline.deadletter import group_id, group_message_id
from chalicelib.review.records import ReviewRecords, group_item
from chalicelib.settings import Settings
from tests.unit.conftest import MotoStack

BATCH = "b-pages"
OTHER = "b-other"
NOTHING: Any = None
GROUP_SIZE = 7  # rows per rejection group in these tests: pages end inside groups

# Where the records of these tests ended, in turn: 3 repaired, 1 retried, 1 archived of 5.
PLACES = [("repair", "stored"), ("repair", "stored"), ("repair", "stored"), ("retry", "stored"),
          ("archive", "archived")]  # fmt: skip


def review(batch_id: str, row: int, reason: str = "invalid") -> dict[str, Any]:
    decision, ended = PLACES[row % len(PLACES)]
    return {
        "review_id": f"{batch_id}:{row}",
        "batch_id": batch_id,
        "row": row,
        "order_id": f"o-{row}",
        "reason": reason,
        "decision": decision,
        "ended": ended,
        "why": "",
        "changes": [],
    }


@pytest.fixture
def tables(moto_stack: MotoStack, reviews_table: str, batches_table: str) -> MotoStack:
    """The reviews table (GET /reviews, `orders dlq review`) and the batches table (GET
    /batches/{id}, and what the CLI checks before it reads)."""
    return moto_stack


def write_reviews(tables: MotoStack, records: list[dict[str, Any]]) -> None:
    write_review_items(aws.dynamodb(), tables.settings.reviews_table, records)


def write_review_items(
    client: Any, table: str, records: list[dict[str, Any]], group_size: int = GROUP_SIZE
) -> None:
    """Straight into the table as the reviewer leaves them, one item per rejection group of
    `group_size` rows of a batch (groups straddle pages), 25 items per BatchWriteItem."""
    writer = ReviewRecords(client, table)
    by_batch: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_batch.setdefault(record["batch_id"], []).append(record)
    items = []
    for batch_id, mine in by_batch.items():
        for start in range(0, len(mine), group_size):
            chunk = start // group_size
            item = group_item(
                sender="demo", batch_id=batch_id, group=group_id(chunk),
                message_id=group_message_id(batch_id, chunk),
                reviews=mine[start : start + group_size],
            )  # fmt: skip
            items.append(writer.serialize(item))
    for start in range(0, len(items), 25):
        requests: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        unprocessed = client.batch_write_item(RequestItems={table: requests})["UnprocessedItems"]
        assert not unprocessed


def expected_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['decision']}:{r['ended']}" for r in records))


def deps(tables: MotoStack, page_size: int | None = 4) -> service.Deps:
    # DynamoDB pages of 4 items: every read below takes several requests
    return dataclasses.replace(wiring.api_deps(tables.settings), review_page_size=page_size)


def walk(tables: MotoStack, limit: str, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of GET /reviews, following `next`."""
    cursor = None
    while True:
        page = service.list_reviews(
            query.get("batch_id"), query.get("reason"), limit=limit, cursor=cursor,
            sender="demo", deps=deps(tables),
        )  # fmt: skip
        yield page
        cursor = page.get("next")
        if cursor is None:
            return


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [{"batch_id": BATCH}, {"reason": "invalid"}, {}],
    ids=["by-batch", "by-reason", "everything"],
)
def test_25_records_come_in_pages_of_10_with_a_cursor_and_counts_over_all(tables, query):
    # given 25 review records of the batch (and, for a read by batch, 5 of another batch)
    records = [review(BATCH, row) for row in range(1, 26)]
    others = [review(OTHER, row, reason="conflict") for row in range(1, 6)]
    write_reviews(tables, records + (others if "batch_id" in query else []))

    # when GET /reviews is followed page by page, 10 at a time
    pages = list(walk(tables, "10", **query))

    # then there are pages of 10, 10 and 5, the last without `next`; every record comes once;
    # the first page counts every record and the others carry no counts
    assert [len(p["reviews"]) for p in pages] == [10, 10, 5]
    assert ["next" in p for p in pages] == [True, True, False]
    seen = [r["review_id"] for p in pages for r in p["reviews"]]
    assert sorted(seen) == sorted(r["review_id"] for r in records)
    assert pages[0]["counts"] == expected_counts(records)
    assert sum(pages[0]["counts"].values()) == 25
    assert ["counts" in p for p in pages] == [True, False, False]


def test_a_filter_on_batch_and_reason_still_fills_each_page(tables):
    # given a batch whose rejections had two reasons, interleaved: 15 invalid, 10 conflicts
    records = [review(BATCH, row, "conflict" if row % 5 in {0, 3} else "invalid")
               for row in range(1, 26)]  # fmt: skip
    write_reviews(tables, records)

    # when the invalid ones are read 10 at a time
    pages = list(walk(tables, "10", batch_id=BATCH, reason="invalid"))

    # then the pages hold 10 and 5 of them, though the filter drops some of every request
    assert [len(p["reviews"]) for p in pages] == [10, 5]
    assert {r["reason"] for p in pages for r in p["reviews"]} == {"invalid"}
    invalid = [r for r in records if r["reason"] == "invalid"]
    assert pages[0]["counts"] == expected_counts(invalid)


def test_exactly_one_full_page_has_no_next(tables):
    write_reviews(tables, [review(BATCH, row) for row in range(1, 11)])

    (page,) = walk(tables, "10", batch_id=BATCH)

    assert len(page["reviews"]) == 10
    assert "next" not in page


def test_no_records_is_an_empty_page_with_empty_counts(tables):
    (page,) = walk(tables, "10", batch_id=BATCH)

    assert page == {"reviews": [], "counts": {}}


# --- what a client may send -------------------------------------------------------------------


def cursor_of(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


GROUP = "000000"
BAD_CURSORS = {
    "not-base64": "%%%not a cursor%%%",
    "not-json": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "not-an-object": cursor_of([1, 2]),
    "other-fields": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": 1, "extra": 1}),
    "no-row": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None}),
    "another-sender": cursor_of({"s": "other", "b": BATCH, "r": None, "k": None, "o": 1}),
    "key-of-another-sender": cursor_of(
        {"s": "demo", "b": BATCH, "r": None, "k": ["other", f"{BATCH}/{GROUP}"], "o": 1}
    ),
    "another-batch": cursor_of(
        {"s": "demo", "b": OTHER, "r": None, "k": ["demo", f"{OTHER}/{GROUP}"], "o": 1}
    ),
    "another-reason": cursor_of(
        {"s": "demo", "b": BATCH, "r": "conflict", "k": ["demo", f"{BATCH}/{GROUP}"], "o": 1}
    ),
    "key-of-another-batch": cursor_of(
        {"s": "demo", "b": BATCH, "r": None, "k": ["demo", f"{OTHER}/{GROUP}"], "o": 1}
    ),
    "empty-key": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": ["demo", ""], "o": 1}),
    "key-not-text": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": ["demo", 7], "o": 1}),
    "key-not-a-list": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": GROUP, "o": 1}),
    "too-few-keys": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": ["demo"], "o": 1}),
    "too-many-keys": cursor_of(
        {"s": "demo", "b": BATCH, "r": None, "k": ["demo", "a", "b"], "o": 1}
    ),
    "row-not-a-number": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": "1"}),
    "row-negative": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": -1}),
    "row-true": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": True}),
    "row-huge": cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": 10**30}),
    "lone-surrogate": base64.urlsafe_b64encode(
        b'{"s": "demo", "b": "b-pages", "r": null, "k": ["demo", "\\ud800"], "o": 1}'
    ).decode(),
    "key-too-long": cursor_of(
        {"s": "demo", "b": BATCH, "r": None, "k": [BATCH, "x" * 2000], "o": 1}
    ),
    "too-long": "A" * 10_000,
}


# No AWS at all: a refused request is refused before any read (a read would fail here).
NO_AWS = service.Deps(
    settings=Settings.model_validate({}), s3=NOTHING, sfn=NOTHING, dynamodb=NOTHING,
    presigner=NOTHING,
)  # fmt: skip


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_cursor_this_api_did_not_hand_out_is_a_400_bad_cursor(cursor):
    with pytest.raises(BadRequest) as refused:
        service.list_reviews(BATCH, None, limit="2", cursor=cursor, sender="demo", deps=NO_AWS)

    assert refused.value.code == "bad_cursor"


def test_a_cursor_of_the_same_query_made_by_hand_reads_on_from_there(tables):
    # an opaque cursor is not a secret: one that names a real position is simply followed
    write_reviews(tables, [review(BATCH, row) for row in range(1, 4)])
    cursor = cursor_of({"s": "demo", "b": BATCH, "r": None, "k": None, "o": 1})

    page = service.list_reviews(
        BATCH, None, limit="5", cursor=cursor, sender="demo", deps=deps(tables)
    )

    assert [r["row"] for r in page["reviews"]] == [2, 3]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", "", "9" * 5000, "٣"])
def test_a_limit_outside_1_to_1000_is_a_400_bad_limit(limit):
    with pytest.raises(BadRequest) as refused:
        service.list_reviews(BATCH, None, limit=limit, sender="demo", deps=NO_AWS)

    assert refused.value.code == "bad_limit"
    assert "1000" in refused.value.message


# --- more than 1,000 records ------------------------------------------------------------------


def test_counts_of_more_than_1000_records_are_not_cut(tables):
    # given 1,203 review records of one batch, written straight into the table
    records = [review(BATCH, row) for row in range(1, 1204)]
    write_reviews(tables, records)
    wiring.batch_records(tables.settings).finish(
        "demo", BATCH, status=SUCCEEDED, counts=Counts(total=1203, rejected=1203), error=None,
        report=None,
    )  # fmt: skip
    real = deps(tables, page_size=None)  # DynamoDB's own pages, as deployed

    # when GET /batches/{id} and GET /reviews count them
    reviewed = service.batch_status(BATCH, sender="demo", deps=real)["reviewed"]
    first = service.list_reviews(BATCH, None, limit="1000", sender="demo", deps=real)
    rest = service.list_reviews(
        BATCH, None, limit="1000", cursor=first["next"], sender="demo", deps=real
    )

    # then every record is counted, and the records come as 1,000 then 203
    assert reviewed == expected_counts(records)
    assert sum(reviewed.values()) == 1203
    assert first["counts"] == reviewed
    assert (len(first["reviews"]), len(rest["reviews"])) == (1000, 203)
    assert "next" not in rest
    assert len(ReviewRecords(aws.dynamodb(), tables.settings.reviews_table).query()) == 1203


def test_orders_dlq_review_follows_every_page(tables, monkeypatch, capsys):
    # given 25 records (four groups of up to 7) and an operator's tool that reads DynamoDB two
    # items at a time
    from orderflow_cli.main import main
    from orderflow_cli.stack import Stack

    write_reviews(tables, [review(BATCH, row) for row in range(1, 26)])
    requests: list[str] = []

    def small_pages(stack: Stack) -> ReviewRecords:
        stack.dynamodb.meta.events.register(
            "before-call.dynamodb.Query", lambda **_: requests.append("query")
        )
        return ReviewRecords(stack.dynamodb, stack.names["REVIEWS_TABLE"], page_size=2)

    monkeypatch.setattr(Stack, "reviews", property(small_pages))

    # when `orders dlq review --sender --batch` lists them
    assert main(["dlq", "review", "--sender", "demo", "--batch", BATCH, "--json"]) == 0

    # then it listed all 25, in row order, from two requests of two group items each
    listed = json.loads(capsys.readouterr().out)
    assert [r["row"] for r in listed] == list(range(1, 26))
    assert len(requests) == 2


# --- one order inside its group ---------------------------------------------------------------


def test_get_and_mark_address_one_order_inside_its_group(tables):
    # given 20 reviews of a batch in groups of 7, and 5 of another batch
    write_reviews(tables, [review(BATCH, row) for row in range(1, 21)])
    write_reviews(tables, [review(OTHER, row) for row in range(1, 6)])
    records = ReviewRecords(aws.dynamodb(), tables.settings.reviews_table)

    # when one order of the second group is read and marked
    found = records.get(f"{BATCH}:9")
    records.mark(f"{BATCH}:9", redriven_to="incoming/redrive/x.jsonl")

    # then it is that order's review; the mark changed it alone
    assert found is not None
    assert (found["review_id"], found["row"], found["order_id"]) == (f"{BATCH}:9", 9, "o-9")
    marked = [r for r in records.query() if r.get("redriven_to")]
    assert [r["review_id"] for r in marked] == [f"{BATCH}:9"]
    assert records.get(f"{BATCH}:9") == {**found, "redriven_to": "incoming/redrive/x.jsonl"}
    # and ids that name no review give nothing, and cannot be marked
    for missing in (f"{BATCH}:21", f"{BATCH}:x", "nobatch:3", "9", f"{OTHER}:6"):
        assert records.get(missing) is None
        with pytest.raises(KeyError):
            records.mark(missing, redriven_to="k")


def test_a_group_too_large_for_one_item_continues_in_more_items(tables, monkeypatch):
    # given items limited to a few reviews each, and a group of eight
    from chalicelib.review import records as module

    monkeypatch.setattr(module, "ITEM_BYTES", 1000)
    records = ReviewRecords(aws.dynamodb(), tables.settings.reviews_table)
    reviews = [review(BATCH, row) for row in range(1, 9)]

    # when the group is recorded, and recorded again (a redelivery)
    first = records.put_group(
        sender="demo", batch_id=BATCH, group="000002", message_id=f"{BATCH}:2", reviews=reviews
    )
    again = records.put_group(
        sender="demo", batch_id=BATCH, group="000002", message_id=f"{BATCH}:2", reviews=reviews
    )

    # then it took several items, each under the limit, and reads back whole, once
    items = tables.scan(tables.settings.reviews_table)
    assert (first, again) == (True, False)
    (head,) = [item for item in items if item["group"] == "000002"]
    assert head["continued"] == len(items) >= 2
    assert sorted(item["group"] for item in items)[1:] == [
        f"000002#{n}" for n in range(2, len(items) + 1)
    ]
    done = records.get_group("demo", BATCH, "000002")
    assert done is not None
    assert [r["row"] for r in done] == list(range(1, 9))
    assert [r["row"] for r in records.query(batch_id=BATCH)] == list(range(1, 9))
    assert records.count(batch_id=BATCH) == expected_counts(reviews)
    assert records.get(f"{BATCH}:8") is not None
