"""`orders dlq list | review | redrive`: the operator's view of what the pipeline refused.

They work against a running `orders serve` (`--endpoint`, its emulated AWS address) or, with
AWS credentials, against a deployed stage (`--stage`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.contracts.deadletter import DeadLetterMessage
from chalicelib.contracts.review import Decision
from chalicelib.pipeline.naming import redrive_key_for
from orderflow_cli.stack import Stack

_PEEK_SECONDS = 2  # how long a listed message stays hidden from the reviewer
_MAX_LISTED = 1000


def waiting(stack: Stack) -> dict[str, dict[str, Any]]:
    """What waits in the DLQ and in its redrive queue: how many group messages the queue holds
    (SQS's approximate count), and the reasons of the orders inside the first `_MAX_LISTED`
    messages read, with `complete` false when the queue held more than were read (a listing is
    never cut silently)."""
    dlq_url = stack.names["DLQ_URL"]
    dlq_name = dlq_url.rsplit("/", 1)[-1]
    queues = {
        "dlq": dlq_url,
        "redrive": stack.sqs.get_queue_url(QueueName=f"{dlq_name}-redrive")["QueueUrl"],
    }
    listing: dict[str, dict[str, Any]] = {}
    for label, url in queues.items():
        held = stack.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        reasons: Counter[str] = Counter()
        seen: set[str] = set()
        while len(seen) < _MAX_LISTED:
            messages = stack.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, _MAX_LISTED - len(seen)),
                VisibilityTimeout=_PEEK_SECONDS,
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                reasons.update(_reasons_of(message["Body"]))
        queued = int(held.get("ApproximateNumberOfMessages", 0))
        in_flight = int(held.get("ApproximateNumberOfMessagesNotVisible", 0))
        listing[label] = {
            "messages": max(queued, len(seen)),
            "in_flight": in_flight,  # being reviewed (or peeked at) right now
            "read": len(seen),
            "complete": len(seen) >= queued,
            "reasons": dict(reasons),
        }
    return listing


def describe_waiting(listing: dict[str, dict[str, Any]]) -> list[str]:
    """`orders dlq list`'s lines: one per queue, then one per reason."""
    lines = []
    for queue, held in listing.items():
        if not held["messages"] and not held["in_flight"]:
            lines.append(f"{queue}: empty")
            continue
        read = "" if held["complete"] else (
            f"; the reasons below are of the first {held['read']} read, not all of them"
        )  # fmt: skip
        in_flight = f", {held['in_flight']} being reviewed" if held["in_flight"] else ""
        lines.append(f"{queue}: {held['messages']} group message(s) waiting{in_flight}{read}")
        lines += [f"  {reason}: {n} order(s)" for reason, n in held["reasons"].items()]
    return lines


def _reasons_of(body: str) -> Counter[str]:
    """The reasons of the orders of one group message, one per order."""
    try:
        message = DeadLetterMessage.from_json(body)
    except ValueError:
        return Counter({"unreadable message": 1})
    return Counter(str(r.reason) for r in message.rejections)


class RedriveRefused(Exception):
    """The redrive names something that cannot be sent; nothing was sent."""


def redrive(
    stack: Stack,
    review_ids: list[str],
    *,
    reason: str | None,
    edited: dict[str, Any],
    sender: str | None = None,
) -> dict[str, Any]:
    """Sends archived orders (or their edited versions) back through the pipeline as a new file
    in their sender's incoming folder (one file per sender; `sender` limits the redrive to one);
    marks their review records. Returns what was sent.

    The file's name is the hash of its content, written only if absent: the same redrive
    repeated (or run twice at once) sends one file, and two different redrives, however close
    together, send two. An unknown review id, one that was not archived, or an edit for an
    order not being sent refuses the whole redrive (`RedriveRefused`)."""
    records = _named(stack, review_ids, sender)
    if reason:
        named = {r["review_id"] for r in records}
        records += [
            r for r in stack.reviews.query(sender=sender, reason=reason)
            if r["decision"] == Decision.ARCHIVE and r["review_id"] not in named
        ]  # fmt: skip
    strays = sorted(set(edited) - {r["review_id"] for r in records})
    if strays:
        raise RedriveRefused(
            f"the edits name {_listed(strays)}, which this redrive does not send: nothing was sent"
        )
    already = {r["review_id"]: r["redriven_to"] for r in records if r.get("redriven_to")}
    chosen = [r for r in records if r["review_id"] not in already]
    sent, keys = _send(stack, chosen, edited)
    return {
        "sent": sent,
        "keys": keys,
        "review_ids": [r["review_id"] for r in chosen],
        "already": already,
    }


def _named(stack: Stack, review_ids: list[str], sender: str | None) -> list[dict[str, Any]]:
    """The review records of the ids named, each once; refused unless every one exists and was
    archived."""
    named = {
        review_id: stack.reviews.get(review_id, sender=sender)
        for review_id in dict.fromkeys(review_ids)
    }
    unknown = [review_id for review_id, record in named.items() if record is None]
    if unknown:
        raise RedriveRefused(
            f"no review record for {_listed(unknown)}: nothing was sent"
            " (orders dlq review lists the review ids)"
        )
    records = [record for record in named.values() if record is not None]
    not_archived = [r["review_id"] for r in records if r["decision"] != Decision.ARCHIVE]
    if not_archived:
        raise RedriveRefused(
            f"{_listed(not_archived)}: the reviewer did not archive it (it was retried or"
            " repaired and stored), so there is nothing to redrive: nothing was sent"
        )
    return records


def _send(
    stack: Stack, chosen: list[dict[str, Any]], edited: dict[str, Any]
) -> tuple[int, dict[str, str]]:
    """Sends the chosen orders, one file per sender, and marks their records; returns how many
    orders this call sent and each sender's file."""
    by_sender: dict[str, list[dict[str, Any]]] = {}
    for record in chosen:
        by_sender.setdefault(str(record["sender"]), []).append(record)
    sent, keys = 0, {}
    for owner, owned in by_sender.items():
        orders = [
            edited[r["review_id"]] if r["review_id"] in edited
            else stack.archive.order(r["archive_key"], r["review_id"])
            for r in owned
        ]  # fmt: skip
        key, written = _send_file(stack, owner, orders)
        keys[owner] = key
        sent += len(orders) if written else 0  # not written: the same redrive, sent just now
        for record in owned:
            stack.reviews.mark(record["review_id"], sender=owner, redriven_to=key)
    return sent, keys


def _send_file(stack: Stack, sender: str, orders: list[Any]) -> tuple[str, bool]:
    """Writes the redrive file, named by the hash of its content, in the sender's incoming
    folder unless it is there already; returns its key and whether this call wrote it."""
    body = "".join(json.dumps(order) + "\n" for order in orders).encode()
    digest = hashlib.sha256(body).hexdigest()[:32]
    key = redrive_key_for(stack.names["INCOMING_PREFIX"], sender, digest)
    try:
        stack.s3.put_object(Bucket=stack.names["BUCKET_NAME"], Key=key, Body=body, IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412"}:
            raise
        return key, False
    return key, True


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
