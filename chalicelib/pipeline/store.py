"""Conditional writes of valid orders to the orders table.

One `PutItem` per order with `attribute_not_exists(OrderId)`: one write unit, the same price as
an unconditional put, and the only DynamoDB write that refuses an existing key under concurrency.
When the condition fails, the stored item comes back (`ReturnValuesOnConditionCheckFailure`) and
its content hash decides: the same content is a no-op (`unchanged`), other content a `conflict`.
The first writer always wins; nothing is ever overwritten.

Throttling and service errors are retried `max_retries` times with exponential backoff and full
jitter; an order whose write still fails is `store_failed`, with the last error as its reason.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from chalicelib.orders.validation import ValidOrder

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
_CONDITION_FAILED = "ConditionalCheckFailedException"


class StoreOutcome(Enum):
    STORED = "stored"
    UNCHANGED = "unchanged"  # already stored with the same content: a no-op
    CONFLICT = "conflict"  # already stored with other content: never overwritten
    STORE_FAILED = "store_failed"
    UNSTORABLE = "unstorable"  # holds a value DynamoDB cannot hold (NaN, 1e-200, a lone surrogate)


@dataclass(frozen=True, slots=True)
class StoreResult:
    outcome: StoreOutcome
    detail: str = ""  # the reason for CONFLICT and STORE_FAILED
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_seconds: float = 0.05
    max_seconds: float = 2.0

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**retry)) for retry 0, 1, 2, ..."""
        return float(rand() * min(self.max_seconds, self.base_seconds * (2**retry)))


class OrderStore:
    """Writes validated orders to the orders table, one conditional put each."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._policy = policy
        self._sleep = sleep
        self._serialize = TypeSerializer().serialize

    def item_for(self, order: ValidOrder, *, batch_id: str, row: int) -> dict[str, Any]:
        """The stored item: the normalised order plus where it came from."""
        return {
            **order.order,
            "OrderId": order.order_id,
            "content_hash": order.content_hash,
            "batch_id": batch_id,
            "source_row": row,
        }

    def put(self, order: ValidOrder, *, batch_id: str, row: int) -> StoreResult:
        item = self.item_for(order, batch_id=batch_id, row=row)
        try:
            serialized = {k: self._serialize(_numbers_as_decimal(v)) for k, v in item.items()}
        except (TypeError, ValueError, ArithmeticError) as error:
            return StoreResult(StoreOutcome.UNSTORABLE, f"{type(error).__name__}: {error}")
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": serialized,
            "ConditionExpression": "attribute_not_exists(OrderId)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        attempt = 0
        while True:
            attempt += 1
            try:
                self._client.put_item(**request)
                return StoreResult(StoreOutcome.STORED, attempts=attempt)
            except UnicodeEncodeError as error:  # a lone surrogate: no request can carry it
                return StoreResult(StoreOutcome.UNSTORABLE, f"{type(error).__name__}: {error}")
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == _CONDITION_FAILED:
                    stored: dict[str, Any] = getattr(error, "response", {}).get("Item", {})
                    return self._existing(order, stored, attempt)
                if code not in RETRYABLE_ERRORS or attempt > self._policy.max_retries:
                    return StoreResult(StoreOutcome.STORE_FAILED, _describe(error), attempt)
            except (ConnectionError, HTTPClientError) as error:
                if attempt > self._policy.max_retries:
                    return StoreResult(StoreOutcome.STORE_FAILED, str(error), attempt)
            self._sleep(self._policy.delay(attempt - 1))

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


def _numbers_as_decimal(value: Any) -> Any:
    """DynamoDB takes Decimal, not float (extra fields may carry floats as sent)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _numbers_as_decimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_decimal(v) for v in value]
    return value


def _describe(error: ClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Unknown')}: {info.get('Message', '')}".strip()
