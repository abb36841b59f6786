"""ValidateOrder: one chunk in, every order to exactly one place out.

Each order of the chunk is validated on its own; a valid order is written with a conditional
put (retried on throttling; up to `STORE_WRITERS` puts in flight, fewer while DynamoDB
throttles: chalicelib.pipeline.pacing), anything else is dead-lettered with its reasons. The chunk's
outcome (counts and one summary per rejection, with its row) is written to S3, where
RecordBatch counts it: running the same chunk again stores nothing twice and gives the same
outcome. The outcome also carries the chunk's `requests` (costs.Requests): the reads, writes,
write units (retries included) and DLQ requests it made, counted where they are made, and its
own run as a Lambda invocation and an Express child execution.

A dry run (`ChunkTask.dry_run`) validates every order the same way and counts the same
outcomes, but writes nothing to the orders table and sends nothing to the DLQ: a valid order is
checked against the table with one GetItem (`OrderStore.check`), so an OrderId already stored
with other content is a `conflict` and one stored with the same content `unchanged`, as the
real run would find them at that moment. Only a write that fails (`store_failed`) cannot be
foreseen.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from chalicelib import costs, metrics
from chalicelib.costs import Requests
from chalicelib.log import get_logger
from chalicelib.orders.records import FieldError, Record
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.deadletter import DeadLetterQueue, Rejection
from chalicelib.pipeline.inflight import in_order
from chalicelib.pipeline.store import OrderStore, StoreOutcome, StoreResult

log = get_logger("process")

INVALID = "invalid"
CONFLICT = "conflict"
STORE_FAILED = "store_failed"

STORE_ERROR_CODES = {
    "OrderId.conflict": "the OrderId is already stored with other content; nothing was overwritten",
    "order.store_failed": "the order could not be written after every retry; the message says why",
    "order.not_storable": "the order holds a number DynamoDB cannot hold (beyond its range, such"
    " as 1e-200, or more than 38 significant digits)",
    "order.too_large": "the order is larger than DynamoDB's 400 KB item limit; it is never"
    " retried (the message gives its size)",
    "order.reserved_field": "a top-level field of the order has the name of one of the stored"
    " item's own attributes (sender_shard, sender, OrderId, content_hash, batch_id, source_row)"
    " and another value, which storing would overwrite; the message names it",
}


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One Distributed Map item: the chunk, the batch it belongs to and the batch's sender."""

    sender: str
    batch_id: str
    bucket: str
    key: str
    index: int
    chunk_key: str
    dry_run: bool = False  # validate and count only: store nothing, dead-letter nothing

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ChunkTask:
        chunk = event["chunk"]
        return cls(
            event["sender"],
            event["batch_id"],
            event["bucket"],
            event["key"],
            chunk["index"],
            chunk["key"],
            bool(event.get("dry_run", False)),
        )


def process_chunk(
    task: ChunkTask,
    *,
    chunks: ChunkStore,
    store: OrderStore,
    dlq: DeadLetterQueue,
    batches: BatchRecords,
    context: Any = None,
) -> dict[str, Any]:
    """Processes the chunk, writes its outcome to S3 and returns it. `context` is the Lambda
    context (its memory prices the run); None when RecordBatch reprocesses the chunk, whose
    own run then holds this one."""
    started = time.monotonic()
    records = chunks.read_chunk(task.chunk_key)
    requests = Requests(s3_get=1)
    outcomes: Counter[str] = Counter()
    rejections = [
        rejection
        for rejection in _settle_all(records, task, store, outcomes, requests)
        if rejection is not None
    ]
    if not task.dry_run:
        dlq.send(
            rejections,
            sender=task.sender,
            batch_id=task.batch_id,
            chunk=task.index,
            bucket=task.bucket,
            key=task.key,
            requests=requests,
        )
    # what follows: this outcome's own PUT and the progress update (one small item, 1 unit)
    requests.add({"s3_put": 1, "dynamodb_write_units": 1})
    if context is not None:  # its own invocation, in its own Express child execution
        seconds = time.monotonic() - started
        requests.add(
            {
                "lambda_invocations": 1,
                "lambda_gb_seconds": costs.lambda_gb_seconds(seconds, context),
                "sfn_express_requests": 1,
                "sfn_express_gb_seconds": seconds * costs.SFN_EXPRESS_MIN_MEMORY_GB,
            }
        )
    result = {
        "index": task.index,
        "status": "done",
        "total": len(records),
        "stored": outcomes[StoreOutcome.STORED.value] + outcomes[StoreOutcome.UNCHANGED.value],
        "unchanged": outcomes[StoreOutcome.UNCHANGED.value],
        "rejected": len(rejections),
        "rejected_by_reason": dict(Counter(r.reason for r in rejections)),
        "rejections": [{**r.summary(), "order": r.order} for r in rejections],
        "requests": requests.to_dict(),
    }
    chunks.write_result(task.index, result)
    batches.add_progress(task.sender, task.batch_id, len(records))
    log.info(
        "chunk processed",
        extra={
            "sender": task.sender,
            "batch_id": task.batch_id,
            "chunk": task.index,
            "total": result["total"],
            "stored": result["stored"],
            "rejected": result["rejected"],
            "dry_run": task.dry_run,
        },
    )
    if not task.dry_run:  # as RecordBatch: a dry run's orders are not orders handled
        metrics.chunk_processed(
            orders=len(records),
            seconds=time.monotonic() - started,
            batch_id=task.batch_id,
            sender=task.sender,
        )
    return result


def _settle_all(
    records: list[Record],
    task: ChunkTask,
    store: OrderStore,
    outcomes: Counter[str],
    requests: Requests,
) -> list[Rejection | None]:
    """Each record's rejection (None: stored), in the chunk's order. Valid orders are written
    with up to `store.pacer.writers` puts in flight (threads: a put is a network wait), the
    pacer lowering that while DynamoDB throttles."""
    judged = [_judge(record) for record in records]
    write = store.check if task.dry_run else store.put

    def settle(record: Record, checked: ValidOrder) -> StoreResult:
        return write(checked, sender=task.sender, batch_id=task.batch_id, row=record.row)

    valid = [(r, j) for r, j in zip(records, judged, strict=True) if isinstance(j, ValidOrder)]
    results = iter(list(in_order(lambda pair: settle(*pair), valid, store.pacer.writers)))
    settled: list[Rejection | None] = []
    for record, verdict in zip(records, judged, strict=True):
        if isinstance(verdict, ValidOrder):
            result = next(results)
            outcomes[result.outcome.value] += 1
            requests.dynamodb_write_units += result.write_units
            if task.dry_run:
                requests.dynamodb_read_units += 1  # the GetItem that stands in for the put
            settled.append(_stored(record, verdict, result))
        else:
            settled.append(verdict)
    return settled


def _judge(record: Record) -> ValidOrder | Rejection:
    """The order ready to store, or why it is invalid."""
    if record.error is not None:
        return _rejection(record, INVALID, (record.error,))
    checked = validate_order(record.order)
    if not isinstance(checked, ValidOrder):
        return _rejection(record, INVALID, tuple(checked))
    return checked


def _stored(record: Record, checked: ValidOrder, result: StoreResult) -> Rejection | None:
    """What the write of a valid order came to: None when stored (or unchanged)."""
    if result.outcome is StoreOutcome.CONFLICT:
        error = FieldError(
            "order-info.OrderId", "OrderId.conflict", result.detail, checked.order_id
        )
        return _rejection(record, CONFLICT, (error,), checked.order_id)
    if result.outcome is StoreOutcome.UNSTORABLE:
        error = FieldError("order", "order.not_storable", result.detail, None)
        return _rejection(record, INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.TOO_LARGE:  # no retry can store it: not store_failed
        error = FieldError("order", "order.too_large", result.detail, None)
        return _rejection(record, INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.RESERVED:  # storing would lose the order's own value
        error = FieldError("order", "order.reserved_field", result.detail, None)
        return _rejection(record, INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.STORE_FAILED:
        message = f"write failed after {result.attempts} attempt(s): {result.detail}"
        error = FieldError("order", "order.store_failed", message, None)
        return _rejection(record, STORE_FAILED, (error,), checked.order_id)
    return None


def _rejection(
    record: Record, reason: str, errors: tuple[FieldError, ...], order_id: str | None = None
) -> Rejection:
    return Rejection(
        row=record.row,
        order=record.order,
        order_id=order_id if order_id is not None else _order_id(record.order),
        reason=reason,
        errors=errors,
    )


def _order_id(order: Any) -> str | None:
    """The OrderId as sent, when there is one to show (for an invalid order)."""
    if isinstance(order, dict):
        info = order.get("order-info")
        if isinstance(info, dict):
            value = info.get("OrderId")
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value).strip() or None
    return None
