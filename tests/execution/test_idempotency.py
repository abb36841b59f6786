"""Nothing twice: repeated events, repeated files, conflicting OrderIds, concurrency."""

from __future__ import annotations

import json
from pathlib import Path

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import dlq_orders, order, run, stored_items, write_orders


def test_a_repeated_s3_event_processes_nothing_twice(local: EmbeddedAWS, tmp_path: Path) -> None:
    path = write_orders(tmp_path / "r.json", [order("r-1"), order("r-bad", qty="0")])
    local.upload(path)
    # S3 delivers at least once: the same event arrives twice.
    url = local.events_queue_url
    waiting = local.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    (message,) = [m for m in waiting if "Records" in m["Body"]]  # not moto's s3:TestEvent
    for _ in range(2):
        local.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    local.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    first, again = local.deliver_s3_events()
    local.wait(first[1])

    assert again == first  # same object version: same batch id, same execution
    executions = local.sfn.list_executions(stateMachineArn=local.settings.state_machine_arn)
    assert len(executions["executions"]) == 1
    assert len(dlq_orders(local)) == 1


def test_the_same_file_uploaded_again_is_a_new_batch_of_no_ops(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    path = write_orders(tmp_path / "daily.json", [order("d-1"), order("d-2")])

    (first,) = run(local, path)
    (second,) = run(local, path)  # same key, same bytes, a new version

    assert first["batch_id"] != second["batch_id"]
    assert (second["stored"], second["unchanged"], second["rejected"]) == (2, 2, 0)
    assert len(stored_items(local)) == 2


def test_the_same_orders_in_another_file_are_no_ops(local: EmbeddedAWS, tmp_path: Path) -> None:
    orders = [order("s-1"), order("s-2")]
    first, second = run(
        local,
        write_orders(tmp_path / "monday.json", orders),
    ) + run(local, write_orders(tmp_path / "tuesday.json", [order(" s-1 "), order("s-2", qty=1)]))

    assert first["batch_id"] != second["batch_id"]
    assert (second["stored"], second["unchanged"], second["rejected"]) == (2, 2, 0)
    items = stored_items(local)
    assert len(items) == 2
    assert items["s-1"]["batch_id"] == first["batch_id"]  # never rewritten
    assert dlq_orders(local) == []


def test_a_conflicting_order_id_in_one_file_is_dead_lettered(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    orders = [order("c-1", qty="1"), order("c-2"), order("c-1", qty="5")]

    (batch,) = run(local, write_orders(tmp_path / "c.json", orders))

    assert (batch["stored"], batch["rejected"]) == (2, 1)
    assert batch["rejected_by_reason"] == {"conflict": 1}
    assert stored_items(local)["c-1"]["order-info"]["qty"] == 1
    (message,) = dlq_orders(local)
    assert (message["row"], message["reason"]) == (3, "conflict")
    assert message["errors"][0]["code"] == "OrderId.conflict"


def test_two_files_at_once_with_one_order_id_store_exactly_one(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    fillers_a = [order(f"a-{i}") for i in range(8)]
    fillers_b = [order(f"b-{i}") for i in range(8)]
    file_a = write_orders(tmp_path / "a.json", [*fillers_a, order("shared", qty="1")])
    file_b = write_orders(tmp_path / "b.json", [*fillers_b, order("shared", qty="2")])

    batch_a, batch_b = run(local, file_a, file_b)  # both executions run concurrently

    items = stored_items(local)
    assert len(items) == 17
    conflicts = dlq_orders(local)
    assert [m["reason"] for m in conflicts] == ["conflict"]
    loser = conflicts[0]
    winner_batch = items["shared"]["batch_id"]
    assert loser["batch_id"] != winner_batch
    assert {winner_batch, loser["batch_id"]} == {batch_a["batch_id"], batch_b["batch_id"]}
    assert str(items["shared"]["order-info"]["qty"]) != loser["order"]["order-info"]["qty"]
    assert batch_a["stored"] + batch_b["stored"] == 17
    assert batch_a["rejected"] + batch_b["rejected"] == 1


def test_a_different_second_upload_to_an_api_key_is_reported_not_lost(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    from chalicelib.pipeline.naming import new_batch_id, upload_key_for

    batch_id = new_batch_id("up")
    local.ensure_sender("demo")
    key = upload_key_for(local.settings.incoming_prefix, "demo", batch_id, "partner.json")
    # promised to demo, as POST /uploads does before it hands out the URL
    bucket = local.settings.bucket
    local.batches().create_pending("demo", batch_id, bucket=bucket, key=key, via="test")
    first = write_orders(tmp_path / "first.json", [order("u-1")])
    second = write_orders(tmp_path / "second.json", [order("u-2")])
    local.upload(first, key)
    local.deliver_s3_events()
    local.wait(batch_id)

    local.upload(first, key)  # a retried upload of the same bytes: nothing to say
    local.upload(second, key)  # another file on the same single-use key
    assert [b for _, b in local.deliver_s3_events()] == [batch_id, batch_id]

    executions = local.sfn.list_executions(stateMachineArn=local.settings.state_machine_arn)
    assert len(executions["executions"]) == 1
    assert list(stored_items(local)) == ["u-1"]
    listed = local.s3.list_objects_v2(
        Bucket=local.settings.bucket, Prefix=f"quarantine/demo/{batch_id}/duplicate-upload-"
    ).get("Contents", [])
    (report,) = [
        json.loads(local.s3.get_object(Bucket=local.settings.bucket, Key=o["Key"])["Body"].read())
        for o in listed
    ]
    assert report["error"]["code"] == "file.duplicate_upload"
    assert report["source"]["key"] == key
