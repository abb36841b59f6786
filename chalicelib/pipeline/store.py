"""Conditional writes of valid orders to the orders table.

An order's key is its sender and its OrderId: the same OrderId from two senders is two orders.
The table's partition key is `sender_shard`, `<sender>#<shard>`, the shard taken from a hash of
the OrderId (`ORDER_SHARDS` values, `partition_key`), and its sort key the OrderId: one
sender's million orders spread over 1,024 partition key values instead of one (DynamoDB gives
one partition key at most 1,000 write units a second), while "this sender's order with this
OrderId" is still one GetItem, a sender's orders are `ORDER_SHARDS` Queries (`list_orders`),
and IAM holds a caller to its own items with `dynamodb:LeadingKeys` like `<sender>#*` (sender
ids hold no `#`, `*` or `?`: `chalicelib.senders.SENDER_ID`).
docs/pipeline.md, "The orders table's key".

One `PutItem` per order with `attribute_not_exists(OrderId)`: one write unit, the same price as
an unconditional put, and the only DynamoDB write that refuses an existing key under concurrency.
When the condition fails, the stored item comes back (`ReturnValuesOnConditionCheckFailure`) and
its content hash decides: the same content is a no-op (`unchanged`), other content a `conflict`.
The first writer always wins; nothing is ever overwritten.

A write that failed (the service's own error, a dropped connection) is retried `max_retries`
times (3) with exponential backoff and full jitter; a throttled write, one DynamoDB refused
before attempting it, waits its turn again up to `max_throttle_retries` times (10) behind the
chunk's pacer. An order whose write still fails is `store_failed`, with the last error as its
reason. The store's client does not retry (chalicelib.aws.order_writes): this is the one policy. A
`Pacer` shared by a chunk's writers adds back-pressure (chalicelib.pipeline.pacing): a throttle
halves the writes in flight and pauses every writer for a time that grows while throttles go on.

The stored item is the order plus six attributes of our own (`METADATA`: `sender_shard`,
`sender`, `OrderId`, `content_hash`, `batch_id`, `source_row`). An order whose own top-level
field has one of those names and another value (a partner's `batch_id` column, an exported item sent
again) would lose that value under ours, so it is never written: `RESERVED`, with the field
named. The same name with the same value (an order's own `OrderId` beside `order-info`'s) is
no loss and is stored.

An item larger than DynamoDB's limit can never be written, so it is never sent: its size is
computed first as DynamoDB counts it (`chalicelib.dynamo.item_size`), and DynamoDB's own "Item
size has exceeded the maximum allowed size" refusal, should the estimate ever fall short, ends
the same way: `too_large`, not retried.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from chalicelib.dynamo import decimals, measured, plain_item
from chalicelib.orders.validation import ValidOrder
from chalicelib.pipeline.pacing import Pacer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The errors worth another try: throttling and the service's own failures. Everything else
# (a validation error, a missing table) fails the same way every time.
RETRYABLE_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# The ones that say "too fast": the chunk's writers slow down (`Pacer`).
THROTTLING_ERRORS = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_CONDITION_FAILED = "ConditionalCheckFailedException"
# The stored item's attributes of our own, beside the order's fields (`_metadata`).
METADATA = ("sender_shard", "sender", "OrderId", "content_hash", "batch_id", "source_row")
# How many partition key values one sender's orders spread over (`partition_key`). Fixed for the
# life of a table: changing it moves every order's key (docs/pipeline.md, "The orders table's key").
ORDER_SHARDS = 1024
PARTITION_KEY = "sender_shard"
# DynamoDB's item limit, 400 KB: 409,600 bytes of attribute names and values as `item_size`
# counts them. Its refusal of a larger item is a ValidationException with this message.
MAX_ITEM_BYTES = 400 * 1024
_TOO_LARGE_MESSAGE = "item size has exceeded the maximum allowed size"


class StoreOutcome(Enum):
    STORED = "stored"
    UNCHANGED = "unchanged"  # already stored with the same content: a no-op
    CONFLICT = "conflict"  # already stored with other content: never overwritten
    STORE_FAILED = "store_failed"
    UNSTORABLE = "unstorable"  # holds a value DynamoDB cannot hold (NaN, 1e-200, a lone surrogate)
    TOO_LARGE = "too_large"  # larger than DynamoDB's item limit: no retry can store it
    RESERVED = "reserved"  # a top-level field of the order would be overwritten by ours


@dataclass(frozen=True, slots=True)
class StoreResult:
    outcome: StoreOutcome
    detail: str = ""  # the reason for CONFLICT, STORE_FAILED, UNSTORABLE and TOO_LARGE
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3  # of a write that failed
    max_throttle_retries: int = 10  # of a write refused for its rate (slowed down by the pacer)
    base_seconds: float = 0.05
    max_seconds: float = 2.0

    def gives_up(self, error: BaseException, attempt: int) -> bool:
        """Whether the `attempt`th try, which ended in `error`, is the last."""
        if not _retryable(error):
            return True
        budget = self.max_throttle_retries if _throttled(error) else self.max_retries
        return attempt > budget

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**retry)) for retry 0, 1, 2, ..."""
        return float(rand() * min(self.max_seconds, self.base_seconds * (2**retry)))


class OrderStore:
    """Writes validated orders to the orders table, one conditional put each. Safe to share
    between a chunk's writer threads (its `pacer` is what they share)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._policy = policy
        self._sleep = sleep
        self._serialize = TypeSerializer().serialize
        self.pacer = pacer if pacer is not None else Pacer(1, base_seconds=policy.base_seconds)

    def item_for(
        self, order: ValidOrder, *, sender: str, batch_id: str, row: int
    ) -> dict[str, Any]:
        """The stored item: the normalised order plus whose it is and where it came from."""
        return {**order.order, **_metadata(order, sender=sender, batch_id=batch_id, row=row)}

    def put(self, order: ValidOrder, *, sender: str, batch_id: str, row: int) -> StoreResult:
        storable = self._storable(order, sender=sender, batch_id=batch_id, row=row)
        if isinstance(storable, StoreResult):
            return storable
        serialized, _ = storable
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": serialized,
            "ConditionExpression": "attribute_not_exists(OrderId)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        attempt = 0
        while True:
            attempt += 1
            answer = self._paced(lambda: self._client.put_item(**request))
            if not isinstance(answer, BaseException):
                return StoreResult(StoreOutcome.STORED, attempts=attempt)
            error = answer
            if isinstance(error, UnicodeEncodeError):  # a lone surrogate: no request carries it
                detail = f"{type(error).__name__}: {error}"
                return StoreResult(StoreOutcome.UNSTORABLE, detail, attempt)
            if isinstance(error, ClientError):
                code = error.response.get("Error", {}).get("Code", "")
                if code == _CONDITION_FAILED:
                    stored: dict[str, Any] = getattr(error, "response", {}).get("Item", {})
                    return self._existing(order, stored, attempt)
                if _is_too_large(error):
                    return StoreResult(StoreOutcome.TOO_LARGE, _too_large(None), attempt)
            if self._policy.gives_up(error, attempt):
                return StoreResult(StoreOutcome.STORE_FAILED, _detail(error), attempt)
            self._sleep(self._policy.delay(attempt - 1))

    def _paced(self, call: Callable[[], object]) -> object | BaseException:
        """One call, in its turn (`pacer`): its answer, or the error it raised (the pacer
        learns of throttles here)."""
        self.pacer.acquire()
        throttled = False
        try:
            return call()
        except (UnicodeEncodeError, ClientError, ConnectionError, HTTPClientError) as error:
            throttled = _throttled(error)
            return error
        finally:
            self.pacer.release(throttled=throttled)

    def check(self, order: ValidOrder, *, sender: str, batch_id: str, row: int) -> StoreResult:
        """What `put` would do now, writing nothing (a dry run): the same checks of the item,
        then one GetItem instead of the conditional put (retried as `put` is). `stored`
        means it would be stored."""
        storable = self._storable(order, sender=sender, batch_id=batch_id, row=row)
        if isinstance(storable, StoreResult):
            return storable
        key = order_key(sender, order.order_id)
        attempt = 0
        while True:
            attempt += 1
            answer = self._paced(lambda: self._client.get_item(TableName=self._table, Key=key))
            if not isinstance(answer, BaseException):
                break
            if isinstance(answer, UnicodeEncodeError):
                return StoreResult(StoreOutcome.UNSTORABLE, f"{type(answer).__name__}: {answer}")
            if self._policy.gives_up(answer, attempt):
                return StoreResult(StoreOutcome.STORE_FAILED, _detail(answer), attempt)
            self._sleep(self._policy.delay(attempt - 1))
        stored = answer.get("Item") if isinstance(answer, dict) else None
        if stored is None:
            return StoreResult(StoreOutcome.STORED)
        return self._existing(order, dict(stored), 1)

    def _storable(
        self, order: ValidOrder, *, sender: str, batch_id: str, row: int
    ) -> tuple[dict[str, Any], int] | StoreResult:
        """The item as DynamoDB takes it and its size (`item_size`), or why it can never be
        stored."""
        ours = _metadata(order, sender=sender, batch_id=batch_id, row=row)
        overwritten = [
            name for name, value in ours.items()
            if name in order.order and order.order[name] != value
        ]  # fmt: skip
        if overwritten:
            return StoreResult(StoreOutcome.RESERVED, _reserved(overwritten), attempts=0)
        item = {**order.order, **ours}
        try:
            # extra fields may carry floats as sent
            serialized = {k: self._serialize(decimals(v)) for k, v in item.items()}
        except (TypeError, ValueError, ArithmeticError) as error:
            return StoreResult(StoreOutcome.UNSTORABLE, f"{type(error).__name__}: {error}")
        size = measured(serialized)  # measured once: the meter prices the put by it
        if size > MAX_ITEM_BYTES:
            return StoreResult(StoreOutcome.TOO_LARGE, _too_large(size), attempts=0)
        return serialized, size

    def get(self, sender: str, order_id: str) -> dict[str, Any] | None:
        """The sender's stored order with this OrderId (another sender's is not there). One
        GetItem, retried by its client's policy (the API's clients: chalicelib.aws.RETRIES)."""
        response = self._client.get_item(TableName=self._table, Key=order_key(sender, order_id))
        item = response.get("Item")
        return plain_item(item) if item is not None else None

    def list_orders(self, sender: str, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every stored order of the sender: one Query per partition key value of the sender
        (`ORDER_SHARDS` of them, each paged), in shard order then OrderId order."""
        for shard in range(ORDER_SHARDS):
            request: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                "ExpressionAttributeValues": {":pk": {"S": shard_key(sender, shard)}},
                "Limit": page_size,
            }
            while True:
                page = self._client.query(**request)
                for item in page.get("Items", []):
                    yield plain_item(item)
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _existing(self, order: ValidOrder, item: dict[str, Any], attempt: int) -> StoreResult:
        stored_hash = item.get("content_hash", {}).get("S")
        if stored_hash == order.content_hash:
            return StoreResult(StoreOutcome.UNCHANGED, attempts=attempt)
        stored_batch = item.get("batch_id", {}).get("S", "unknown")
        return StoreResult(
            StoreOutcome.CONFLICT,
            f"OrderId {order.order_id!r} is already stored with other content"
            f" (batch {stored_batch})",
            attempt,
        )


def _metadata(order: ValidOrder, *, sender: str, batch_id: str, row: int) -> dict[str, Any]:
    """The attributes of our own on a stored item (METADATA names them)."""
    return {
        PARTITION_KEY: partition_key(sender, order.order_id),
        "sender": sender,
        "OrderId": order.order_id,
        "content_hash": order.content_hash,
        "batch_id": batch_id,
        "source_row": row,
    }


def _reserved(names: list[str]) -> str:
    listed = ", ".join(f"{name!r}" for name in names)
    return (
        f"the order's own top-level field {listed} would be overwritten by the stored item's"
        f" {'attribute' if len(names) == 1 else 'attributes'} of that name"
        f" ({', '.join(METADATA)} are orderflow's): rename it in the file"
    )


def order_key(sender: str, order_id: str) -> dict[str, Any]:
    """The orders table's key of one order (infra/stack.yaml)."""
    return {PARTITION_KEY: {"S": partition_key(sender, order_id)}, "OrderId": {"S": order_id}}


def partition_key(sender: str, order_id: str) -> str:
    """`<sender>#<shard>`: the shard is the first 8 bytes of the OrderId's BLAKE2b digest
    modulo `ORDER_SHARDS`, as three hex digits (stable across processes and releases)."""
    digest = hashlib.blake2b(order_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return shard_key(sender, int.from_bytes(digest, "big") % ORDER_SHARDS)


def shard_key(sender: str, shard: int) -> str:
    return f"{sender}#{shard:03x}"


def leading_keys_pattern(sender: str) -> str:
    """The `dynamodb:LeadingKeys` pattern (StringLike) of every partition key of the sender."""
    return f"{sender}#*"


def _retryable(error: BaseException) -> bool:
    """Throttling, the service's own failures, and a connection that failed."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in RETRYABLE_ERRORS
    return isinstance(error, ConnectionError | HTTPClientError)


def _throttled(error: BaseException) -> bool:
    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code", "") in THROTTLING_ERRORS
    )


def _detail(error: BaseException) -> str:
    return _describe(error) if isinstance(error, ClientError) else str(error)


def _describe(error: ClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Unknown')}: {info.get('Message', '')}".strip()


def _is_too_large(error: ClientError) -> bool:
    info = error.response.get("Error", {})
    return (
        info.get("Code") == "ValidationException"
        and _TOO_LARGE_MESSAGE in str(info.get("Message", "")).lower()
    )


def _too_large(size: int | None) -> str:
    """`size` is the estimate, or None when DynamoDB itself refused the item."""
    limit = f"DynamoDB holds at most {MAX_ITEM_BYTES:,} bytes (400 KB) per item"
    if size is None:
        return f"DynamoDB refused the item as larger than its limit; {limit}"
    return f"the order makes an item of {size:,} bytes as DynamoDB counts them; {limit}"
