"""Small helpers for DynamoDB items shared by the record stores (batches, reviews)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: turn them into int (or float) for JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def decimals(value: Any) -> Any:
    """The other way: DynamoDB takes Decimal, not float (`plain`'s floats, an order's)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decimals(v) for v in value]
    return value


_deserialize = TypeDeserializer().deserialize


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (attribute values as the low-level client returns them) as plain JSON."""
    return {k: plain(_deserialize(v)) for k, v in item.items()}


def set_fields(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    serialize: Callable[[Any], Any],
) -> None:
    """`SET name = value, ...` on one item (created if missing), names escaped."""
    client.update_item(
        TableName=table,
        Key=dict(key),
        UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(values))),
        ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(values)},
        ExpressionAttributeValues={f":{i}": serialize(v) for i, v in enumerate(values.values())},
    )
