"""`orders dlq list | review | redrive`: the operator's view of what the pipeline refused.

They work against a running `orders serve` (`--endpoint`, its emulated AWS address) or, with
AWS credentials, against a deployed stage (`--stage`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.review.records import ReviewRecords
from chalicelib.review.reviewer import ARCHIVE, Archive

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_PEEK_SECONDS = 2  # how long a listed message stays hidden from the reviewer
_MAX_LISTED = 1000


@dataclass
class Stack:
    s3: S3Client
    dynamodb: DynamoDBClient
    sqs: SQSClient
    names: dict[str, str]

    @property
    def reviews(self) -> ReviewRecords:
        return ReviewRecords(self.dynamodb, self.names["REVIEWS_TABLE"])

    @property
    def archive(self) -> Archive:
        return Archive(self.s3, self.names["BUCKET_NAME"], self.names["ARCHIVE_PREFIX"])


def waiting(stack: Stack) -> dict[str, dict[str, int]]:
    """Messages waiting in the DLQ and in its redrive queue, counted by reason."""
    dlq_url = stack.names["DLQ_URL"]
    dlq_name = dlq_url.rsplit("/", 1)[-1]
    queues = {
        "dlq": dlq_url,
        "redrive": stack.sqs.get_queue_url(QueueName=f"{dlq_name}-redrive")["QueueUrl"],
    }
    counts: dict[str, dict[str, int]] = {}
    for label, url in queues.items():
        reasons: Counter[str] = Counter()
        seen: set[str] = set()
        while len(seen) < _MAX_LISTED:
            messages = stack.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=_PEEK_SECONDS
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                reasons[_reason_of(message["Body"])] += 1
        counts[label] = dict(reasons)
    return counts


def _reason_of(body: str) -> str:
    try:
        return str(json.loads(body).get("reason", "unknown"))
    except (ValueError, AttributeError):
        return "unreadable message"


def redrive(
    stack: Stack,
    review_ids: list[str],
    *,
    reason: str | None,
    edited: dict[str, Any],
) -> dict[str, Any]:
    """Sends archived orders (or their edited versions) back through the pipeline as one new
    file under the incoming prefix; marks their review records. Returns what was sent."""
    records = [stack.reviews.get(i) for i in review_ids] if review_ids else []
    if reason:
        records += stack.reviews.query(reason=reason)
    chosen = [r for r in records if r and r["decision"] == ARCHIVE and not r.get("redriven_to")]
    missing = [i for i, r in zip(review_ids, records, strict=False) if r is None]
    orders = []
    for record in chosen:
        message = stack.archive.get(record["archive_key"])["message"]
        orders.append(edited.get(record["review_id"], message["order"]))
    if not orders:
        return {"sent": 0, "key": None, "missing": missing}
    key = f"{stack.names['INCOMING_PREFIX']}redrive-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    body = "".join(json.dumps(order) + "\n" for order in orders).encode()
    stack.s3.put_object(Bucket=stack.names["BUCKET_NAME"], Key=key, Body=body)
    for record in chosen:
        stack.reviews.mark(record["review_id"], redriven_to=key)
    return {"sent": len(orders), "key": key, "review_ids": [r["review_id"] for r in chosen],
            "missing": missing}  # fmt: skip
