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

3. SQS receive, delete and visibility cost. Upstream (moto/sqs/models.py), for a queue of N
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

4. DynamoDB conditional writes are not atomic. Upstream (moto/dynamodb/models/__init__.py and
table.py), `DynamoDBBackend.put_item` reads the current item, evaluates the condition and then
stores the new item, with no lock: two threads (two chunks, or two files, processed at once)
can both find `attribute_not_exists(OrderId)` true, and the second write silently replaces the
first. On AWS a conditional write is atomic: exactly one of them succeeds. The patch serialises
the backend's item writes (put, update, delete, batch and transactional writes) under one lock.
Reads that walk a table (query, scan, and describe_table, which counts the items) take the same
lock: moto walks the table's dicts in Python, and a write that adds a key meanwhile (the
reviewer recording a review while the local server pages through the reviews) ends the walk
with "dictionary changed size during iteration". A read of one item (get_item) is one dict
lookup and is left alone.

5. A process-wide lock on every request. Upstream (moto/core/base_backend.py),
`BackendDict.__getitem__` takes `backend_lock`, moto's one global lock, on every lookup of an
account's backends, and every request makes several (its service's, and IAM's to mark the
access key as used), only to create the account's backends the first time. With the functions
of a Map and the event source mapping running as threads, each request queues on that lock
behind whichever thread the interpreter has paused. The patch returns an account's backends
without the lock once they exist (they are created, and registered for moto's reset, in the
same locked step, and a reset removes both); the first lookup takes moto's own locked path.

6. Distributed Map items by recursion. Upstream (moto/stepfunctions/parser/.../
distributed_item_processor_worker.py), `DistributedItemProcessorWorker._eval_pool` evaluates a
job, then calls itself for the next one: a worker over 1,000 chunks (a million orders) is
1,000 nested calls deep and overflows Python's stack. The patch runs the same steps in a loop:
the same frames opened and deleted, the same jobs closed, in the same order.

7. S3 conditional puts are not atomic. Upstream (moto/s3/responses.py), `S3Response.put_object`
looks the key up for `If-None-Match: *` (or `If-Match`) and stores the object afterwards, with
no lock: two requests at once (two retries of one POST /orders, which writes its document with
`IfNoneMatch="*"`) both find the key free and write two versions. On AWS exactly one succeeds
and the other gets 412 PreconditionFailed. The patch makes each PUT of an object, its condition
included, one step under one lock.

8. Starting a Step Functions execution is not atomic. Upstream (moto/stepfunctions/parser/
models.py), `StepFunctionsParserBackend.start_execution` looks for an execution of the same name
and appends the new one afterwards, with no lock: two callers at once both start one. On AWS a
name is used once: the same name and input while it runs return the running execution, anything
else is ExecutionAlreadyExists. The patch makes the look-up and the start one step under one lock.

9. S3 requests at once fail in moto's URL lookup. Upstream (moto/s3/models.py),
`S3Backend._url_module` reloads `moto.s3.urls` on every S3 request, to pick up its environment
variables. `importlib.reload` checks that the module is in `sys.modules` before it takes the
import lock, and a reload running in another thread takes the module out of `sys.modules` and
puts it back: a request that checks in between fails with "ImportError: module moto.s3.urls not
in sys.modules" (about 1 in 3,000 lookups from six threads; CI met it in a race test). The patch
runs the same reload under one lock.

10. A DynamoDB item's size check is quadratic in its attributes. Upstream
(moto/dynamodb/models/dynamo_type.py), `Item.__init__` sets each top-level attribute through
`LimitedSizeDict.__setitem__`, which sums the size of every attribute already set (nested maps
walked again each time) before adding the next: an order of 7 attributes is sized 28 times per
put. The patch builds the item with the same check, `ItemSizeTooLarge` above 405,000 bytes
counted the same way (each name's bytes and its value's `size()`), keeping the running total.

11. A DynamoDB Query reads the whole table. Upstream (moto/dynamodb/models/table.py),
`Table.query` without an index takes `self.all_items()`, every item of the table sorted, and
keeps those of the asked partition key: a Query costs as much as a Scan and a sort. Listing one
sender's orders, 1,024 Queries (one per shard of its partition key), took 87 s over 4,500
orders. On AWS a Query reads one partition. While a Query of a table with a sort key and no
index runs, the patch makes `all_items` answer the asked partition's items only, sorted as
moto sorts them; the rest of the Query (conditions, paging, order, filters) is moto's own.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.s3 import notifications
from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.models import Message, Queue, SQSBackend

_sending = threading.local()
_applied = False
_versions_applied = False
_receive_applied = False
# Every receipt handle issued since the patch, to its message (gone with the message).
_by_receipt_handle: weakref.WeakValueDictionary[str, Message] = weakref.WeakValueDictionary()
_MAX_VISIBILITY_MILLIS = 43200 * 1000  # moto's (and SQS's) limit on a message's total visibility


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


_writes_applied = False
_dynamodb_lock = threading.RLock()
_DYNAMODB_STEPS = (
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "query",  # the reads that walk a table's items
    "scan",
    "describe_table",
)


def patch_dynamodb_atomic_writes() -> None:
    """Makes each DynamoDB item write, its condition included, one atomic step, and keeps the
    reads that walk a table from seeing it half done (idempotent)."""
    global _writes_applied
    if _writes_applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_STEPS:
        setattr(DynamoDBBackend, name, _atomically(getattr(DynamoDBBackend, name), _dynamodb_lock))
    _writes_applied = True


def _atomically(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return wrapper


_s3_puts_applied = False
_s3_put_lock = threading.RLock()


def patch_s3_atomic_puts() -> None:
    """Makes each PUT of an S3 object, its If-None-Match or If-Match included, one atomic step
    (idempotent)."""
    global _s3_puts_applied
    if _s3_puts_applied:
        return
    from moto.s3.responses import S3Response

    setattr(S3Response, "put_object", _atomically(S3Response.put_object, _s3_put_lock))  # noqa: B010
    _s3_puts_applied = True


_s3_urls_applied = False
_s3_urls_lock = threading.Lock()


def patch_s3_url_reload() -> None:
    """Serialises moto's reload of `moto.s3.urls` on each S3 request (idempotent)."""
    global _s3_urls_applied
    if _s3_urls_applied:
        return
    from moto.s3.models import S3Backend

    reloading = S3Backend._url_module.fget  # type: ignore[attr-defined]

    def url_module(backend: Any) -> Any:
        with _s3_urls_lock:
            return reloading(backend)

    setattr(S3Backend, "_url_module", property(url_module))  # noqa: B010
    _s3_urls_applied = True


_item_size_applied = False


def patch_dynamodb_item_size() -> None:
    """Builds a DynamoDB item checking its size once per attribute (idempotent)."""
    global _item_size_applied
    if _item_size_applied:
        return
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def build(item: Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        item.hash_key = hash_key
        item.range_key = range_key
        item.attrs = LimitedSizeDict()
        total = 0  # what LimitedSizeDict.__setitem__ sums again for each attribute
        for key, value in attrs.items():
            typed = DynamoType(value)
            size = bytesize(key) + typed.size()
            if total + size > _MOTO_ITEM_LIMIT:
                raise ItemSizeTooLarge
            dict.__setitem__(item.attrs, key, typed)
            total += size

    setattr(Item, "__init__", build)  # noqa: B010 - a dunder replaced on the class
    _item_size_applied = True


_MOTO_ITEM_LIMIT = 405000  # LimitedSizeDict's own limit (between AWS's 409 and 410 KB)


_starts_applied = False
_start_lock = threading.RLock()


def patch_sfn_atomic_starts() -> None:
    """Makes the look-up of an execution's name and its start one atomic step (idempotent)."""
    global _starts_applied
    if _starts_applied:
        return
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution
    setattr(StepFunctionsParserBackend, "start_execution", _atomically(start, _start_lock))  # noqa: B010
    _starts_applied = True


_lookups_applied = False


def patch_backend_lookup_lock() -> None:
    """Looks up an account's existing backends without moto's global lock (idempotent)."""
    global _lookups_applied
    if _lookups_applied:
        return
    from moto.core.base_backend import BackendDict

    locked_lookup = BackendDict.__getitem__

    def lookup(backends: BackendDict[Any], account_id: str) -> Any:
        try:
            return dict.__getitem__(backends, account_id)
        except KeyError:
            return locked_lookup(backends, account_id)

    setattr(BackendDict, "__getitem__", lookup)  # noqa: B010 - a dunder replaced on the class
    _lookups_applied = True


_map_loop_applied = False


def patch_distributed_map_loop() -> None:
    """Runs a Distributed Map worker's jobs in a loop instead of by recursion (idempotent)."""
    global _map_loop_applied
    if _map_loop_applied:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )

    def eval_pool(worker: Any, job: Any, worker_frame: Any) -> None:
        while job is not None:
            job_frame = worker_frame.open_inner_frame()
            worker._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or worker.stopped():
                break
            next_job = worker._job_pool.next_job()
            if next_job is None:
                break
            worker._job_pool.close_job(job)
            job = next_job
        worker._env.delete_frame(worker_frame)
        if job is not None:
            worker._job_pool.close_job(job)

    setattr(DistributedItemProcessorWorker, "_eval_pool", eval_pool)  # noqa: B010
    _map_loop_applied = True


_query_applied = False
_querying = threading.local()


def patch_dynamodb_query_by_partition() -> None:
    """Makes a Query read its one partition, not the whole table (idempotent)."""
    global _query_applied
    if _query_applied:
        return
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    @functools.wraps(original_query)
    def query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        one_partition = kwargs.get("index_name") is None and bool(table.range_key_attr)
        _querying.partition = (table, hash_key) if one_partition else None
        try:
            return original_query(table, hash_key, *args, **kwargs)
        finally:
            _querying.partition = None

    @functools.wraps(original_all_items)
    def all_items(table: Table) -> Any:
        asked = getattr(_querying, "partition", None)
        if asked is None or asked[0] is not table:
            return original_all_items(table)
        items = table.items.get(asked[1])  # `get`: moto's defaultdict must not grow
        return sorted((items or {}).values(), key=lambda item: item.range_key)

    setattr(Table, "query", query)  # noqa: B010
    setattr(Table, "all_items", all_items)  # noqa: B010
    _query_applied = True
