"""`orders dlq list | review | redrive`: the operator's view of what the pipeline refused.

They work against a running `orders serve` (`--endpoint`, its emulated AWS address) or, with
AWS credentials, against a deployed stage (`--stage`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

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
    """Orders waiting in the DLQ and in its redrive queue (inside their groups' messages),
    counted by reason."""
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
                reasons.update(_reasons_of(message["Body"]))
        counts[label] = dict(reasons)
    return counts


def _reasons_of(body: str) -> Counter[str]:
    """The reasons of the orders of one group message, one per order."""
    try:
        rejections = json.loads(body)["rejections"]
        return Counter(str(r.get("reason", "unknown")) for r in rejections)
    except (ValueError, TypeError, KeyError, AttributeError):
        return Counter({"unreadable message": 1})


class RedriveRefused(Exception):
    """The redrive names something that cannot be sent; nothing was sent."""


def redrive(
    stack: Stack,
    review_ids: list[str],
    *,
    reason: str | None,
    edited: dict[str, Any],
) -> dict[str, Any]:
    """Sends archived orders (or their edited versions) back through the pipeline as one new
    file under the incoming prefix; marks their review records. Returns what was sent.

    The file's name is the hash of its content, written only if absent: the same redrive
    repeated (or run twice at once) sends one file, and two different redrives, however close
    together, send two. An unknown review id, one that was not archived, or an edit for an
    order not being sent refuses the whole redrive (`RedriveRefused`)."""
    named = {review_id: stack.reviews.get(review_id) for review_id in dict.fromkeys(review_ids)}
    unknown = [review_id for review_id, record in named.items() if record is None]
    if unknown:
        raise RedriveRefused(
            f"no review record for {_listed(unknown)}: nothing was sent"
            " (orders dlq review lists the review ids)"
        )
    records = [record for record in named.values() if record is not None]
    not_archived = [r["review_id"] for r in records if r["decision"] != ARCHIVE]
    if not_archived:
        raise RedriveRefused(
            f"{_listed(not_archived)}: the reviewer did not archive it (it was retried or"
            " repaired and stored), so there is nothing to redrive: nothing was sent"
        )
    if reason:
        records += [
            r for r in stack.reviews.query(reason=reason)
            if r["decision"] == ARCHIVE and r["review_id"] not in named
        ]  # fmt: skip
    already = {r["review_id"]: r["redriven_to"] for r in records if r.get("redriven_to")}
    chosen = [r for r in records if r["review_id"] not in already]
    strays = sorted(set(edited) - {r["review_id"] for r in records})
    if strays:
        raise RedriveRefused(
            f"the edits name {_listed(strays)}, which this redrive does not send: nothing was sent"
        )
    orders = []
    for record in chosen:
        review_id = record["review_id"]
        if review_id in edited:
            orders.append(edited[review_id])
        else:
            orders.append(stack.archive.order(record["archive_key"], review_id))
    result: dict[str, Any] = {"sent": 0, "key": None, "review_ids": [], "already": already}
    if not orders:
        return result
    body = "".join(json.dumps(order) + "\n" for order in orders).encode()
    key = f"{stack.names['INCOMING_PREFIX']}redrive/{hashlib.sha256(body).hexdigest()[:32]}.jsonl"
    try:
        stack.s3.put_object(Bucket=stack.names["BUCKET_NAME"], Key=key, Body=body, IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412"}:
            raise
        sent = 0  # the same redrive, sent a moment ago by another run
    else:
        sent = len(orders)
    for record in chosen:
        stack.reviews.mark(record["review_id"], redriven_to=key)
    return {**result, "sent": sent, "key": key, "review_ids": [r["review_id"] for r in chosen]}


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
