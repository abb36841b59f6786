"""moto's SQS (5.2.x) patched to cost what SQS costs. Nothing the product sends or reads
changes (package docstring).

1. SQS send cost. moto's `SQSBackend.send_message` (and `_validate_message`) read
`queue.attributes` only to look up `ContentBasedDeduplication`, but that property computes
every attribute, including the approximate message counts, by scanning every message in the
queue. Sending is then linear in the queue's depth and filling a dead-letter queue is
quadratic: 10,000 rejected orders would take tens of minutes. While a message is being sent,
the patch answers that one lookup from the queue's own field instead; everywhere else
`attributes` is moto's own. Upstream: moto/sqs/models.py, `Queue.attributes`.

2. SQS receive, delete and visibility cost. Upstream (moto/sqs/models.py), for a queue of N
messages: `SQSBackend.receive_message` calls `is_message_valid_based_on_retention_period` for
every message it returns, which reads `get_queue_attributes`, which computes `Queue.attributes`
(every message scanned for each of the three approximate counts) three times, only to read
`MessageRetentionPeriod`; and it iterates `Queue.messages`, a list of every visible message
built to take ten. `Queue.delete_message` and `SQSBackend.change_message_visibility` find the
message by asking every message whether it ever had the receipt handle (`had_receipt_handle`
builds a list for each). Draining a queue is then quadratic: 5,000 dead letters took more than
20 minutes. The patch:
- answers the retention check from `queue.message_retention_period`, the field that attribute
  is made of (same comparison, same answer);
- makes `Queue.messages` a lazy view of the same messages (iterated, counted and tested for
  emptiness as moto does), so a receive stops after the messages it returns;
- indexes each receipt handle when `Message.mark_received` issues it, so delete and visibility
  changes go straight to their message. Deleting removes it from moto's list in place, a search
  by identity in C from the front of the queue, where received messages are; moto instead
  rebuilds the list, which loses a message that another thread (the pipeline, sending dead
  letters while the reviewer deletes them) appends meanwhile. A handle the index does not know
  (issued before the patch, or invalid) takes moto's own path, with moto's own errors.
Visibility, receive counts, the move to the dead-letter target after maxReceiveCount (done by
moto's unchanged receive loop) and retention stay moto's.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.models import Message, Queue, SQSBackend

_sending = threading.local()
_applied = False
_receive_applied = False
# Every receipt handle issued since the patch, to its message (gone with the message).
_by_receipt_handle: weakref.WeakValueDictionary[str, Message] = weakref.WeakValueDictionary()
_MAX_VISIBILITY_MILLIS = 43200 * 1000  # moto's (and SQS's) limit on a message's total visibility


def patch_sqs_send_depth() -> None:
    """Makes an SQS send cost the same whatever the queue's depth (idempotent)."""
    global _applied
    if _applied:
        return
    original: property = Queue.__dict__["attributes"]

    def attributes(queue: Queue) -> dict[str, Any]:
        if getattr(_sending, "active", False):
            if not queue.fifo_queue:
                return {}
            dedup = getattr(queue, "content_based_deduplication", False)
            return {"ContentBasedDeduplication": str(dedup).lower()}
        value: dict[str, Any] = original.fget(queue)  # type: ignore[misc]
        return value

    setattr(Queue, "attributes", property(attributes))  # noqa: B010 - moto types it as a method
    for name in ("send_message", "_validate_message"):
        setattr(SQSBackend, name, _while_sending(getattr(SQSBackend, name)))
    _applied = True


def _while_sending(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return method(*args, **kwargs)
        finally:
            _sending.active = outer

    return wrapper


def patch_sqs_receive_depth() -> None:
    """Makes SQS receive, delete and visibility changes cost the same whatever the queue's
    depth (idempotent)."""
    global _receive_applied
    if _receive_applied:
        return
    mark_received = Message.mark_received

    @functools.wraps(mark_received)
    def mark_received_indexed(message: Message, visibility_timeout: int | None = None) -> None:
        mark_received(message, visibility_timeout)
        assert message.receipt_handle is not None  # mark_received has just issued it
        _by_receipt_handle[message.receipt_handle] = message

    setattr(Message, "mark_received", mark_received_indexed)  # noqa: B010 - same signature
    setattr(Queue, "messages", property(_VisibleMessages))  # noqa: B010 - a view, not a list
    setattr(  # noqa: B010 - same signature
        SQSBackend, "is_message_valid_based_on_retention_period", _within_retention
    )
    setattr(Queue, "delete_message", _delete_by_handle(Queue.delete_message))  # noqa: B010
    setattr(  # noqa: B010 - same signature
        SQSBackend,
        "change_message_visibility",
        _change_visibility_by_handle(SQSBackend.change_message_visibility),
    )
    _receive_applied = True


class _VisibleMessages:
    """moto's `Queue.messages` (the messages visible and not delayed, in queue order), looked
    at lazily: iterating stops where the caller stops."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[Message]:
        return (m for m in self._queue._messages if m.visible and not m.delayed)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)


def _within_retention(backend: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's `is_message_valid_based_on_retention_period`, reading the one field it needs."""
    queue = backend.get_queue(queue_name)
    retention_period = getattr(queue, "message_retention_period")  # noqa: B009 - set by setattr
    retain_until = retention_period + message.sent_timestamp / 1000  # type: ignore[operator]
    return bool(retain_until > unix_time())


def _known_message(queue: Queue, receipt_handle: str) -> Message | None:
    """The message in `queue` that had `receipt_handle`, if the index knows it."""
    message = _by_receipt_handle.get(receipt_handle)
    if message is None or message not in queue._messages:  # `in`: by identity, in C
        return None
    return message


def _delete_by_handle(original: Callable[[Queue, str], None]) -> Callable[[Queue, str], None]:
    @functools.wraps(original)
    def delete_message(queue: Queue, receipt_handle: str) -> None:
        message = _by_receipt_handle.get(receipt_handle)
        if message is None or receipt_handle in queue.deleted_messages:
            original(queue, receipt_handle)
            return
        with queue._messages_lock:
            try:
                queue._messages.remove(message)
            except ValueError:  # not (or no longer) in this queue: moto's answer
                message = None
        if message is None:
            original(queue, receipt_handle)
            return
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]

    return delete_message


def _change_visibility_by_handle(
    original: Callable[[SQSBackend, str, str, int], None],
) -> Callable[[SQSBackend, str, str, int], None]:
    @functools.wraps(original)
    def change_message_visibility(
        backend: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        queue = backend.get_queue(queue_name)
        message = _known_message(queue, receipt_handle)
        if message is None:
            original(backend, queue_name, receipt_handle, visibility_timeout)
            return
        # From here on moto's own body, for the one message it would have found.
        given_until = unix_time_millis() + int(visibility_timeout) * 1000
        if given_until - message.sent_timestamp > _MAX_VISIBILITY_MILLIS:  # type: ignore[operator]
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: "
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)

    return change_message_visibility
