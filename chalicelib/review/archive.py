"""The reviewer's archive: the orders it leaves for a person, in S3, one object per rejection
group: `<archive prefix><sender>/<batch_id>/<group>.json`, written once when the group is
decided, read by `orders dlq redrive` to send an archived order again.

The object holds `sender`, `batch_id`, `group`, `message_id`, `source` (the DLQ message's) and
`orders`: review id -> the order's entry as dead-lettered (`row`, `order_id`, `reason`,
`errors`, `order`, and `order_truncated` for an excerpt) with the review's `decision`, `why`
and the `attempted_changes` of a repair that did not make it valid.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.contracts.deadletter import DeadLetterMessage, Rejection
from chalicelib.contracts.review import ReviewRecord
from chalicelib.pipeline.naming import archive_key_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Reviewed = tuple[Rejection, ReviewRecord]  # an order of the group, and its review


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

    def put(self, message: DeadLetterMessage, archived: Sequence[Reviewed]) -> str:
        """Writes the archived entries of one group (`message`: its DLQ message) as one
        object."""
        key = archive_key_for(self._prefix, message.sender, message.batch_id, message.group)
        orders: dict[str, Any] = {}
        for rejection, review in archived:
            entry = {**rejection.to_dict(), "decision": str(review.decision), "why": review.why}
            if review.changes:
                entry["attempted_changes"] = [c.to_dict() for c in review.changes]
            orders[review.review_id] = entry
        document = {
            "sender": message.sender,
            "batch_id": message.batch_id,
            "group": message.group,
            "message_id": message.message_id,
            "source": message.source.to_dict(),
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
