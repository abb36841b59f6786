"""The DLQ reviewer: for each dead-lettered order, decide retry, repair or archive, and act.

A DLQ message is a rejection group (the rejected orders of one chunk, `deadletter.py`); the
reviewer takes each order of the group in turn:

- `retry`: the order failed for a transient reason (`store_failed`): store it again, with the
  pipeline's conflict rules.
- `repair`: the order is invalid for a reason a rule of `repair.py` mends: mend it, record the
  original and every change, validate it again and store it.
- `archive`: everything else waits for a person: its entry, reasons and original order go to
  the group's one archive object in S3 (`<archive prefix><sender>/<batch_id>/<group>.json`).
  An order that travels only as an excerpt (`order_truncated`: it was larger than an SQS
  message) is archived at once, whatever its reason: the excerpt is not the order, so it is
  never validated, mended or stored; the why points to the row of the source file.

Everything happens under the message's sender: its orders are stored as that sender's, its
archive and its record are kept in that sender's folder and partition.

Every group ends with one review record (`records.py`) holding one review per order, keyed by
its sender, batch and group: a group delivered again finds its record (one read) and does
nothing (SQS delivers at least once). A store that fails again raises `TryAgainLater` before the
archive and the record are written: the whole message goes back to the queue. What the group did
before that is done again on the next delivery and changes nothing: stores are conditional puts
(the same content is `unchanged`). On the message's last delivery (`last_delivery`: the queue's
maxReceiveCount) such an order is archived with the store's error instead, so that the group
ends reviewed, each order in one place, and never leaves for the redrive queue with some of its
orders already stored; only a message the reviewer cannot handle at all (not JSON, a failing
review table) goes there, whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib import metrics
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.store import OrderStore, StoreOutcome
from chalicelib.review.records import ReviewRecords, review_id_of
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

    message_id: str  # the order's review id, `<batch_id>:<row>`
    sender: str
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
    """Archived orders in S3: one object per group,
    `<archive prefix><sender>/<batch_id>/<group>.json`, holding `sender`, `batch_id`, `group`,
    `message_id`, `source` and `orders`: review id -> the order's entry as dead-lettered
    (`order`, `reason`, `errors`, ...) with `decision`, `why` and the `attempted_changes` of a
    repair that did not make it valid."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, body: dict[str, Any], archived: list[tuple[dict[str, Any], Review]]) -> str:
        """Writes the archived entries of one group (`body`: its DLQ message) as one object."""
        key = f"{self._prefix}{body['sender']}/{body['batch_id']}/{body['group']}.json"
        orders: dict[str, Any] = {}
        for entry, review in archived:
            document = {**entry, "decision": review.decision, "why": review.why}
            if review.changes:
                document["attempted_changes"] = [c.to_dict() for c in review.changes]
            orders[review.message_id] = document
        document = {
            "sender": body["sender"],
            "batch_id": body["batch_id"],
            "group": body["group"],
            "message_id": body["message_id"],
            "source": body.get("source"),
            "orders": orders,
        }
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=json.dumps(document).encode(),
            ContentType="application/json",
        )  # fmt: skip
        return key

    def get(self, key: str) -> dict[str, Any]:
        """A group's archive object (`orders`: review id -> archived entry)."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        document: dict[str, Any] = json.loads(body)
        return document

    def order(self, key: str, review_id: str) -> Any:
        """The order, as dead-lettered, of one archived review. Raises KeyError."""
        return self.get(key)["orders"][review_id]["order"]


class Reviewer:
    def __init__(self, *, store: OrderStore, archive: Archive, records: ReviewRecords) -> None:
        self._store = store
        self._archive = archive
        self._records = records

    def review(self, body: dict[str, Any], *, last_delivery: bool = False) -> list[Review]:
        """Decides and acts on one DLQ message (a rejection group); the same message twice
        acts once."""
        sender, batch_id, group = str(body["sender"]), str(body["batch_id"]), str(body["group"])
        done = self._records.get_group(sender, batch_id, group)
        if done is not None:
            return [_from_record(record) for record in done]
        reviews = [
            (entry, self._review(entry, body, last_delivery)) for entry in body["rejections"]
        ]
        archived = [(entry, review) for entry, review in reviews if review.ended == ARCHIVED]
        if archived:
            key = self._archive.put(body, archived)
            for _, review in archived:
                review.archive_key = key
        self._records.put_group(
            sender=sender,
            batch_id=batch_id,
            group=group,
            message_id=str(body["message_id"]),
            reviews=[review.to_record() for _, review in reviews],
        )
        metrics.orders_reviewed((review.decision, review.ended) for _, review in reviews)
        return [review for _, review in reviews]

    def _review(self, entry: dict[str, Any], body: dict[str, Any], last_delivery: bool) -> Review:
        """Decides and acts on one order of the group (stores it, or leaves it to archive)."""
        batch_id = str(body["batch_id"])
        review = Review(
            message_id=review_id_of(batch_id, int(entry["row"])),
            sender=str(body["sender"]),
            batch_id=batch_id,
            row=int(entry["row"]),
            order_id=entry.get("order_id"),
            reason=str(entry["reason"]),
            decision=ARCHIVE,
            ended=ARCHIVED,
        )
        if entry.get("order_truncated"):
            review.why = _truncated_why(entry, body)
        elif review.reason == "store_failed":
            self._retry(entry, review, last_delivery)
        elif review.reason == "invalid":
            self._repair(entry, review, last_delivery)
        else:
            review.why = f"a {review.reason} needs a person"
        return review

    def _retry(self, entry: dict[str, Any], review: Review, last_delivery: bool) -> None:
        review.decision = RETRY
        checked = validate_order(entry.get("order"))
        if not isinstance(checked, ValidOrder):
            review.why = "the order is no longer valid"
            return
        self._store_order(checked, entry, review, last_delivery)

    def _repair(self, entry: dict[str, Any], review: Review, last_delivery: bool) -> None:
        mended, changes = repair(entry.get("order"))
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
        self._store_order(checked, entry, review, last_delivery)

    def _store_order(
        self, order: ValidOrder, entry: dict[str, Any], review: Review, last_delivery: bool
    ) -> None:
        result = self._store.put(
            order,
            sender=review.sender,
            batch_id=review.batch_id,
            row=int(entry.get("row") or 0),
        )
        if result.outcome is StoreOutcome.STORED:
            review.ended = STORED
        elif result.outcome is StoreOutcome.UNCHANGED:
            review.ended = UNCHANGED
        elif result.outcome is StoreOutcome.STORE_FAILED and not last_delivery:
            raise TryAgainLater(result.detail)
        elif result.outcome is StoreOutcome.STORE_FAILED:
            review.decision = ARCHIVE
            review.why = (
                f"the store kept failing until the message's last delivery: {result.detail}"
            )
        else:  # a conflict, a value DynamoDB cannot hold, an item too large: a person decides
            review.decision = ARCHIVE
            review.why = result.detail


def _truncated_why(entry: dict[str, Any], body: dict[str, Any]) -> str:
    source = body.get("source")
    where = f" s3://{source.get('bucket')}/{source.get('key')}" if isinstance(source, dict) else ""
    return (
        "the order was too large to carry in a message; it is in the source file"
        f"{where} at row {entry.get('row')}"
    )


def _from_record(record: dict[str, Any]) -> Review:
    return Review(
        message_id=record["review_id"],
        sender=record["sender"],
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
