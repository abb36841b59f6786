"""The one patch the embedded emulator applies to moto (5.2.x), and why.

moto's `SQSBackend.send_message` (and `_validate_message`) read `queue.attributes` only to look
up `ContentBasedDeduplication`, but that property computes every attribute, including the
approximate message counts, by scanning every message in the queue. Sending is then linear in
the queue's depth and filling a dead-letter queue is quadratic: 10,000 rejected orders would
take tens of minutes. While a message is being sent, the patch answers that one lookup from the
queue's own field instead; everywhere else `attributes` is moto's own. Nothing the product sends
changes. Upstream: moto/sqs/models.py, `Queue.attributes` (reported as a performance issue).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.sqs.models import Queue, SQSBackend

_sending = threading.local()
_applied = False


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
