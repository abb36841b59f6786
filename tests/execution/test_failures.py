"""Failure paths, executed: unreadable files, throttling, failing writes, DLQ outages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib import aws, wiring
from chalicelib.api import service
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import inject_faults, order, run, stored_items, write_orders

pytestmark = pytest.mark.usefixtures("quick_waits")  # every retry waits a hundredth (conftest)


UNREADABLE = {
    "not-json.json": (b"this is not json", "file.invalid_json"),
    "truncated.json": (b'{"orders": [{"order-info": {"OrderId": "1"', "file.invalid_json"),
    # a Windows-1252 or Latin-1 CSV is read (tests/unit/readers/test_partner_habits.py); a byte
    # that Windows-1252 does not define is still refused
    "undefined-byte.csv": (
        b"OrderId,item-id,item-desc,qty,name,email\n1,2,caf\x81,1,J,j@example.com\n",
        "file.encoding",
    ),
    "columns.csv": (b"OrderId,qty\n1,2\n", "file.missing_columns"),
    "empty.json": (b"", "file.empty"),
    "no-orders.json": (b'{"order": []}', "file.no_orders_array"),
    "corrupt.json.gz": (b"\x1f\x8b\x08\x00garbage", "file.gzip"),
    # UTF-16 without a byte-order mark (with one it is read)
    "utf16.csv": (
        "OrderId,item-id,item-desc,qty,name,email\n".encode("utf-16-le"),
        "file.encoding",
    ),
    "nothing.jsonl": (b"\n\n", "file.empty"),
    "garbage.jsonl": (b"hello\nworld\n", "file.invalid_jsonl"),
    "twice.json": (
        b'{"orders": [{"order-info": {}}], "orders": [{"order-info": {}}]}',
        "file.duplicate_orders_key",
    ),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_file_is_quarantined_with_a_report(
    local: EmbeddedAWS, tmp_path: Path, name: str
) -> None:
    content, code = UNREADABLE[name]
    path = tmp_path / name
    path.write_bytes(content)

    (batch,) = run(local, path)

    assert batch["status"] == "quarantined"
    assert batch["error"]["code"] == code
    assert batch["error"]["message"]
    assert (batch["total"], batch["stored"], batch["rejected"]) == (0, 0, 0)
    bucket = local.settings.bucket
    kept = local.s3.get_object(Bucket=bucket, Key=f"quarantine/demo/{batch['batch_id']}/{name}")
    assert kept["Body"].read() == content
    report = json.loads(
        local.s3.get_object(Bucket=bucket, Key=f"quarantine/demo/{batch['batch_id']}/error.json")[
            "Body"
        ].read()
    )
    assert report["error"]["code"] == code
    assert report["source"]["key"] == f"incoming/demo/{name}"
    listed = local.s3.list_objects_v2(Bucket=bucket, Prefix="incoming/").get("KeyCount")
    assert listed == 0
    assert stored_items(local) == {}
    assert local.drain_dlq() == []


def test_truncated_file_stores_nothing_even_after_many_good_orders(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    text = json.dumps({"orders": [order(f"t-{i}") for i in range(10)]})
    path = tmp_path / "cut.json"
    path.write_text(text[:-5])

    (batch,) = run(local, path)

    assert batch["status"] == "quarantined"
    assert stored_items(local) == {}


def test_throttled_writes_succeed_on_retry(local: EmbeddedAWS, tmp_path: Path) -> None:
    throttle = {1, 2, 3, 5}
    calls = inject_faults(
        aws.order_writes(),
        "PutItem",
        lambda n: "ProvisionedThroughputExceededException" if n in throttle else None,
    )
    (batch,) = run(local, write_orders(tmp_path / "t.json", [order("a"), order("b")]))

    assert (batch["stored"], batch["rejected"]) == (2, 0)
    assert set(stored_items(local)) == {"a", "b"}
    assert len(calls) == 6  # a: 3 throttled + 1; b: 1 throttled + 1
    assert local.drain_dlq() == []


@pytest.mark.parametrize(
    ("code", "attempts"),
    [("InternalServerError", 4), ("ThrottlingException", 11)],  # 3 retries; a throttle's 10
)
def test_writes_that_keep_failing_end_in_the_dlq(
    local: EmbeddedAWS, tmp_path: Path, code: str, attempts: int
) -> None:
    calls = inject_faults(aws.order_writes(), "PutItem", lambda n: code)

    (batch,) = run(local, write_orders(tmp_path / "t.json", [order("a")]))

    assert batch["status"] == "succeeded"
    assert (batch["stored"], batch["rejected"]) == (0, 1)
    assert batch["rejected_by_reason"] == {"store_failed": 1}
    assert len(calls) == attempts
    (message,) = local.drain_dlq()
    (rejection,) = message["rejections"]
    assert rejection["reason"] == "store_failed"
    assert code in rejection["errors"][0]["message"]
    assert f"after {attempts} attempt(s)" in rejection["errors"][0]["message"]
    assert rejection["order"]["order-info"]["OrderId"] == "a"


def test_errors_that_are_not_transient_are_not_retried(local: EmbeddedAWS, tmp_path: Path) -> None:
    calls = inject_faults(aws.order_writes(), "PutItem", lambda n: "ValidationException")

    (batch,) = run(local, write_orders(tmp_path / "v.json", [order("a")]))

    assert len(calls) == 1
    assert batch["rejected_by_reason"] == {"store_failed": 1}


def test_a_dlq_outage_is_retried_and_loses_nothing(local: EmbeddedAWS, tmp_path: Path) -> None:
    calls = inject_faults(
        aws.sqs(), "SendMessageBatch", lambda n: "ServiceUnavailable" if n <= 4 else None
    )
    orders = [order("ok"), order("bad", qty="x")]

    (batch,) = run(local, write_orders(tmp_path / "d.json", orders))

    assert batch["status"] == "succeeded"
    assert (batch["stored"], batch["rejected"]) == (1, 1)
    assert len(calls) == 5
    (message,) = local.drain_dlq()
    assert [r["order_id"] for r in message["rejections"]] == ["bad"]


def test_a_dlq_outage_longer_than_a_chunks_retries_is_outlasted_by_record_batch(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # ValidateOrder's 4 invocations send 4 times each, RecordBatch's reprocessing 4 more: the
    # first 20 sends are refused, and RecordBatch's own retries outlast the outage (found by the
    # conservation model: a chunk that died and a DLQ outage used to fail the batch).
    calls = inject_faults(
        aws.sqs(), "SendMessageBatch", lambda n: "ServiceUnavailable" if n <= 20 else None
    )
    orders = [order("ok"), order("bad", qty="x")]

    (batch,) = run(local, write_orders(tmp_path / "long.json", orders))

    assert batch["status"] == "succeeded"
    assert (batch["total"], batch["stored"], batch["rejected"], batch["unprocessed"]) == (
        2,
        1,
        1,
        0,
    )
    assert len(calls) > 20
    (message,) = local.drain_dlq()
    assert [r["order_id"] for r in message["rejections"]] == ["bad"]


def test_a_chunk_that_cannot_finish_fails_the_batch_and_says_how_many(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    inject_faults(aws.sqs(), "SendMessageBatch", lambda n: "ServiceUnavailable")
    orders = [order("ok-1"), order("ok-2"), order("ok-3"), order("ok-4"), order("bad", qty="x")]

    (batch,) = run(local, write_orders(tmp_path / "d.json", orders))

    assert batch["status"] == "failed"
    assert batch["error"]["code"] == "pipeline.chunks_unprocessed"
    assert batch["unprocessed"] == 2  # the second chunk: ok-4 and bad
    assert batch["total"] == batch["stored"] + batch["rejected"] + batch["unprocessed"]
    assert set(stored_items(local)) == {"ok-1", "ok-2", "ok-3", "ok-4"}


def test_a_crash_in_prepare_file_reaches_get_batches_as_one_line_without_trace_or_path(
    local: EmbeddedAWS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a reader that crashes, naming a server path (as an OSError would)
    import chalicelib.pipeline.prepare as prepare

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError(f"reader exploded at {Path(__file__).resolve()}")

    monkeypatch.setattr(prepare, "read_records", crash)

    # when a file is processed
    (batch,) = run(local, write_orders(tmp_path / "c.json", [order("c-1")]))

    # then the batch failed with a one-line error: the type and message, no trace, no path
    assert batch["status"] == "failed"
    body = service.batch_status(
        batch["batch_id"], sender="demo", deps=wiring.api_deps(local.settings)
    )
    assert body["error"] == {
        "code": "pipeline.prepare_failed",
        "message": "RuntimeError: reader exploded at <path>",
    }
    for text in (json.dumps(body), json.dumps(batch["error"])):
        for leak in ("Traceback", 'File "', 'File \\"', "/work", "site-packages", ".py"):
            assert leak not in text, leak


def test_a_windows_1252_csv_from_older_excel_is_read_and_stored_as_sent(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    header = "OrderId,item-id,item-desc,qty,name,email\n"
    text = header + "1,2,Caf\u00e9 cr\u00e8me \u20ac5,1,Jos\u00e9,j@example.com\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("cp1252"))

    (batch,) = run(local, path)

    assert (batch["status"], batch["stored"]) == ("succeeded", 1)
    assert batch["file"]["encoding"] == "windows-1252"
    item = stored_items(local)["1"]
    assert item["order-info"]["item-desc"] == "Caf\u00e9 cr\u00e8me \u20ac5"
    assert item["contact-info"]["name"] == "Jos\u00e9"
