"""Lambda's event source mappings for SQS queues, as the embedded emulator runs them.

On AWS, Lambda polls the queue on the function's behalf: it receives batches of up to
`batch_size` messages, invokes the function with each batch, deletes the messages the function
did not report as failed (a partial batch response, `ReportBatchItemFailures`) and leaves the
failed ones to come back after the queue's visibility timeout; after the queue's maxReceiveCount
SQS moves a message to its redrive queue. `SqsEventSourceMapping` does the same from a thread of
this process while it is enabled, so the queue stays as shallow as it would on AWS. Here the
failed messages are made visible again at once, so that nobody waits out a visibility timeout.

An idle mapping backs off, as Lambda's pollers do: each empty receive doubles its pause, from
`idle_seconds` up to `max_idle_seconds`, and a delivery (or `settle()` finding messages) brings
it straight back. An idle `orders serve` then asks the queue about once a second, not twenty
times (measured: the polling was most of the 9-10% of a core an idle server used).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.log import get_logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import MessageSystemAttributeNameType, QueueAttributeFilterType

# The system attributes Lambda puts in each record.
_RECORD_ATTRIBUTES: list[MessageSystemAttributeNameType] = [
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
]
_COUNTS: list[QueueAttributeFilterType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]

log = get_logger("event-source-mapping")

Invoke = Callable[[str, Any], Any]  # (function name, event) -> the function's answer


class SqsEventSourceMapping:
    """One queue feeding one function. `enable()` starts polling in a thread and `disable()`
    stops it once the batch in hand is handled; `settle()` waits until the queue is empty."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: str,
        invoke: Invoke,
        *,
        batch_size: int = 10,
        turns: threading.Lock | None = None,
        idle_seconds: float = 0.05,
        max_idle_seconds: float = 1.0,
    ) -> None:
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.batch_size = batch_size
        self.received: dict[str, str] = {}  # every message it received, by message id
        self.handed = 0  # messages handed to the function, each delivery counted
        self._sqs = sqs
        self._invoke = invoke
        # Held from a batch's receive to its last acknowledgement: one batch in hand at a time,
        # and whoever else holds the lock (the local server's requests) takes turns with it.
        self._turns = turns or threading.Lock()
        self._idle_seconds = idle_seconds
        self._max_idle_seconds = max(max_idle_seconds, idle_seconds)
        self._stopping = threading.Event()
        self._wake = threading.Event()  # ends the polling thread's idle pause early
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    def enable(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._poll_until_disabled, name=f"{self.function}-mapping", daemon=True
            )
            self._thread.start()

    def disable(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join()

    def poll(self) -> int:
        """Receives one batch, hands it to the function and acknowledges it; returns how many
        messages the function was handed (0 when none was waiting)."""
        with self._turns:
            return self._deliver_one_batch()

    def settle(self, timeout: float = 3600) -> int:
        """Waits until the queue is empty and no batch is in hand, polling in this thread when
        the mapping is not enabled. Returns how many messages the function was handed in all."""
        deadline = time.monotonic() + timeout
        while True:
            with self._turns:
                if self._queue_is_empty():
                    return self.handed
                if self.enabled:
                    self._wake.set()  # the polling thread may be in a long idle pause
                handed = 0 if self.enabled else self._deliver_one_batch()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.queue_url} still holds messages after {timeout} s")
            if not handed:
                time.sleep(self._idle_seconds)

    def _queue_is_empty(self) -> bool:
        counts = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=_COUNTS)
        return all(int(count) == 0 for count in counts["Attributes"].values())

    def _poll_until_disabled(self) -> None:
        pause = self._idle_seconds
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                handed = self.poll()
            except Exception as error:  # noqa: BLE001 - the mapping keeps polling, as Lambda's
                log.warning(
                    "could not poll the queue",
                    extra={"function": self.function, "error": type(error).__name__},
                )
                handed = 0
            if handed:
                pause = self._idle_seconds
            else:
                self._wake.wait(pause)
                pause = min(pause * 2, self._max_idle_seconds)

    def _deliver_one_batch(self) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=_RECORD_ATTRIBUTES,
        ).get("Messages", [])
        if not messages:
            return 0
        for message in messages:
            self.received.setdefault(message["MessageId"], message["Body"])
        self.handed += len(messages)
        failed = self._hand_over(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        again = [m for m in messages if m["MessageId"] in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if again:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(again)
                ],
            )
        return len(messages)

    def _hand_over(self, messages: list[Any]) -> set[str]:
        """Invokes the function with the batch; returns the ids of the messages that failed."""
        ids = {m["MessageId"] for m in messages}
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        try:
            answer = self._invoke(self.function, event)
        except Exception as error:  # noqa: BLE001 - Lambda: the whole batch failed
            log.warning(
                "the function failed; its batch will be delivered again",
                extra={"function": self.function, "error": type(error).__name__},
            )
            return ids
        reported = answer.get("batchItemFailures", []) if isinstance(answer, dict) else []
        failed = {str(item.get("itemIdentifier") or "") for item in reported}
        # Lambda: an identifier that is empty or not in the batch fails the whole batch.
        return ids if failed - ids else failed


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
