"""Dead-lettering: every order that is not stored goes to the DLQ with its reasons.

The rejected orders of one chunk travel together, as one rejection group: one message per chunk
(the DLQ's cost is per request and per 64 KB, the reviewer's per message), split into parts only
when the group is larger than an SQS message (256 KiB). A message body is JSON: `message_id`
(`<batch_id>:<chunk>`, `:<part>` added to a part of a split group: the same on every send and
delivery, so a consumer processes a redelivered or resent group once), `sender` (whose batch it
is: the reviewer stores and records under it), `batch_id`, `chunk`, `group` (the group's name in
its batch, `<chunk>` zero-padded, `-<part>` added), `part` and `parts` (a split group only),
`source` (bucket and key of the file) and `rejections`: one entry per order, in row order, with
its `row`, `order_id` when known, `reason`, `errors` and the `order` as received. An order too
large for a message travels as an excerpt, marked `order_truncated`: the reviewer then archives
it and points to its row in the source file, which keeps the whole order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.costs import Requests, sqs_units
from chalicelib.orders.records import FieldError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's classic limit, for one message and for one batch call
_BATCH_LIMIT = 10
_SEND_ATTEMPTS = 4
_ORDER_EXCERPT_CHARS = 4096
_PART_FIELDS_BYTES = 64


class DeadLetterUnavailable(Exception):
    """The DLQ refused messages after every retry; the chunk must be retried as a whole."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One order that did not end stored, and why."""

    row: int
    order: Any
    order_id: str | None
    reason: str  # invalid | conflict | store_failed
    errors: tuple[FieldError, ...]

    def summary(self) -> dict[str, Any]:
        """The rejection without the order itself: what the batch results and reports keep."""
        return {
            "row": self.row,
            "order_id": self.order_id,
            "reason": self.reason,
            "errors": [e.to_dict() for e in self.errors],
        }


def group_messages(
    rejections: Sequence[Rejection],
    *,
    sender: str,
    batch_id: str,
    chunk: int,
    bucket: str,
    key: str,
) -> list[str]:
    """The DLQ messages of one chunk's rejection group: one, or several parts when the group
    is larger than an SQS message. The same rejections always give the same messages."""
    if not rejections:
        return []
    envelope: dict[str, Any] = {
        "message_id": group_message_id(batch_id, chunk),
        "sender": sender,
        "batch_id": batch_id,
        "chunk": chunk,
        "group": group_id(chunk),
        "source": {"bucket": bucket, "key": key},
    }
    # What is left for the entries: the envelope, the part fields a split group adds
    # (`:<part>`, "part", "parts") and the `"rejections": []` around them take the rest.
    room = MAX_MESSAGE_BYTES - len(json.dumps(envelope)) - _PART_FIELDS_BYTES
    entries = [_entry(r, room) for r in rejections]
    parts: list[list[str]] = [[]]
    size = 0
    for entry in entries:
        if parts[-1] and size + len(entry) + 2 > room:
            parts.append([])
            size = 0
        parts[-1].append(entry)
        size += len(entry) + 2  # ", " between entries
    messages = []
    for number, part in enumerate(parts, start=1):
        head = dict(envelope)
        if len(parts) > 1:
            head["message_id"] = group_message_id(batch_id, chunk, number)
            head["group"] = group_id(chunk, number)
            head["part"], head["parts"] = number, len(parts)
        # The entries are JSON already: append them as the last field (ASCII JSON: SQS refuses
        # some characters, and any lone surrogate, that JSON escapes carry).
        text = json.dumps(head)[:-1] + f', "rejections": [{", ".join(part)}]}}'
        messages.append(text)
    return messages


def group_message_id(batch_id: str, chunk: int, part: int | None = None) -> str:
    """`<batch_id>:<chunk>`, `:<part>` added when the group is split: stable on every send."""
    return f"{batch_id}:{chunk}" + (f":{part}" if part is not None else "")


def group_id(chunk: int, part: int | None = None) -> str:
    """A group's name within its batch, zero-padded so that groups sort in row order."""
    return f"{chunk:06d}" + (f"-{part:03d}" if part is not None else "")


def _entry(rejection: Rejection, room: int) -> str:
    """One rejected order as JSON; an order too large for a message keeps excerpts only (its
    row points into the kept source file)."""
    entry: dict[str, Any] = {**rejection.summary(), "order": rejection.order}
    text = json.dumps(entry, default=str)
    if len(text) <= room:
        return text
    entry["order"] = _excerpt(rejection.order)
    entry["errors"] = [{**e, "value": _excerpt(e["value"])} for e in entry["errors"]]
    entry["order_truncated"] = True
    return json.dumps(entry, default=str)


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
        requests: Requests | None = None,
    ) -> int:
        """Sends the chunk's rejection group; returns how many orders it carries. Every call
        made (a resend included) is added to `requests` in SQS's 64 KB units."""
        bodies = group_messages(
            rejections, sender=sender, batch_id=batch_id, chunk=chunk, bucket=bucket, key=key
        )
        for batch in _batches(bodies):
            self._send_batch(batch, requests if requests is not None else Requests())
        return len(rejections)

    def _send_batch(self, bodies: list[str], requests: Requests) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}
        for attempt in range(_SEND_ATTEMPTS):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": i, "MessageBody": b} for i, b in pending.items()
            ]
            # billed by the messages' bodies (ASCII): one request per 64 KB of them
            requests.sqs_requests += sqs_units(sum(len(b) for b in pending.values()))
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
