"""Webhooks: deliver a batch's completion to its callback URL in the Standard Webhooks
format (https://www.standardwebhooks.com), within one deadline.

Which URLs may be called is callback_urls.py's to say (checked when a URL is given, and again
before every attempt); how one attempt reaches the checked addresses within the deadline is
callback_http.py's. This module signs, retries and records.

Each delivery is a POST of the completion event's detail (JSON) with
    webhook-id: msg_<batch_id>            (the same on every attempt: receivers de-duplicate)
    webhook-timestamp: <unix seconds>     (of the attempt)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
with one `v1,...` per signing secret, space-separated, while a secret is being rotated. A batch's
completion goes to the callback URL it was sent with, else to its sender's webhook URL; it is
signed with the sender's own secrets where the sender has them (`orders senders webhook`), else
with the stage's, kept in SSM (or Secrets Manager through SSM), never in the repo.

Redirects are not followed. A failure is retried with exponential backoff, except a refused URL
and a receiver's 410 Gone, which end the delivery. Every attempt together (connect, TLS, send,
each byte of the answer's status line and headers, and the sleeps between attempts) ends by one
deadline per delivery. The outcome (delivered, gone or failed, attempts, last error) is
recorded on the batch, never its status.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib import metrics
from chalicelib.callback_http import Deadline, DeadlinePassed, PinnedConnection, post
from chalicelib.callback_urls import (
    CallbackPolicy,
    CallbackRefused,
    Resolver,
    check_url,
    system_resolver,
)
from chalicelib.contracts import Completion
from chalicelib.pipeline.batches import BatchRecords

__all__ = [
    "DELIVERY_STATUSES",
    "BadSecret",
    "Delivery",
    "deliver",
    "notify",
    "parse_secrets",
    "signature_header",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_DEADLINE_SECONDS = 60.0
# What a delivery ends as, recorded in the batch's `callback.status` (each in
# docs/notifications.md)
DELIVERED, GONE, FAILED = "delivered", "gone", "failed"
DELIVERY_STATUSES = (DELIVERED, GONE, FAILED)


class BadSecret(ValueError):
    """The stage's webhook signing secret parameter holds no usable key."""


def parse_secrets(value: str) -> tuple[bytes, ...]:
    """The signing keys a secret parameter holds: one or more secrets separated by spaces or
    new lines (several while a secret is rotated), each `whsec_<base64 key>` or a raw secret
    whose UTF-8 bytes are the key."""
    keys: list[bytes] = []
    for word in value.split():
        if word.startswith(SECRET_PREFIX):
            try:
                key = base64.b64decode(word[len(SECRET_PREFIX) :], validate=True)
            except binascii.Error as error:
                raise BadSecret(f"a {SECRET_PREFIX} secret is not base64: {error}") from None
        else:
            key = word.encode()
        if not key:
            raise BadSecret("a webhook signing secret is empty")
        keys.append(key)
    if not keys:
        raise BadSecret("the webhook signing secret parameter is empty")
    return tuple(keys)


def signature_header(keys: Sequence[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def notify(
    completion: Completion,
    *,
    batches: BatchRecords,
    secrets: Callable[[], Sequence[bytes]],
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    sender_webhook: Callable[[str], tuple[str | None, Sequence[str]]] = lambda _: (None, ()),
) -> Delivery | None:
    """Delivers a completion event to the batch's callback URL, or its sender's webhook, once
    (a repeated event finds the delivery recorded and sends nothing); None when there is
    neither. `sender_webhook` gives a sender's webhook URL and its own signing secrets."""
    sender, batch_id = completion.sender, completion.batch_id
    record = batches.get(sender, batch_id) or {}
    callback = record.get("callback")
    if callback and callback.get("status") != "pending":
        return None  # delivered (or given up) already
    sender_url, sender_secrets = sender_webhook(sender)
    url = callback["url"] if callback else sender_url
    if not url:
        return None
    keys = tuple(k for s in sender_secrets for k in parse_secrets(s)) or tuple(secrets())
    delivery = deliver(
        url,
        completion.to_dict(),
        message_id=f"msg_{batch_id}",
        secrets=keys,
        policy=policy,
        attempts=attempts,
        base_seconds=base_seconds,
        deadline_seconds=deadline_seconds,
    )
    batches.record_callback(
        sender,
        batch_id,
        url=url,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
    )
    metrics.webhook_delivered(delivery.status, attempts=delivery.attempts, batch_id=batch_id)
    return delivery


@dataclass(frozen=True)
class Delivery:
    status: str  # one of DELIVERY_STATUSES
    attempts: int
    last_error: str | None


def deliver(
    url: str,
    detail: dict[str, Any],
    *,
    message_id: str,
    secrets: Sequence[bytes],
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    resolve: Resolver = system_resolver,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    ca_file: str | None = None,
) -> Delivery:
    """POSTs `detail` to `url`, signed, retrying with exponential backoff, all of it within
    `deadline_seconds`. `ca_file` trusts its certificates instead of the system's (tests)."""
    if not secrets:
        raise BadSecret("a delivery needs at least one signing secret")
    body = json.dumps(detail, default=str).encode()
    deadline = Deadline(clock() + deadline_seconds, deadline_seconds, clock)
    last_error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            target = check_url(url, policy, resolve)
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "orderflow-webhook/2",
                ID_HEADER: message_id,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature_header(secrets, message_id, timestamp, body),
            }
            status = post(PinnedConnection(target, deadline, ca_file), body, headers)
            if 200 <= status < 300:
                return Delivery(DELIVERED, attempt, None)
            if status == 410:
                return Delivery(GONE, attempt, "HTTP 410: the receiver wants no more deliveries")
            last_error = f"HTTP {status}"
        except CallbackRefused as refused:
            return Delivery(FAILED, attempt, str(refused))  # retrying cannot help
        except DeadlinePassed as passed:
            return Delivery(FAILED, attempt, str(passed))
        except (OSError, ValueError, http.client.HTTPException) as error:
            last_error = f"{type(error).__name__}: {error}"
        if attempt < attempts:
            pause = base_seconds * 2 ** (attempt - 1)
            if clock() + pause >= deadline.at:
                return Delivery(
                    FAILED,
                    attempt,
                    f"{last_error}; no time for another attempt within the "
                    f"{deadline_seconds:g} s delivery deadline",
                )
            sleep(pause)
    return Delivery(FAILED, attempts, last_error)
