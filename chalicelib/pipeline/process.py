"""ValidateOrder: one chunk in, every order to exactly one place out.

Each order of the chunk is validated on its own; a valid order is written with a conditional
put (retried on throttling; up to `STORE_WRITERS` puts in flight, fewer while DynamoDB
throttles: chalicelib.pipeline.pacing), anything else is dead-lettered with its reasons. The chunk's
outcome (counts and one summary per rejection, with its row) is written to S3, where
RecordBatch counts it: running the same chunk again stores nothing twice and gives the same
outcome. The outcome (`contracts.ChunkOutcome`) also carries the chunk's `requests`
(costs.Requests): every call it made, retries included, metered where it was made
(chalicelib.metering), its outcome's own PUT, and its own run as a Lambda invocation and an
Express child execution.

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
from typing import Any

from chalicelib import costs, metrics
from chalicelib.contracts import ChunkOutcome, ChunkTask, Reason, Rejection
from chalicelib.costs import Requests
from chalicelib.log import get_logger
from chalicelib.orders.records import FieldError, Record
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.deadletter import DeadLetterQueue
from chalicelib.pipeline.inflight import in_order
from chalicelib.pipeline.store import OrderStore, StoreOutcome, StoreResult

__all__ = ["ChunkTask", "process_chunk"]

log = get_logger("process")


def process_chunk(
    task: ChunkTask,
    *,
    chunks: ChunkStore,
    store: OrderStore,
    dlq: DeadLetterQueue,
    batches: BatchRecords,
    requests: Requests | None = None,
    context: Any = None,
) -> ChunkOutcome:
    """Processes the chunk, writes its outcome to S3 and returns it. `requests` is the
    invocation's meter (`chalicelib.metering`): what the chunk asked of each service, which
    its outcome carries. `context` is the Lambda context (its memory prices the run); None
    when RecordBatch reprocesses the chunk, whose own run then holds this one."""
    started = time.monotonic()
    requests = requests if requests is not None else Requests()
    records = chunks.read_chunk(task.chunk_key)
    outcomes: Counter[StoreOutcome] = Counter()
    rejections = [
        rejection
        for rejection in _settle_all(records, task, store, outcomes)
        if rejection is not None
    ]
    if not task.dry_run:
        dlq.send(
            rejections, sender=task.sender, batch_id=task.batch_id, chunk=task.index,
            bucket=task.bucket, key=task.key,
        )  # fmt: skip
    batches.add_progress(task.sender, task.batch_id, len(records))
    outcome = ChunkOutcome(
        index=task.index,
        total=len(records),
        stored=outcomes[StoreOutcome.STORED] + outcomes[StoreOutcome.UNCHANGED],
        unchanged=outcomes[StoreOutcome.UNCHANGED],
        rejections=tuple(rejections),
        requests=_own_run(requests, started, context),
    )
    chunks.write_result(outcome)
    _report(task, outcome, seconds=time.monotonic() - started)
    return outcome


def _own_run(requests: Requests, started: float, context: Any) -> Requests:
    """What the chunk's outcome carries: the requests metered so far, and the one still to
    come, the outcome's own PUT (which cannot count itself); with `context`, its own run as a
    Lambda invocation in an Express child execution."""
    own = Requests().add(requests).add({"s3_put": 1})
    if context is not None:
        seconds = time.monotonic() - started
        own.add(
            {
                "lambda_invocations": 1,
                "lambda_gb_seconds": costs.lambda_gb_seconds(seconds, context),
                "sfn_express_requests": 1,
                "sfn_express_gb_seconds": seconds * costs.SFN_EXPRESS_MIN_MEMORY_GB,
            }
        )
    return own


def _report(task: ChunkTask, outcome: ChunkOutcome, *, seconds: float) -> None:
    log.info(
        "chunk processed",
        extra={
            "sender": task.sender,
            "batch_id": task.batch_id,
            "chunk": task.index,
            "total": outcome.total,
            "stored": outcome.stored,
            "rejected": outcome.rejected,
            "dry_run": task.dry_run,
        },
    )
    if not task.dry_run:  # as RecordBatch: a dry run's orders are not orders handled
        metrics.chunk_processed(
            orders=outcome.total, seconds=seconds, batch_id=task.batch_id, sender=task.sender
        )


def _settle_all(
    records: list[Record],
    task: ChunkTask,
    store: OrderStore,
    outcomes: Counter[StoreOutcome],
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
            outcomes[result.outcome] += 1
            settled.append(_stored(record, verdict, result))
        else:
            settled.append(verdict)
    return settled


def _judge(record: Record) -> ValidOrder | Rejection:
    """The order ready to store, or why it is invalid."""
    if record.error is not None:
        return _rejection(record, Reason.INVALID, (record.error,))
    checked = validate_order(record.order)
    if not isinstance(checked, ValidOrder):
        return _rejection(record, Reason.INVALID, tuple(checked))
    return checked


def _stored(record: Record, checked: ValidOrder, result: StoreResult) -> Rejection | None:
    """What the write of a valid order came to: None when stored (or unchanged)."""
    if result.outcome is StoreOutcome.CONFLICT:
        error = FieldError(
            "order-info.OrderId", "OrderId.conflict", result.detail, checked.order_id
        )
        return _rejection(record, Reason.CONFLICT, (error,), checked.order_id)
    if result.outcome is StoreOutcome.UNSTORABLE:
        error = FieldError("order", "order.not_storable", result.detail, None)
        return _rejection(record, Reason.INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.TOO_LARGE:  # no retry can store it: not store_failed
        error = FieldError("order", "order.too_large", result.detail, None)
        return _rejection(record, Reason.INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.RESERVED:  # storing would lose the order's own value
        error = FieldError("order", "order.reserved_field", result.detail, None)
        return _rejection(record, Reason.INVALID, (error,), checked.order_id)
    if result.outcome is StoreOutcome.STORE_FAILED:
        message = f"write failed after {result.attempts} attempt(s): {result.detail}"
        error = FieldError("order", "order.store_failed", message, None)
        return _rejection(record, Reason.STORE_FAILED, (error,), checked.order_id)
    return None


def _rejection(
    record: Record, reason: Reason, errors: tuple[FieldError, ...], order_id: str | None = None
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
