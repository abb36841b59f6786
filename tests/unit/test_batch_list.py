"""GET /batches: a sender's batches newest first (by created_at, then batch id), a page at a
time through the `by_created` index, never another sender's; every batch record carries
`created_at`, whoever wrote it first."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chalicelib import aws, wiring
from chalicelib.api import service
from chalicelib.api.errors import BadRequest
from chalicelib.contracts.completion import Counts
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.review.queries import encode_document
from tests.unit.conftest import MotoStack

SECONDS = [f"2026-12-0{day}T10:00:0{s}Z" for day in (5, 6) for s in range(3)]  # 6 seconds


def _records(moto_stack: MotoStack) -> BatchRecords:
    return BatchRecords(aws.dynamodb(), moto_stack.settings.batches_table)


def _created(table: str, sender: str, batch_id: str, created_at: str) -> None:
    """Sets a record's creation time (batches made within one test share a second or two)."""
    aws.dynamodb().update_item(
        TableName=table,
        Key={"sender": {"S": sender}, "batch_id": {"S": batch_id}},
        UpdateExpression="SET created_at = :c",
        ExpressionAttributeValues={":c": {"S": created_at}},
    )


@pytest.fixture
def many(batches_table: str, moto_stack: MotoStack) -> dict[str, list[tuple[str, str]]]:
    """57 batches of `acme` and 20 each of `other` and `acme-2` (an id acme's is a prefix of),
    over six seconds, many in the same second; their (created_at, batch_id) by sender."""
    records = _records(moto_stack)
    made: dict[str, list[tuple[str, str]]] = {"acme": [], "other": [], "acme-2": []}
    shuffle = random.Random(22)
    wanted = [("acme", i) for i in range(57)] + [
        (s, i) for s in ("other", "acme-2") for i in range(20)
    ]
    shuffle.shuffle(wanted)
    for sender, i in wanted:
        batch_id = f"up-{shuffle.getrandbits(40):010x}-{i}"
        records.create_pending(sender, batch_id, bucket="b", key=f"k/{i}", via="POST /orders")
        created = SECONDS[shuffle.randrange(len(SECONDS))]
        _created(batches_table, sender, batch_id, created)
        made[sender].append((created, batch_id))
    return made


def _all_pages(sender: str, limit: str, deps: Any) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    while True:
        page = service.list_batches(sender=sender, limit=limit, cursor=cursor, deps=deps)
        pages.append(page["batches"])
        cursor = page.get("next")
        if cursor is None:
            return pages
        assert len(pages) < 100, "the pages never end"


@pytest.mark.parametrize("limit", ["1", "7", "20", "57", "100"])
def test_every_batch_of_the_sender_once_newest_first_and_no_other_senders(
    many: dict[str, list[tuple[str, str]]], moto_stack: MotoStack, limit: str
) -> None:
    deps = wiring.api_deps(moto_stack.settings)

    pages = _all_pages("acme", limit, deps)

    listed = [(b["created_at"], b["batch_id"]) for page in pages for b in page]
    assert listed == sorted(many["acme"], reverse=True)  # by created_at, then batch id
    assert all(len(page) == int(limit) for page in pages[:-1])
    assert len(pages[-1]) == (57 % int(limit) or int(limit))  # no empty page after a `next`
    assert len(pages) == -(-57 // int(limit))


def test_a_page_ends_inside_a_second_many_batches_share(
    batches_table: str, moto_stack: MotoStack
) -> None:
    # 30 batches in one second: every page of 4 ends inside it
    records = _records(moto_stack)
    ids = [f"api-{i:03d}" for i in range(30)]
    for batch_id in ids:
        records.create_pending("acme", batch_id, bucket="b", key="k", via="POST /orders")
        _created(batches_table, "acme", batch_id, "2026-12-08T02:00:00Z")

    pages = _all_pages("acme", "4", wiring.api_deps(moto_stack.settings))

    assert [b["batch_id"] for page in pages for b in page] == sorted(ids, reverse=True)


def test_an_entry_has_every_member_and_reads_like_the_batchs_status(
    batches_table: str, moto_stack: MotoStack
) -> None:
    records = _records(moto_stack)
    records.create_pending(
        "acme", "up-1", bucket="b", key="incoming/acme/uploads/up-1/Bestellungen-M-rz.csv",
        via="POST /uploads", file_name="Bestellungen März.csv", corrects="api-0",
        upload_expires_at="2020-01-01T00:00:00Z",
    )  # fmt: skip
    records.create_pending("acme", "api-0", bucket="b", key="incoming/acme/api/api-0.json",
                           via="POST /orders", dry_run=True)  # fmt: skip
    records.start("acme", "orders-csv-1", bucket="b", key="incoming/acme/orders.csv", version=None)
    records.prepared("acme", "orders-csv-1", total=3, chunks=1)
    counts = Counts(total=3, stored=2, unchanged=1, rejected=1, rejected_by_reason={"invalid": 1})
    records.finish("acme", "orders-csv-1", status="succeeded", counts=counts, error=None)
    for batch_id, second in (("up-1", "1"), ("api-0", "2"), ("orders-csv-1", "3")):
        _created(batches_table, "acme", batch_id, f"2026-12-08T02:00:0{second}Z")
    deps = wiring.api_deps(moto_stack.settings)

    (finished, posted, uploaded) = service.list_batches(sender="acme", deps=deps)["batches"]

    assert finished == {
        "batch_id": "orders-csv-1", "status": "succeeded", "created_at": "2026-12-08T02:00:03Z",
        "dry_run": False, "total": 3, "done": 3, "stored": 2, "unchanged": 1, "rejected": 1,
        "rejected_by_reason": {"invalid": 1}, "file_name": "orders.csv", "corrects": None,
    }  # fmt: skip
    assert posted["dry_run"] is True
    assert posted["file_name"] is None
    assert (posted["status"], posted["total"], posted["stored"]) == ("pending", None, None)
    assert uploaded["status"] == "expired"  # as GET /batches/{id} says it
    assert (uploaded["file_name"], uploaded["corrects"]) == ("Bestellungen März.csv", "api-0")
    detail = service.batch_status("up-1", sender="acme", deps=deps)
    assert (detail["status"], detail["corrects"], detail["file_name"]) == (
        "expired", "api-0", "Bestellungen März.csv",
    )  # fmt: skip


def test_a_sender_without_batches_gets_an_empty_page(batches_table: str, moto_stack: MotoStack):
    deps = wiring.api_deps(moto_stack.settings)
    assert service.list_batches(sender="nobody-here", deps=deps) == {"batches": []}


def test_a_cursor_is_held_to_its_sender_and_its_list(
    many: dict[str, list[tuple[str, str]]], moto_stack: MotoStack
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    cursor = service.list_batches(sender="acme", limit="5", deps=deps)["next"]
    reviews = encode_document({"s": "acme", "b": None, "r": None, "k": None, "o": 1})
    forged = [
        cursor + "x",
        cursor[:-3],
        "not base64 at all!",
        reviews,  # a GET /reviews cursor
        encode_document({"t": "rejections", "s": "acme", "c": "x", "b": "y"}),
        encode_document({"t": "batches", "s": "acme", "c": "", "b": "api-1"}),
        encode_document({"t": "batches", "s": "acme", "c": "2026", "b": "../x"}),
        encode_document({"t": "batches", "s": "acme", "c": ["a"], "b": "api-1"}),
        "A" * 5000,
    ]
    with pytest.raises(BadRequest) as refused:  # another sender's cursor
        service.list_batches(sender="other", cursor=cursor, deps=deps)
    assert refused.value.code == "bad_cursor"
    for bad in forged:
        with pytest.raises(BadRequest) as refused:
            service.list_batches(sender="acme", cursor=bad, deps=deps)
        assert refused.value.code == "bad_cursor", bad


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1.5", "ten", "", "\u0661"])
def test_a_limit_outside_1_to_100_is_a_bad_limit(
    batches_table: str, moto_stack: MotoStack, limit: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        service.list_batches(sender="acme", limit=limit, deps=wiring.api_deps(moto_stack.settings))
    assert refused.value.code == "bad_limit"


def test_every_write_that_comes_first_gives_the_record_its_creation_time(
    batches_table: str, moto_stack: MotoStack
) -> None:
    records = _records(moto_stack)
    # a file dropped straight into the sender's folder: PrepareFile's start writes first
    started = records.start("acme", "direct-1", bucket="b", key="incoming/acme/a.csv", version=None)
    # a batch failed before it started: RecordBatch's finish writes first
    records.finish("acme", "failed-1", status="failed", counts=Counts(), error=None)
    records.add_progress("acme", "progress-1", 3)
    # a promised batch keeps the time it was promised at when it starts later
    records.create_pending("acme", "up-2", bucket="b", key="k", via="POST /uploads")
    _created(batches_table, "acme", "up-2", "2026-01-01T00:00:00Z")
    records.start("acme", "up-2", bucket="b", key="k", version=None)

    assert started["created_at"]
    for batch_id in ("direct-1", "failed-1", "progress-1"):
        assert (records.get("acme", batch_id) or {}).get("created_at"), batch_id
    assert (records.get("acme", "up-2") or {})["created_at"] == "2026-01-01T00:00:00Z"
    page, _ = records.newest("acme", limit=10)
    assert {r["batch_id"] for r in page} == {"direct-1", "failed-1", "progress-1", "up-2"}
