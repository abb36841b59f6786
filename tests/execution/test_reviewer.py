"""The DLQ reviewer, fed by the emulated event source mapping: retry, repair, archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib import aws
from chalicelib.review.records import ReviewRecords
from orderflow_cli.emulator.runtime import DLQ_MAX_RECEIVES, EmbeddedAWS
from tests.conftest import inject_faults, order, run, stored_items, write_orders


def reviews(local: EmbeddedAWS) -> ReviewRecords:
    return ReviewRecords(local.dynamodb, local.settings.reviews_table)


def by_order(local: EmbeddedAWS, batch_id: str) -> dict[str, dict[str, Any]]:
    return {r["order_id"] or r["review_id"]: r for r in reviews(local).query(batch_id=batch_id)}


def redrive_bodies(local: EmbeddedAWS) -> list[str]:
    return local._drain(local.redrive_queue_url)


def test_each_decision_path_ends_each_order_in_one_place(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    bad_id = order("x")
    bad_id["order-info"]["OrderId"] = 7001  # a number: repaired to "7001"
    orders = [
        order("7000"),
        bad_id,
        order("7002", qty="2.0"),  # repaired to 2
        order("7003", email="<someone@example.com>"),  # repaired to the address
        order("7004", qty="three"),  # archived: no rule may guess a number
        order("7000", qty="9"),  # a conflict: archived
    ]
    (batch,) = run(local, write_orders(tmp_path / "r.json", orders))
    assert (batch["stored"], batch["rejected"]) == (1, 5)

    assert local.dead_letters.settle() == 5

    ended = {k: (r["decision"], r["ended"]) for k, r in by_order(local, batch["batch_id"]).items()}
    assert ended == {
        "7001": ("repair", "stored"),
        "7002": ("repair", "stored"),
        "7003": ("repair", "stored"),
        "7004": ("archive", "archived"),
        "7000": ("archive", "archived"),
    }
    items = stored_items(local)
    assert sorted(items) == ["7000", "7001", "7002", "7003"]
    assert items["7002"]["order-info"]["qty"] == 2
    assert items["7003"]["contact-info"]["email"] == "someone@example.com"
    conflict = by_order(local, batch["batch_id"])["7000"]
    lost = json.loads(
        local.s3.get_object(Bucket=local.settings.bucket, Key=conflict["archive_key"])[
            "Body"
        ].read()
    )["message"]["order"]["order-info"]["qty"]
    # chunks run concurrently: either may have been first, and the other is never written
    assert {items["7000"]["order-info"]["qty"], int(lost)} == {1, 9}
    repaired = by_order(local, batch["batch_id"])["7001"]
    assert repaired["changes"] == [
        {"rule": "order_id_from_number", "field": "order-info.OrderId", "before": 7001,
         "after": "7001"}
    ]  # fmt: skip
    archived = by_order(local, batch["batch_id"])["7004"]
    kept = json.loads(
        local.s3.get_object(Bucket=local.settings.bucket, Key=archived["archive_key"])[
            "Body"
        ].read()
    )
    assert kept["message"]["order"]["order-info"]["qty"] == "three"
    assert kept["message"]["errors"][0]["code"] == "qty.not_positive_integer"
    assert [r["order_id"] for r in reviews(local).query(reason="conflict")] == ["7000"]
    assert local._drain(local.settings.dlq_url) == []


def test_store_failed_orders_are_retried_and_stored(local: EmbeddedAWS, tmp_path: Path) -> None:
    faults = {"on": True}
    inject_faults(
        aws.dynamodb(), "PutItem", lambda n: "ThrottlingException" if faults["on"] else None
    )
    (batch,) = run(local, write_orders(tmp_path / "t.json", [order("8001"), order("8002")]))
    assert batch["rejected_by_reason"] == {"store_failed": 2}
    faults["on"] = False  # the throttling is over

    local.dead_letters.settle()

    assert sorted(stored_items(local)) == ["8001", "8002"]
    decisions = {(r["decision"], r["ended"]) for r in reviews(local).query(reason="store_failed")}
    assert decisions == {("retry", "stored")}


def test_a_retry_that_keeps_failing_ends_in_the_redrive_queue(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    inject_faults(aws.dynamodb(), "PutItem", lambda n: "ThrottlingException")
    run(local, write_orders(tmp_path / "t.json", [order("8101")]))

    handed = local.dead_letters.settle()

    assert handed == DLQ_MAX_RECEIVES  # delivered again after each failure, then moved aside
    (kept,) = redrive_bodies(local)
    assert json.loads(kept)["order_id"] == "8101"
    assert reviews(local).query() == []


def test_a_poison_message_does_not_send_its_neighbours_back(local: EmbeddedAWS) -> None:
    url = local.settings.dlq_url
    good = [_message(f"9{i:03d}") for i in range(4)]
    for body in [*good[:2], "this is not JSON", *good[2:]]:
        local.sqs.send_message(QueueUrl=url, MessageBody=body)

    handed = local.dead_letters.settle()

    assert handed == 5 + (DLQ_MAX_RECEIVES - 1)  # the four once, the poison each time
    assert len(reviews(local).query()) == 4
    assert redrive_bodies(local) == ["this is not JSON"]


def test_a_message_delivered_twice_is_reviewed_once(local: EmbeddedAWS) -> None:
    body = _message("9500", qty="2.0")
    for _ in range(2):
        local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=body)

    local.dead_letters.settle()

    (record,) = reviews(local).query()
    assert (record["decision"], record["ended"]) == ("repair", "stored")
    assert list(stored_items(local)) == ["9500"]


def test_an_order_too_large_for_dynamodb_is_rejected_invalid_and_archived_with_its_row(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given a file whose second order is valid but larger than DynamoDB's 400 KB item limit
    # (and so larger than one SQS message too)
    huge = order("9901", note="x" * 500_000)
    path = write_orders(tmp_path / "big.json", [order("9900"), huge, order("9902")])

    (batch,) = run(local, path)

    # then it is one rejection, invalid with its own code, never retried; its neighbours stored
    assert (batch["stored"], batch["rejected"]) == (2, 1)
    assert batch["rejected_by_reason"] == {"invalid": 1}

    # when the reviewer takes its message
    local.dead_letters.settle()

    # then it is archived, saying why and where the whole order is, and nothing else stored
    (record,) = reviews(local).query(batch_id=batch["batch_id"])
    assert (record["decision"], record["ended"]) == ("archive", "archived")
    assert record["why"] == (
        "the order was too large to carry in a message; it is in the source file"
        f" s3://{local.settings.bucket}/incoming/big.json at row 2"
    )
    archived = local.s3.get_object(Bucket=local.settings.bucket, Key=record["archive_key"])
    message = json.loads(archived["Body"].read())["message"]
    assert message["order_truncated"] is True
    assert [e["code"] for e in message["errors"]] == ["order.too_large"]
    assert sorted(stored_items(local)) == ["9900", "9902"]


def test_a_truncated_store_failed_message_is_archived_not_retried(local: EmbeddedAWS) -> None:
    # given a store_failed message that carries only an excerpt of its order
    body = json.loads(_message("9600"))
    body.update(reason="store_failed", order='{"order-info": {"OrderId": "9600", "item', row=7)
    body["order_truncated"] = True
    local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=json.dumps(body))

    local.dead_letters.settle()

    # then the excerpt is never validated or stored: archived, pointing to the source row
    (record,) = reviews(local).query()
    assert (record["decision"], record["ended"]) == ("archive", "archived")
    assert "too large to carry in a message" in record["why"]
    assert record["why"].endswith("s3://b/k at row 7")
    assert stored_items(local) == {}


def _message(order_id: str, **fields: Any) -> str:
    sent = order(order_id, **fields)
    return json.dumps(
        {
            "message_id": f"b-manual:{order_id}",
            "reason": "invalid",
            "errors": [{"field": "order", "code": "x", "message": "x", "value": None}],
            "order": sent,
            "order_id": order_id,
            "row": int(order_id),
            "source": {"bucket": "b", "key": "k"},
            "batch_id": "b-manual",
        }
    )
