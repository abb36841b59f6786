"""The DLQ reviewer: for each dead-lettered order, decide retry, repair or archive, and act.

- `retry`: the order failed for a transient reason (`store_failed`): store it again, with the
  pipeline's conflict rules.
- `repair`: the order is invalid for a reason a rule of `repair.py` mends: mend it, record the
  original and every change, validate it again and store it.
- `archive`: everything else: the message, its reasons and the original order go to the
  archive prefix in S3, and a review record (queryable by batch and by reason) waits for a person.
  A message that carries only an excerpt of its order (`order_truncated`: the order was larger
  than an SQS message) is archived at once, whatever its reason: the excerpt is not the order,
  so it is never validated, mended or stored; the why points to the row of the source file.

Every message ends with one review record keyed by its `message_id`; a message delivered again
finds its record and does nothing (SQS delivers at least once). A retry that fails again raises
`TryAgainLater`: the message goes back to the queue, and after the queue's maxReceiveCount to
its redrive queue, so nothing loops for ever and nothing is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.store import OrderStore, StoreOutcome
from chalicelib.review.records import ReviewRecords
from chalicelib.review.repair import Change, repair

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RETRY, REPAIR, ARCHIVE = "retry", "repair", "archive"
STORED, UNCHANGED, ARCHIVED = "stored", "unchanged", "archived"


class TryAgainLater(Exception):
    """A transient failure: the message must be delivered again."""


@dataclass
class Review:
    """What happened to one dead-lettered order."""

    message_id: str
    batch_id: str
    row: int | None
    order_id: str | None
    reason: str  # why it was dead-lettered
    decision: str  # retry | repair | archive
    ended: str  # stored | unchanged | archived
    why: str = ""
    changes: list[Change] = field(default_factory=list)
    archive_key: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "review_id": self.message_id,
            "batch_id": self.batch_id,
            "row": self.row,
            "order_id": self.order_id,
            "reason": self.reason,
            "decision": self.decision,
            "ended": self.ended,
            "why": self.why,
            "changes": [c.to_dict() for c in self.changes],
            "archive_key": self.archive_key,
        }


class Archive:
    """Archived messages in S3: `<archive prefix><batch_id>/<row or id>.json`."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, body: dict[str, Any], review: Review) -> str:
        name = review.row if review.row is not None else review.message_id.replace(":", "-")
        key = f"{self._prefix}{review.batch_id}/{name}.json"
        document: dict[str, Any] = {
            "message": body,
            "decision": review.decision,
            "why": review.why,
        }
        if review.changes:
            document["attempted_changes"] = [c.to_dict() for c in review.changes]
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=json.dumps(document).encode(),
            ContentType="application/json",
        )  # fmt: skip
        return key

    def get(self, key: str) -> dict[str, Any]:
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        document: dict[str, Any] = json.loads(body)
        return document


class Reviewer:
    def __init__(self, *, store: OrderStore, archive: Archive, records: ReviewRecords) -> None:
        self._store = store
        self._archive = archive
        self._records = records

    def review(self, body: dict[str, Any]) -> Review:
        """Decides and acts on one DLQ message body; the same message twice acts once."""
        message_id = str(body["message_id"])
        done = self._records.get(message_id)
        if done is not None:
            return _from_record(done)
        review = Review(
            message_id=message_id,
            batch_id=str(body["batch_id"]),
            row=body.get("row"),
            order_id=body.get("order_id"),
            reason=str(body["reason"]),
            decision=ARCHIVE,
            ended=ARCHIVED,
        )
        if body.get("order_truncated"):
            review.why = _truncated_why(body)
        elif review.reason == "store_failed":
            self._retry(body, review)
        elif review.reason == "invalid":
            self._repair(body, review)
        else:
            review.why = f"a {review.reason} needs a person"
        if review.ended == ARCHIVED:
            review.archive_key = self._archive.put(body, review)
        self._records.put(review.to_record())
        return review

    def _retry(self, body: dict[str, Any], review: Review) -> None:
        review.decision = RETRY
        checked = validate_order(body.get("order"))
        if not isinstance(checked, ValidOrder):
            review.why = "the order is no longer valid"
            return
        self._store_order(checked, body, review)

    def _repair(self, body: dict[str, Any], review: Review) -> None:
        mended, changes = repair(body.get("order"))
        if not changes:
            review.why = "no repair rule applies"
            return
        review.changes = changes
        checked = validate_order(mended)
        if not isinstance(checked, ValidOrder):
            codes = ", ".join(e.code for e in checked)
            review.why = f"still invalid after repair: {codes}"
            return
        review.decision = REPAIR
        review.order_id = checked.order_id
        self._store_order(checked, body, review)

    def _store_order(self, order: ValidOrder, body: dict[str, Any], review: Review) -> None:
        result = self._store.put(order, batch_id=review.batch_id, row=int(body.get("row") or 0))
        if result.outcome is StoreOutcome.STORED:
            review.ended = STORED
        elif result.outcome is StoreOutcome.UNCHANGED:
            review.ended = UNCHANGED
        elif result.outcome is StoreOutcome.STORE_FAILED:
            raise TryAgainLater(result.detail)
        else:  # a conflict, a value DynamoDB cannot hold, an item too large: a person decides
            review.decision = ARCHIVE
            review.why = result.detail


def _truncated_why(body: dict[str, Any]) -> str:
    source = body.get("source")
    where = f" s3://{source.get('bucket')}/{source.get('key')}" if isinstance(source, dict) else ""
    return (
        "the order was too large to carry in a message; it is in the source file"
        f"{where} at row {body.get('row')}"
    )


def _from_record(record: dict[str, Any]) -> Review:
    return Review(
        message_id=record["review_id"],
        batch_id=record["batch_id"],
        row=record.get("row"),
        order_id=record.get("order_id"),
        reason=record["reason"],
        decision=record["decision"],
        ended=record["ended"],
        why=record.get("why", ""),
        changes=[Change(**c) for c in record.get("changes", [])],
        archive_key=record.get("archive_key"),
    )
