"""GET /reviews pages with a cursor, and no count of review records is ever cut."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib import wiring
from chalicelib.api import service
from chalicelib.api.errors import BadRequest
from chalicelib.pipeline.batches import SUCCEEDED, Counts
from chalicelib.review.records import ReviewRecords
from chalicelib.settings import Settings
from orderflow_cli.emulator.runtime import EmbeddedAWS

BATCH = "b-pages"
OTHER = "b-other"
_serialize = TypeSerializer().serialize
NOTHING: Any = None

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
        "created_at": f"2026-11-25T10:{row // 60 % 60:02d}:{row % 60:02d}Z",
    }


def write_reviews(local: EmbeddedAWS, records: list[dict[str, Any]]) -> None:
    write_review_items(local.dynamodb, local.settings.reviews_table, records)


def write_review_items(client: Any, table: str, records: list[dict[str, Any]]) -> None:
    """Straight into the table, 25 per BatchWriteItem, as a long-running reviewer leaves them."""
    for start in range(0, len(records), 25):
        requests: Any = [
            {"PutRequest": {"Item": {k: _serialize(v) for k, v in record.items()}}}
            for record in records[start : start + 25]
        ]
        unprocessed = client.batch_write_item(RequestItems={table: requests})["UnprocessedItems"]
        assert not unprocessed


def expected_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['decision']}:{r['ended']}" for r in records))


def deps(local: EmbeddedAWS, page_size: int | None = 4) -> service.Deps:
    # DynamoDB pages of 4 items: every read below takes several requests
    return dataclasses.replace(wiring.api_deps(local.settings), review_page_size=page_size)


def walk(local: EmbeddedAWS, limit: str, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of GET /reviews, following `next`."""
    cursor = None
    while True:
        page = service.list_reviews(
            query.get("batch_id"), query.get("reason"), limit=limit, cursor=cursor,
            deps=deps(local),
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
def test_25_records_come_in_pages_of_10_with_a_cursor_and_counts_over_all(local, query):
    # given 25 review records of the batch (and, for a read by batch, 5 of another batch)
    records = [review(BATCH, row) for row in range(1, 26)]
    others = [review(OTHER, row, reason="conflict") for row in range(1, 6)]
    write_reviews(local, records + (others if "batch_id" in query else []))

    # when GET /reviews is followed page by page, 10 at a time
    pages = list(walk(local, "10", **query))

    # then there are pages of 10, 10 and 5, the last without `next`; every record comes once;
    # the first page counts every record and the others carry no counts
    assert [len(p["reviews"]) for p in pages] == [10, 10, 5]
    assert ["next" in p for p in pages] == [True, True, False]
    seen = [r["review_id"] for p in pages for r in p["reviews"]]
    assert sorted(seen) == sorted(r["review_id"] for r in records)
    assert pages[0]["counts"] == expected_counts(records)
    assert sum(pages[0]["counts"].values()) == 25
    assert ["counts" in p for p in pages] == [True, False, False]


def test_a_filter_on_batch_and_reason_still_fills_each_page(local):
    # given a batch whose rejections had two reasons, interleaved: 15 invalid, 10 conflicts
    records = [review(BATCH, row, "conflict" if row % 5 in {0, 3} else "invalid")
               for row in range(1, 26)]  # fmt: skip
    write_reviews(local, records)

    # when the invalid ones are read 10 at a time
    pages = list(walk(local, "10", batch_id=BATCH, reason="invalid"))

    # then the pages hold 10 and 5 of them, though the filter drops some of every request
    assert [len(p["reviews"]) for p in pages] == [10, 5]
    assert {r["reason"] for p in pages for r in p["reviews"]} == {"invalid"}
    invalid = [r for r in records if r["reason"] == "invalid"]
    assert pages[0]["counts"] == expected_counts(invalid)


def test_exactly_one_full_page_has_no_next(local):
    write_reviews(local, [review(BATCH, row) for row in range(1, 11)])

    (page,) = walk(local, "10", batch_id=BATCH)

    assert len(page["reviews"]) == 10
    assert "next" not in page


def test_no_records_is_an_empty_page_with_empty_counts(local):
    (page,) = walk(local, "10", batch_id=BATCH)

    assert page == {"reviews": [], "counts": {}}


# --- what a client may send -------------------------------------------------------------------


def cursor_of(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


BAD_CURSORS = {
    "not-base64": "%%%not a cursor%%%",
    "not-json": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "not-an-object": cursor_of([1, 2]),
    "other-fields": cursor_of({"b": BATCH, "r": None, "k": ["x"], "extra": 1}),
    "another-batch": cursor_of({"b": OTHER, "r": None, "k": [f"{OTHER}:1"]}),
    "another-reason": cursor_of({"b": BATCH, "r": "conflict", "k": [f"{BATCH}:1"]}),
    "empty-key": cursor_of({"b": BATCH, "r": None, "k": [""]}),
    "key-not-text": cursor_of({"b": BATCH, "r": None, "k": [7]}),
    "too-many-keys": cursor_of({"b": BATCH, "r": None, "k": ["a", "b"]}),
    "lone-surrogate": base64.urlsafe_b64encode(
        b'{"b": "b-pages", "r": null, "k": ["\\ud800"]}'
    ).decode(),
    "key-too-long": cursor_of({"b": BATCH, "r": None, "k": ["x" * 2000]}),
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
        service.list_reviews(BATCH, None, limit="2", cursor=cursor, deps=NO_AWS)

    assert refused.value.code == "bad_cursor"


def test_a_cursor_of_the_same_query_made_by_hand_reads_on_from_there(local):
    # an opaque cursor is not a secret: one that names a real position is simply followed
    write_reviews(local, [review(BATCH, row) for row in range(1, 4)])
    cursor = cursor_of({"b": BATCH, "r": None, "k": [f"{BATCH}:1"]})

    page = service.list_reviews(BATCH, None, limit="5", cursor=cursor, deps=deps(local))

    assert [r["row"] for r in page["reviews"]] == [2, 3]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", "", "9" * 5000, "٣"])
def test_a_limit_outside_1_to_1000_is_a_400_bad_limit(limit):
    with pytest.raises(BadRequest) as refused:
        service.list_reviews(BATCH, None, limit=limit, deps=NO_AWS)

    assert refused.value.code == "bad_limit"
    assert "1000" in refused.value.message


# --- more than 1,000 records ------------------------------------------------------------------


def test_counts_of_more_than_1000_records_are_not_cut(local):
    # given 1,203 review records of one batch, written straight into the table
    records = [review(BATCH, row) for row in range(1, 1204)]
    write_reviews(local, records)
    wiring.batch_records(local.settings).finish(
        BATCH, status=SUCCEEDED, counts=Counts(total=1203, rejected=1203), error=None,
        report=None,
    )  # fmt: skip
    real = deps(local, page_size=None)  # DynamoDB's own pages, as deployed

    # when GET /batches/{id} and GET /reviews count them
    reviewed = service.batch_status(BATCH, deps=real)["reviewed"]
    first = service.list_reviews(BATCH, None, limit="1000", deps=real)
    rest = service.list_reviews(BATCH, None, limit="1000", cursor=first["next"], deps=real)

    # then every record is counted, and the records come as 1,000 then 203
    assert reviewed == expected_counts(records)
    assert sum(reviewed.values()) == 1203
    assert first["counts"] == reviewed
    assert (len(first["reviews"]), len(rest["reviews"])) == (1000, 203)
    assert "next" not in rest
    assert len(ReviewRecords(local.dynamodb, local.settings.reviews_table).query()) == 1203


def test_orders_dlq_review_follows_every_page(local, monkeypatch, capsys):
    # given 25 records and an operator's tool that reads DynamoDB 10 items at a time
    from orderflow_cli import dlq
    from orderflow_cli.main import main

    write_reviews(local, [review(BATCH, row) for row in range(1, 26)])
    requests: list[str] = []

    def small_pages(stack: dlq.Stack) -> ReviewRecords:
        stack.dynamodb.meta.events.register(
            "before-call.dynamodb.Query", lambda **_: requests.append("query")
        )
        return ReviewRecords(stack.dynamodb, stack.names["REVIEWS_TABLE"], page_size=10)

    monkeypatch.setattr(dlq.Stack, "reviews", property(small_pages))

    # when `orders dlq review --batch` lists them
    assert main(["dlq", "review", "--batch", BATCH, "--json"]) == 0

    # then it listed all 25, in row order, from three requests
    listed = json.loads(capsys.readouterr().out)
    assert [r["row"] for r in listed] == list(range(1, 26))
    assert len(requests) == 3
