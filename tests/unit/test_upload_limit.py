"""PrepareFile holds a presigned upload to its sender's upload limit itself (prepare.py,
`_check_upload_size`): a file the form's policy should have refused, put straight into the
bucket here as if a policy were wrong, is quarantined with `file.upload_too_large` before a
byte of it is read, and nothing of it is stored."""

from __future__ import annotations

import json

from chalicelib.pipeline.naming import new_batch_id, upload_key_for
from chalicelib.pipeline.prepare import PRESIGNED_UPLOAD
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import FAST, stored_items

HEADER = "OrderId,item-id,item-desc,qty,name,email\r\n"


def table(prefix: str, rows: int) -> bytes:
    lines = [f"{prefix}-{i},101,Desk lamp,1,Ann Lee,ann@example.com\r\n" for i in range(rows)]
    return (HEADER + "".join(lines)).encode()


def promised_upload(local: EmbeddedAWS, sender: str, body: bytes, via: str) -> str:
    """A batch promised as POST /uploads promises it, its file put straight into the bucket
    (no form, no policy); returns the batch id once its execution has ended."""
    settings = local.settings
    batch_id = new_batch_id("up")
    key = upload_key_for(settings.incoming_prefix, sender, batch_id, "orders.csv")
    local.batches().create_pending(sender, batch_id, bucket=settings.bucket, key=key, via=via)
    local.s3.put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType="text/csv")
    started = dict(local.deliver_s3_events())
    assert started[key] == batch_id
    local.wait(batch_id, timeout=120)
    return batch_id


def test_an_upload_over_the_senders_own_limit_is_quarantined_unread(local: EmbeddedAWS) -> None:
    local.ensure_sender("alpha")
    local.senders().set_limits("alpha", max_orders_per_request=None, max_upload_bytes=100)
    body = table("big", 20_000)
    assert len(body) > 1_000_000

    batch_id = promised_upload(local, "alpha", body, PRESIGNED_UPLOAD)

    record = local.batches().get("alpha", batch_id)
    assert record is not None
    assert record["status"] == "quarantined"
    assert record["error"]["code"] == "file.upload_too_large"
    assert f"the file has {len(body)} bytes, more than the 100 bytes" in record["error"]["message"]
    assert "its own max_upload_bytes" in record["error"]["message"]
    assert "file" not in record  # never opened for reading
    assert stored_items(local) == {}
    report_key = f"{local.settings.quarantine_prefix}alpha/{batch_id}/error.json"
    report = json.loads(
        local.s3.get_object(Bucket=local.settings.bucket, Key=report_key)["Body"].read()
    )
    assert report["error"]["code"] == "file.upload_too_large"


def test_within_the_limit_and_other_files_are_processed_as_before(local: EmbeddedAWS) -> None:
    local.ensure_sender("alpha")
    local.senders().set_limits("alpha", max_orders_per_request=None, max_upload_bytes=200)
    small = table("ok", 1)
    assert len(small) <= 200

    within = promised_upload(local, "alpha", small, PRESIGNED_UPLOAD)
    # a file that did not come through a presigned POST is not an upload the limit is for
    other = promised_upload(local, "alpha", table("direct", 5), "orders run")

    for batch_id, stored in ((within, 1), (other, 5)):
        record = local.batches().get("alpha", batch_id)
        assert record is not None
        assert (record["status"], record["stored"]) == ("succeeded", stored)


def test_without_a_limit_of_its_own_the_stages_upload_max_bytes_holds() -> None:
    with EmbeddedAWS({**FAST, "UPLOAD_MAX_BYTES": "100"}) as local:
        local.ensure_sender("beta")
        body = table("stage", 10)

        batch_id = promised_upload(local, "beta", body, PRESIGNED_UPLOAD)

        record = local.batches().get("beta", batch_id)
        assert record is not None
        assert (record["status"], record["error"]["code"]) == (
            "quarantined",
            "file.upload_too_large",
        )
        assert "the stage's UPLOAD_MAX_BYTES" in record["error"]["message"]
        assert stored_items(local) == {}
