"""Dead-lettering: every order that is not stored goes to the DLQ with its reasons.

The rejected orders of one chunk travel together, as one rejection group: one message per chunk
(the DLQ's cost is per request and per 64 KB, the reviewer's per message), split into parts only
when the group is larger than an SQS message (256 KiB). A message is a
`chalicelib.contracts.DeadLetterMessage` (its module describes the JSON): `message_id` is the
same on every send and delivery, so a consumer processes a redelivered or resent group once. An
order too large for a message travels as an excerpt, marked `order_truncated`: the reviewer
then archives it and points to its row in the source file, which keeps the whole order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.contracts.deadletter import (
    DeadLetterMessage,
    Rejection,
    SourceFile,
    group_id,
    group_message_id,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

__all__ = [
    "DeadLetterQueue",
    "DeadLetterUnavailable",
    "Rejection",
    "group_id",
    "group_message_id",
    "group_messages",
]

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's classic limit, for one message and for one batch call
_BATCH_LIMIT = 10
_SEND_ATTEMPTS = 4
_ORDER_EXCERPT_CHARS = 4096
_PART_FIELDS_BYTES = 64


class DeadLetterUnavailable(Exception):
    """The DLQ refused messages after every retry; the chunk must be retried as a whole."""


def group_messages(
    rejections: Sequence[Rejection],
    *,
    sender: str,
    batch_id: str,
    chunk: int,
    bucket: str,
    key: str,
) -> list[str]:
    """The DLQ messages of one chunk's rejection group (`DeadLetterMessage` bodies): one, or
    several parts when the group is larger than an SQS message. The same rejections always
    give the same messages."""
    if not rejections:
        return []
    whole = DeadLetterMessage(
        message_id=group_message_id(batch_id, chunk),
        sender=sender,
        batch_id=batch_id,
        chunk=chunk,
        group=group_id(chunk),
        source=SourceFile(bucket, key),
        rejections=(),
    )
    # What is left for the entries: the envelope, the part fields a split group adds
    # (`:<part>`, "part", "parts") and the `"rejections": []` around them take the rest.
    room = MAX_MESSAGE_BYTES - len(whole.to_json()) - _PART_FIELDS_BYTES
    parts: list[list[tuple[Rejection, str]]] = [[]]
    size = 0
    for entry in (_fitted(r, room) for r in rejections):
        if parts[-1] and size + len(entry[1]) + 2 > room:
            parts.append([])
            size = 0
        parts[-1].append(entry)
        size += len(entry[1]) + 2  # ", " between entries
    if len(parts) == 1:
        return [_message(whole, parts[0])]
    return [_message(whole, part, number, len(parts)) for number, part in enumerate(parts, start=1)]


def _message(
    whole: DeadLetterMessage,
    entries: list[tuple[Rejection, str]],
    part: int | None = None,
    parts: int | None = None,
) -> str:
    message = replace(
        whole,
        message_id=group_message_id(whole.batch_id, whole.chunk, part),
        group=group_id(whole.chunk, part),
        rejections=tuple(rejection for rejection, _ in entries),
        part=part,
        parts=parts,
    )
    return message.to_json([text for _, text in entries])


def _fitted(rejection: Rejection, room: int) -> tuple[Rejection, str]:
    """One rejected order and its JSON; an order too large for a message keeps excerpts only
    (its row points into the kept source file)."""
    text = rejection.to_json()
    if len(text) <= room:
        return rejection, text
    cut = rejection.truncated(_excerpt)
    return cut, cut.to_json()


def _excerpt(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_ORDER_EXCERPT_CHARS]


class DeadLetterQueue:
    """Sends rejections to the DLQ in batches of up to ten messages and 256 KiB."""

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._sleep = sleep

    def send(
        self,
        rejections: Sequence[Rejection],
        *,
        sender: str,
        batch_id: str,
        chunk: int,
        bucket: str,
        key: str,
    ) -> int:
        """Sends the chunk's rejection group; returns how many orders it carries (every call,
        a resend included, is metered where it is made: chalicelib.metering)."""
        bodies = group_messages(
            rejections, sender=sender, batch_id=batch_id, chunk=chunk, bucket=bucket, key=key
        )
        for batch in _batches(bodies):
            self._send_batch(batch)
        return len(rejections)

    def _send_batch(self, bodies: list[str]) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}
        for attempt in range(_SEND_ATTEMPTS):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": i, "MessageBody": b} for i, b in pending.items()
            ]
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url, Entries=entries
                )
            except ClientError as error:
                problem = error.response.get("Error", {}).get("Code", "Unknown")
            else:
                failed = response.get("Failed", [])
                pending = {f["Id"]: pending[f["Id"]] for f in failed}
                if not pending:
                    return
                problem = ", ".join(sorted({f.get("Code", "?") for f in failed}))
            if attempt + 1 < _SEND_ATTEMPTS:
                self._sleep(0.1 * 2**attempt)
        raise DeadLetterUnavailable(f"{len(pending)} message(s) refused by the DLQ: {problem}")


def _batches(bodies: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body)  # bodies are ASCII
        if batch and (len(batch) == _BATCH_LIMIT or size + length > MAX_MESSAGE_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch
