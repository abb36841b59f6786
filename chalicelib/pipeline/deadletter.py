"""Dead-lettering: every order that is not stored goes to the DLQ with its reasons.

A message body is JSON: `message_id` (`<batch_id>:<row>`, the same on every delivery, so a
consumer can process a redelivered or resent message once), `reason`, `errors`, the `order` as
received, its `order_id` when known, `row`, `source` and `batch_id`. An order too large for one
message travels as an excerpt, marked `order_truncated`: the reviewer then archives it and points
to its row in the source file, which keeps the whole order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.orders.records import FieldError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's classic limit, for one message and for one batch call
_BATCH_LIMIT = 10
_SEND_ATTEMPTS = 4
_ORDER_EXCERPT_CHARS = 4096


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


def message_body(rejection: Rejection, *, batch_id: str, bucket: str, key: str) -> str:
    body = {
        "message_id": f"{batch_id}:{rejection.row}",
        **rejection.summary(),
        "order": rejection.order,
        "source": {"bucket": bucket, "key": key},
        "batch_id": batch_id,
    }
    # ASCII JSON: SQS refuses some characters (and any lone surrogate) that JSON escapes carry.
    text = json.dumps(body, default=str)
    if len(text) <= MAX_MESSAGE_BYTES:
        return text
    # An order too large for a message: keep excerpts; the row points into the kept source file.
    body["order"] = _excerpt(rejection.order)
    body["errors"] = [{**e, "value": _excerpt(e["value"])} for e in body["errors"]]
    body["order_truncated"] = True
    return json.dumps(body, default=str)


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

    def send(self, rejections: Iterable[Rejection], *, batch_id: str, bucket: str, key: str) -> int:
        bodies = (message_body(r, batch_id=batch_id, bucket=bucket, key=key) for r in rejections)
        sent = 0
        for batch in _batches(bodies):
            self._send_batch(batch)
            sent += len(batch)
        return sent

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
