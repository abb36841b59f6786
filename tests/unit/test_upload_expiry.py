"""A presigned upload that is never used ends `expired` (chalicelib/pipeline/batches.py): read
after its URL's lifetime and the grace for a last-second upload's event, a batch still pending
reports `expired`; the record itself is never written."""

from __future__ import annotations

import calendar
import time

import pytest

from chalicelib import aws
from chalicelib.pipeline.batches import (
    EXPIRED,
    PENDING,
    UPLOAD_EXPIRY_GRACE_SECONDS,
    BatchRecords,
    expiry_after,
)
from orderflow_cli.emulator.runtime import EmbeddedAWS

URL_ENDS = "2026-03-01T12:15:00Z"
ENDS = calendar.timegm(time.strptime(URL_ENDS, "%Y-%m-%dT%H:%M:%SZ"))


def records(local: EmbeddedAWS, at: float) -> BatchRecords:
    return BatchRecords(aws.dynamodb(), local.settings.batches_table, clock=lambda: at)


def promise(local: EmbeddedAWS, batch_id: str, expires_at: str | None = None) -> None:
    records(local, ENDS).create_pending(
        "demo", batch_id, bucket="b", key=f"incoming/demo/uploads/{batch_id}/o.csv",
        via="POST /uploads", upload_expires_at=expires_at,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("seconds_after_the_url_ends", "status"),
    [
        (-600, PENDING),  # the URL can still be used
        (UPLOAD_EXPIRY_GRACE_SECONDS, PENDING),  # a last-second upload's event may yet come
        (UPLOAD_EXPIRY_GRACE_SECONDS + 1, EXPIRED),
        (86_400, EXPIRED),
    ],
)
def test_a_pending_upload_reads_expired_once_its_url_has(
    local: EmbeddedAWS, seconds_after_the_url_ends: int, status: str
) -> None:
    promise(local, "up-expiring", URL_ENDS)

    record = records(local, ENDS + seconds_after_the_url_ends).get("demo", "up-expiring")

    assert record is not None
    assert record["status"] == status
    assert record["upload_expires_at"] == URL_ENDS


def test_only_a_pending_upload_expires_and_nothing_is_written(local: EmbeddedAWS) -> None:
    late = ENDS + 86_400
    promise(local, "up-used", URL_ENDS)
    records(local, ENDS).start(
        "demo", "up-used", bucket="b", key="incoming/demo/uploads/up-used/o.csv", version="v1"
    )
    promise(local, "api-posted")  # no URL and its end (POST /orders): nothing to expire
    promise(local, "up-expired", URL_ENDS)

    later = records(local, late)
    statuses = {b: (later.get("demo", b) or {}).get("status") for b in ("up-used", "api-posted")}
    assert statuses == {"up-used": "running", "api-posted": PENDING}
    assert (later.get("demo", "up-expired") or {}).get("status") == EXPIRED
    stored = aws.dynamodb().get_item(
        TableName=local.settings.batches_table,
        Key={"sender": {"S": "demo"}, "batch_id": {"S": "up-expired"}},
    )
    assert stored["Item"]["status"] == {"S": PENDING}  # reported, never written


def test_the_expiry_is_written_as_the_records_other_times() -> None:
    assert expiry_after(900, clock=lambda: ENDS - 900) == URL_ENDS
