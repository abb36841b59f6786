"""The patches the embedded emulator applies to moto (5.2.x), and why. Nothing the product
sends or reads changes; each makes the emulator behave as AWS does.

1. SQS send cost. moto's `SQSBackend.send_message` (and `_validate_message`) read
`queue.attributes` only to look up `ContentBasedDeduplication`, but that property computes
every attribute, including the approximate message counts, by scanning every message in the
queue. Sending is then linear in the queue's depth and filling a dead-letter queue is
quadratic: 10,000 rejected orders would take tens of minutes. While a message is being sent,
the patch answers that one lookup from the queue's own field instead; everywhere else
`attributes` is moto's own. Upstream: moto/sqs/models.py, `Queue.attributes`.

2. S3 event records without `versionId`. On a versioned bucket AWS puts the object's version id
in each event record; moto (`moto/s3/notifications.py`, `_get_s3_event`) does not, so every
upload of the same bytes to the same key would look like a repeated event of one object.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.s3 import notifications
from moto.sqs.models import Queue, SQSBackend

_sending = threading.local()
_applied = False
_versions_applied = False


def patch_s3_event_version_ids() -> None:
    """Adds `versionId` to S3 event records for versioned objects, as AWS does (idempotent)."""
    global _versions_applied
    if _versions_applied:
        return
    original = notifications._get_s3_event

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = version
        return event

    notifications._get_s3_event = get_s3_event
    _versions_applied = True


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
