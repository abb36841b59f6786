"""The DLQ reviewer, fed by the emulated event source mapping: retry, repair, archive, one
rejection group (one message) at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.orders.validation import ValidOrder
from chalicelib.pipeline.store import OrderStore, StoreOutcome, StoreResult
from chalicelib.review.records import ReviewRecords
from orderflow_cli.emulator.runtime import DLQ_MAX_RECEIVES, EmbeddedAWS
from tests.conftest import inject_faults, order, run, stored_items, write_orders
from tests.driver import drain

pytestmark = pytest.mark.usefixtures("quick_waits")  # every retry waits a hundredth (conftest)


def reviews(local: EmbeddedAWS) -> ReviewRecords:
    return ReviewRecords(local.dynamodb, local.settings.reviews_table)


def by_order(local: EmbeddedAWS, batch_id: str) -> dict[str, dict[str, Any]]:
    return {r["order_id"] or r["review_id"]: r for r in reviews(local).query(batch_id=batch_id)}


def redrive_bodies(local: EmbeddedAWS) -> list[str]:
    return local.drain_redrive_queue()


def archived_entry(local: EmbeddedAWS, record: dict[str, Any]) -> dict[str, Any]:
    """The archive object's entry of one review (the object holds its group's orders)."""
    body = local.s3.get_object(Bucket=local.settings.bucket, Key=record["archive_key"])["Body"]
    entry: dict[str, Any] = json.loads(body.read())["orders"][record["review_id"]]
    return entry


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

    assert local.dead_letters.settle() == 2  # one group per chunk of three

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
    lost = archived_entry(local, conflict)["order"]["order-info"]["qty"]
    # chunks run concurrently: either may have been first, and the other is never written
    assert {items["7000"]["order-info"]["qty"], int(lost)} == {1, 9}
    repaired = by_order(local, batch["batch_id"])["7001"]
    assert repaired["changes"] == [
        {"rule": "order_id_from_number", "field": "order-info.OrderId", "before": 7001,
         "after": "7001"}
    ]  # fmt: skip
    archived = by_order(local, batch["batch_id"])["7004"]
    kept = archived_entry(local, archived)
    assert kept["order"]["order-info"]["qty"] == "three"
    assert kept["errors"][0]["code"] == "qty.not_positive_integer"
    assert kept["decision"] == "archive"
    assert [r["order_id"] for r in reviews(local).query(reason="conflict")] == ["7000"]
    assert drain(local.settings.dlq_url) == []


def test_store_failed_orders_are_retried_and_stored(local: EmbeddedAWS, tmp_path: Path) -> None:
    faults = {"on": True}
    inject_faults(
        aws.order_writes(), "PutItem", lambda n: "ThrottlingException" if faults["on"] else None
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
    # every write fails: the orders table's and the review table's (DynamoDB is down)
    for client in (aws.order_writes(), aws.dynamodb()):
        inject_faults(client, "PutItem", lambda n: "ThrottlingException")
    run(local, write_orders(tmp_path / "t.json", [order("8101")]))

    handed = local.dead_letters.settle()

    assert handed == DLQ_MAX_RECEIVES  # delivered again after each failure, then moved aside
    (kept,) = redrive_bodies(local)
    assert [e["order_id"] for e in json.loads(kept)["rejections"]] == ["8101"]
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


def test_a_quantity_sent_as_a_whole_float_is_repaired_and_recorded(local: EmbeddedAWS) -> None:
    # given a JSON order whose qty is 2.0 (a float: DynamoDB takes none)
    local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=_message("9550", qty=2.0))

    local.dead_letters.settle()

    # then it is repaired and stored, and its review recorded on the first delivery (its
    # change could not be written, and the message went to the redrive queue, order stored)
    (record,) = reviews(local).query()
    assert (record["decision"], record["ended"]) == ("repair", "stored")
    assert [(c["rule"], c["after"]) for c in record["changes"]] == [("qty_integral_decimal", 2)]
    assert stored_items(local)["9550"]["order-info"]["qty"] == 2
    assert redrive_bodies(local) == []


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
        f" s3://{local.settings.bucket}/incoming/demo/big.json at row 2"
    )
    entry = archived_entry(local, record)
    assert entry["order_truncated"] is True
    assert [e["code"] for e in entry["errors"]] == ["order.too_large"]
    assert sorted(stored_items(local)) == ["9900", "9902"]


def test_a_csv_column_named_like_our_own_attribute_is_refused_per_order_and_archived(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given a partner's CSV of 20 orders with a `batch_id` column of its own, filled on 2 rows
    rows = ["OrderId,item-id,item-desc,qty,name,email,batch_id"]
    rows += [
        f"{i},101,Lamp,1,Ann Lee,ann@example.com,{'P-7' if i in (5, 15) else ''}"
        for i in range(1, 21)
    ]
    path = tmp_path / "partner.csv"
    path.write_text("\n".join(rows) + "\n")

    (batch,) = run(local, path)

    # then an empty cell is refused as well as a filled one: storing would overwrite either
    assert (batch["total"], batch["stored"], batch["rejected"]) == (20, 0, 20)
    local.dead_letters.settle()
    found = reviews(local).query(batch_id=batch["batch_id"])
    assert len(found) == 20
    assert {(r["decision"], r["ended"]) for r in found} == {("archive", "archived")}
    entry = archived_entry(local, found[0])
    [error] = entry["errors"]
    assert error["code"] == "order.reserved_field"
    assert "field 'batch_id' would be overwritten" in error["message"]
    assert stored_items(local) == {}


def test_a_truncated_store_failed_message_is_archived_not_retried(local: EmbeddedAWS) -> None:
    # given a store_failed message that carries only an excerpt of its order
    body = json.loads(_message("9600"))
    entry = body["rejections"][0]
    entry.update(reason="store_failed", order='{"order-info": {"OrderId": "9600", "item', row=7)
    entry["order_truncated"] = True
    local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=json.dumps(body))

    local.dead_letters.settle()

    # then the excerpt is never validated or stored: archived, pointing to the source row
    (record,) = reviews(local).query()
    assert (record["decision"], record["ended"]) == ("archive", "archived")
    assert "too large to carry in a message" in record["why"]
    assert record["why"].endswith("s3://b/k at row 7")
    assert stored_items(local) == {}


def _entry(order_id: str, reason: str = "invalid", **fields: Any) -> dict[str, Any]:
    return {
        "row": int(order_id),
        "order_id": order_id,
        "reason": reason,
        "errors": [{"field": "order", "code": "x", "message": "x", "value": None}],
        "order": order(order_id, **fields),
    }


def _group(chunk: int, entries: list[dict[str, Any]], batch_id: str = "b-manual") -> str:
    """A DLQ message as the pipeline sends it: the rejection group of one chunk."""
    return json.dumps(
        {
            "message_id": f"{batch_id}:{chunk}",
            "sender": "demo",
            "batch_id": batch_id,
            "chunk": chunk,
            "group": f"{chunk:06d}",
            "source": {"bucket": "b", "key": "k"},
            "rejections": entries,
        }
    )


def _message(order_id: str, **fields: Any) -> str:
    """A group of one order (its own chunk: the OrderId as a number)."""
    return _group(int(order_id), [_entry(order_id, **fields)])


# --- groups -----------------------------------------------------------------------------------


def test_a_group_is_one_read_one_archive_object_and_one_review_write(local: EmbeddedAWS) -> None:
    # given one group of five orders: two repairable, three that wait for a person
    entries = [_entry("9701", qty="2.0"), _entry("9702", qty="three"), _entry("9703", qty="0")]
    entries += [_entry("9704", email="<a@example.com>"), _entry("9705", reason="conflict")]
    local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=_group(3, entries))
    calls: list[str] = []
    for client, names in ((aws.dynamodb(), ("GetItem", "PutItem", "Query", "Scan")),
                          (aws.order_writes(), ("GetItem", "PutItem", "Query", "Scan")),
                          (aws.s3(), ("PutObject",))):  # fmt: skip
        for name in names:
            client.meta.events.register(
                f"before-call.{client.meta.service_model.service_name}.{name}",
                lambda name=name, **_: calls.append(name),
            )
    # when the reviewer takes it
    assert local.dead_letters.settle() == 1

    # then five orders were reviewed with one idempotency read, one archive object for the
    # three archived and one review write for the group (the two stores are the orders' own)
    assert calls.count("GetItem") == 1
    assert calls.count("PutObject") == 1
    assert calls.count("PutItem") == 1 + 2  # the group's record, the two repaired orders
    assert not {"Query", "Scan"} & set(calls)
    found = by_order(local, "b-manual")
    assert {k: (r["decision"], r["ended"]) for k, r in found.items()} == {
        "9701": ("repair", "stored"), "9702": ("archive", "archived"),
        "9703": ("archive", "archived"), "9704": ("repair", "stored"),
        "9705": ("archive", "archived"),
    }  # fmt: skip
    keys = {r["archive_key"] for r in found.values() if r["ended"] == "archived"}
    assert keys == {f"{local.settings.archive_prefix}demo/b-manual/000003.json"}
    assert [r["review_id"] for r in found.values()] == [f"b-manual:{n}" for n in range(9701, 9706)]
    assert archived_entry(local, found["9705"])["why"] == "a conflict needs a person"
    assert sorted(stored_items(local)) == ["9701", "9704"]


def test_a_store_failure_sends_the_whole_group_back_and_the_redelivery_repeats_nothing(
    local: EmbeddedAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a group whose second order's retry fails on the first delivery (after the
    # store's own retries), then succeeds
    entries = [_entry("9801", qty="2.0"), _entry("9802", reason="store_failed")]
    entries += [_entry("9803", qty="three")]
    local.sqs.send_message(QueueUrl=local.settings.dlq_url, MessageBody=_group(4, entries))
    put = OrderStore.put
    refused = {"left": 1}
    outcomes: list[tuple[str, str]] = []

    def flaky_put(
        self: OrderStore, order: ValidOrder, *, sender: str, batch_id: str, row: int
    ) -> Any:
        if order.order_id == "9802" and refused["left"]:
            refused["left"] -= 1
            result = StoreResult(StoreOutcome.STORE_FAILED, "injected: the table refuses it")
        else:
            result = put(self, order, sender=sender, batch_id=batch_id, row=row)
        outcomes.append((order.order_id, result.outcome.value))
        return result

    monkeypatch.setattr(OrderStore, "put", flaky_put)

    # when the reviewer has had its turns
    handed = local.dead_letters.settle()

    # then the group came back once: the repaired order, stored on the first delivery, was
    # unchanged on the second; every order has one review
    assert handed == 2
    assert outcomes == [("9801", "stored"), ("9802", "store_failed"), ("9801", "unchanged"),
                        ("9802", "stored")]  # fmt: skip
    found = by_order(local, "b-manual")
    assert {k: (r["decision"], r["ended"]) for k, r in found.items()} == {
        "9801": ("repair", "unchanged"), "9802": ("retry", "stored"),
        "9803": ("archive", "archived"),
    }  # fmt: skip
    assert sorted(stored_items(local)) == ["9801", "9802"]
    assert redrive_bodies(local) == []
