"""Senders as tenants, through the real state machine: an OrderId is unique within its sender,
and everything a batch writes lives under its sender."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import order, run, write_orders


def test_two_senders_numbering_from_1001_store_200_orders_without_a_conflict(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given two partners who both number their orders 1001-1100, each in its own file
    ids = [str(n) for n in range(1001, 1101)]
    alpha = write_orders(
        tmp_path / "alpha.json", [order(i, email="a@alpha.example.com") for i in ids]
    )
    beta = write_orders(
        tmp_path / "beta.json", [order(i, qty="2", email="b@beta.example.com") for i in ids]
    )

    # when each sends its file
    (first,) = run(local, alpha, sender="alpha")
    (second,) = run(local, beta, sender="beta")

    # then 200 orders are stored, none rejected, each under its own sender with its own content
    assert (first["stored"], first["rejected"]) == (100, 0)
    assert (second["stored"], second["rejected"]) == (100, 0)
    assert local.item_count(local.settings.orders_table) == 200
    for sender, qty in (("alpha", "1"), ("beta", "2")):
        item = local.dynamodb.get_item(
            TableName=local.settings.orders_table, Key=order_key(sender, "1001")
        )["Item"]
        assert item["sender"] == {"S": sender}
        assert item["order-info"]["M"]["qty"] == {"N": qty}


def test_the_same_sender_sending_1001_with_other_content_still_gets_its_conflict(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    run(local, write_orders(tmp_path / "a.json", [order("1001")]), sender="alpha")
    run(local, write_orders(tmp_path / "b.json", [order("1001")]), sender="beta")

    (again,) = run(
        local, write_orders(tmp_path / "c.json", [order("1001", qty="9")]), sender="alpha"
    )

    assert (again["stored"], again["rejected"]) == (0, 1)
    assert again["rejected_by_reason"] == {"conflict": 1}


def test_a_batch_writes_only_under_its_senders_folders(local: EmbeddedAWS, tmp_path: Path) -> None:
    path = write_orders(tmp_path / "mixed.json", [order("k-1"), order("k-2", qty="0")])
    (batch,) = run(local, path, sender="gamma")
    local.dead_letters.settle()

    keys = [
        item["Key"]
        for page in local.s3.get_paginator("list_objects_v2").paginate(Bucket=local.settings.bucket)
        for item in page.get("Contents", [])
    ]
    written = [k for k in keys if batch["batch_id"] in k or "/gamma/" in k]
    assert written, "the batch wrote its work, report and archive"
    for key in written:
        top, sender, _ = key.split("/", 2)
        assert (top, sender) in {
            ("incoming", "gamma"), ("work", "gamma"), ("archive", "gamma"),
        }, key  # fmt: skip


def test_a_file_keyed_with_another_senders_batch_id_is_a_batch_of_its_own(
    local: EmbeddedAWS,
) -> None:
    # given alpha's batch, promised by the API and uploaded under its key
    bucket, batch_id = local.settings.bucket, "api-" + "a1" * 12
    for sender in ("alpha", "beta"):
        local.ensure_sender(sender)
    alpha_key = f"{local.settings.incoming_prefix}alpha/api/{batch_id}.json"
    local.batches().create_pending("alpha", batch_id, bucket=bucket, key=alpha_key, via="test")
    body = {"orders": [order("A-1")]}
    local.s3.put_object(Bucket=bucket, Key=alpha_key, Body=json.dumps(body).encode())
    # and beta's file, uploaded straight to beta's folder under a key carrying alpha's id
    beta_key = f"{local.settings.incoming_prefix}beta/api/{batch_id}.json"
    forged = {"orders": [order("B-1"), order("B-2")]}
    local.s3.put_object(Bucket=bucket, Key=beta_key, Body=json.dumps(forged).encode())

    started = dict(local.deliver_s3_events())
    for key in (alpha_key, beta_key):
        local.wait(started[key], timeout=120)

    # then alpha's batch is alpha's file alone, and beta's file is a batch of beta's own
    assert started[alpha_key] == batch_id
    assert started[beta_key] != batch_id
    alpha = local.batches().get("alpha", batch_id)
    beta = local.batches().get("beta", started[beta_key])
    assert alpha is not None
    assert beta is not None
    assert (alpha["status"], alpha["stored"]) == ("succeeded", 1)
    assert (beta["status"], beta["stored"]) == ("succeeded", 2)
    assert local.batches().get("beta", batch_id) is None  # nothing of beta under alpha's id
    senders = {
        item["OrderId"]: item["sender"] for item in local.scan_table(local.settings.orders_table)
    }
    assert senders == {"A-1": "alpha", "B-1": "beta", "B-2": "beta"}
