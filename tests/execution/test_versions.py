"""Every version of a file is processed with its own content: reads name the object the S3
event named (its version id, or its ETag on an unversioned bucket), never "the key now"."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import dlq_orders, order, stored_items


def _put(local: EmbeddedAWS, key: str, orders: list[Any]) -> None:
    local.ensure_sender("demo")  # the sender whose folder the keys below are in
    body = json.dumps({"orders": orders}).encode()
    local.s3.put_object(Bucket=local.settings.bucket, Key=key, Body=body)


def _finish_all(local: EmbeddedAWS) -> list[dict[str, Any]]:
    started = local.deliver_s3_events()
    records = []
    for _, batch_id in started:
        local.wait(batch_id, timeout=120)
        record = local.batches().get("demo", batch_id)
        assert record is not None
        records.append(record)
    return records


def test_two_quick_uploads_to_one_key_are_two_batches_each_with_its_own_orders(
    local: EmbeddedAWS,
) -> None:
    key = f"{local.settings.incoming_prefix}demo/daily.json"
    first = [order(f"first-{i}") for i in range(20)] + [order("shared", qty="1")]
    second = [order(f"second-{i}") for i in range(20)] + [order("shared", qty="2")]
    _put(local, key, first)
    _put(local, key, second)  # before the first upload's event is handled

    records = _finish_all(local)

    assert len({r["batch_id"] for r in records}) == 2
    assert [r["status"] for r in records] == ["succeeded", "succeeded"]
    assert [r["total"] for r in records] == [21, 21]
    items = stored_items(local)
    assert {f"first-{i}" for i in range(20)} | {f"second-{i}" for i in range(20)} <= set(items)
    assert len(items) == 41
    # the shared OrderId with other content: one stored, the other one conflict
    assert sum(r["stored"] for r in records) == 41
    assert sum(r["rejected_by_reason"].get("conflict", 0) for r in records) == 1
    (message,) = dlq_orders(local)
    assert (message["order_id"], message["reason"]) == ("shared", "conflict")


def test_a_quarantined_version_leaves_the_next_upload_to_the_same_key_alone(
    local: EmbeddedAWS,
) -> None:
    key = f"{local.settings.incoming_prefix}demo/again.json"
    bucket = local.settings.bucket
    local.s3.put_object(Bucket=bucket, Key=key, Body=b'{"orders": [')  # truncated
    _put(local, key, [order("good-1"), order("good-2")])

    bad, good = _finish_all(local)

    assert bad["status"] == "quarantined"
    assert bad["error"]["code"] == "file.invalid_json"
    assert (good["status"], good["stored"]) == ("succeeded", 2)
    # the quarantine copy holds the bad bytes, and the key still shows the good upload
    quarantined = local.s3.get_object(
        Bucket=bucket, Key=f"{local.settings.quarantine_prefix}demo/{bad['batch_id']}/again.json"
    )["Body"].read()
    assert quarantined == b'{"orders": ['
    now = json.loads(local.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [o["order-info"]["OrderId"] for o in now["orders"]] == ["good-1", "good-2"]


@pytest.fixture
def unversioned(local: EmbeddedAWS) -> EmbeddedAWS:
    """The bucket as a user's own unversioned bucket behaves (suspended: every upload to a key
    replaces the one before, and events carry no version id)."""
    local.s3.put_bucket_versioning(
        Bucket=local.settings.bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    return local


def test_on_an_unversioned_bucket_a_replaced_file_is_reported_never_read_as_the_other(
    unversioned: EmbeddedAWS,
) -> None:
    local = unversioned
    key = f"{local.settings.incoming_prefix}demo/plain.json"
    _put(local, key, [order("old-1"), order("old-2")])
    _put(local, key, [order("new-1")])  # replaces the first before it is read

    replaced, newer = _finish_all(local)

    assert replaced["status"] == "quarantined"
    assert replaced["error"]["code"] == "file.replaced"
    assert replaced.get("total", 0) == 0
    assert (newer["status"], newer["total"], newer["stored"]) == ("succeeded", 1, 1)
    assert set(stored_items(local)) == {"new-1"}
    report_key = f"{local.settings.quarantine_prefix}demo/{replaced['batch_id']}/error.json"
    report = json.loads(
        local.s3.get_object(Bucket=local.settings.bucket, Key=report_key)["Body"].read()
    )
    assert report["error"]["code"] == "file.replaced"
    assert report["quarantined_as"] is None
    # the newer file is still where it was sent: the replaced batch touched nothing
    local.s3.head_object(Bucket=local.settings.bucket, Key=key)


def test_on_an_unversioned_bucket_an_unchanged_file_is_read_by_its_etag(
    unversioned: EmbeddedAWS,
) -> None:
    local = unversioned
    key = f"{local.settings.incoming_prefix}demo/steady.json"
    _put(local, key, [order("steady-1"), order("steady-2", qty="0")])

    (record,) = _finish_all(local)

    assert (record["status"], record["stored"], record["rejected"]) == ("succeeded", 1, 1)
