"""The DLQ reviewer: for each dead-lettered order, decide retry, repair or archive, and act.

A DLQ message is a rejection group (the rejected orders of one chunk:
`contracts.deadletter.DeadLetterMessage`); the reviewer takes each order of the group in turn,
by its `Reason`, to a `Decision` (`contracts.review`):

- `retry`: the order failed for a transient reason (`store_failed`): store it again, with the
  pipeline's conflict rules.
- `repair`: the order is invalid for a reason a rule of `repair.py` mends: mend it, record the
  original and every change, validate it again and store it.
- `archive`: everything else waits for a person: its entry, reasons and original order go to
  the group's one archive object in S3 (`archive.py`).
  An order that travels only as an excerpt (`order_truncated`: it was larger than an SQS
  message) is archived at once, whatever its reason: the excerpt is not the order, so it is
  never validated, mended or stored; the why points to the row of the source file.

Everything happens under the message's sender: its orders are stored as that sender's, its
archive and its record are kept in that sender's folder and partition.

Every group ends with one review record (`records.py`) holding one review per order
(`contracts.review.ReviewRecord`), keyed by its sender, batch and group: a group delivered again
finds its record (one read) and does nothing (SQS delivers at least once). A store that fails
again raises `TryAgainLater` before the archive and the record are written: the whole message
goes back to the queue. What the group did before that is done again on the next delivery and
changes nothing: stores are conditional puts (the same content is `unchanged`). On the
message's last delivery (`last_delivery`: the queue's maxReceiveCount) such an order is
archived with the store's error instead, so that the group ends reviewed, each order in one
place, and never leaves for the redrive queue with some of its orders already stored; only a
message the reviewer cannot handle at all (not a DLQ message, a failing review table) goes
there, whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib import metrics
from chalicelib.contracts.deadletter import DeadLetterMessage, Reason, Rejection
from chalicelib.contracts.review import Decision, Ended, ReviewRecord, review_id_of
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.store import OrderStore, StoreOutcome
from chalicelib.review.archive import Archive
from chalicelib.review.records import ReviewRecords
from chalicelib.review.repair import repair

__all__ = ["Reviewer", "TryAgainLater"]

_ENDED = {StoreOutcome.STORED: Ended.STORED, StoreOutcome.UNCHANGED: Ended.UNCHANGED}


class TryAgainLater(Exception):
    """A transient failure: the message must be delivered again."""


class Reviewer:
    def __init__(self, *, store: OrderStore, archive: Archive, records: ReviewRecords) -> None:
        self._store = store
        self._archive = archive
        self._records = records
        # What the reviewer tries, by reason, before archiving
        self._attempts: dict[Reason, Callable[[Rejection, ReviewRecord, bool], ReviewRecord]] = {
            Reason.STORE_FAILED: self._retry,
            Reason.INVALID: self._repair,
        }

    def review(
        self, message: DeadLetterMessage, *, last_delivery: bool = False
    ) -> list[ReviewRecord]:
        """Decides and acts on one DLQ message (a rejection group); the same message twice
        acts once."""
        done = self._records.get_group(message.sender, message.batch_id, message.group)
        if done is not None:
            return [ReviewRecord.from_dict(record) for record in done]
        reviews = [
            (rejection, self._review(rejection, message, last_delivery))
            for rejection in message.rejections
        ]
        archived = [(rejection, r) for rejection, r in reviews if r.ended is Ended.ARCHIVED]
        if archived:
            key = self._archive.put(message, archived)
            reviews = [
                (rejection, replace(r, archive_key=key) if r.ended is Ended.ARCHIVED else r)
                for rejection, r in reviews
            ]
        records = [review for _, review in reviews]
        self._records.put_group(
            sender=message.sender,
            batch_id=message.batch_id,
            group=message.group,
            message_id=message.message_id,
            reviews=records,
        )
        metrics.orders_reviewed((str(r.decision), str(r.ended)) for r in records)
        return records

    def _review(
        self, rejection: Rejection, message: DeadLetterMessage, last_delivery: bool
    ) -> ReviewRecord:
        """Decides and acts on one order of the group (stores it, or leaves it to archive)."""
        review = ReviewRecord(
            review_id=review_id_of(message.batch_id, rejection.row),
            row=rejection.row,
            order_id=rejection.order_id,
            reason=rejection.reason,
            decision=Decision.ARCHIVE,
            ended=Ended.ARCHIVED,
            sender=message.sender,
            batch_id=message.batch_id,
        )
        if rejection.order_truncated:
            return replace(review, why=_truncated_why(rejection, message))
        attempt = self._attempts.get(rejection.reason)
        if attempt is None:
            return replace(review, why=f"a {review.reason} needs a person")
        return attempt(rejection, review, last_delivery)

    def _retry(
        self, rejection: Rejection, review: ReviewRecord, last_delivery: bool
    ) -> ReviewRecord:
        review = replace(review, decision=Decision.RETRY)
        checked = validate_order(rejection.order)
        if not isinstance(checked, ValidOrder):
            return replace(review, why="the order is no longer valid")
        return self._store_order(checked, review, last_delivery)

    def _repair(
        self, rejection: Rejection, review: ReviewRecord, last_delivery: bool
    ) -> ReviewRecord:
        mended, changes = repair(rejection.order)
        if not changes:
            return replace(review, why="no repair rule applies")
        review = replace(review, changes=tuple(changes))
        checked = validate_order(mended)
        if not isinstance(checked, ValidOrder):
            codes = ", ".join(e.code for e in checked)
            return replace(review, why=f"still invalid after repair: {codes}")
        review = replace(review, decision=Decision.REPAIR, order_id=checked.order_id)
        return self._store_order(checked, review, last_delivery)

    def _store_order(
        self, order: ValidOrder, review: ReviewRecord, last_delivery: bool
    ) -> ReviewRecord:
        result = self._store.put(
            order, sender=review.sender, batch_id=review.batch_id, row=review.row
        )
        if result.outcome in _ENDED:
            return replace(review, ended=_ENDED[result.outcome])
        if result.outcome is StoreOutcome.STORE_FAILED and not last_delivery:
            raise TryAgainLater(result.detail)
        if result.outcome is StoreOutcome.STORE_FAILED:
            why = f"the store kept failing until the message's last delivery: {result.detail}"
            return replace(review, decision=Decision.ARCHIVE, why=why)
        # a conflict, a value DynamoDB cannot hold, an item too large: a person decides
        return replace(review, decision=Decision.ARCHIVE, why=result.detail)


def _truncated_why(rejection: Rejection, message: DeadLetterMessage) -> str:
    source = message.source
    where = f" s3://{source.bucket}/{source.key}" if source.bucket else ""
    return (
        "the order was too large to carry in a message; it is in the source file"
        f"{where} at row {rejection.row}"
    )
