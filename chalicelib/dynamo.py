"""Small helpers for DynamoDB items shared by the stores (orders, batches, reviews): numbers,
plain JSON, and an item's size as DynamoDB counts it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer


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


def item_size(item: Mapping[str, Any]) -> int:
    """The size of a serialised item (`{"name": {"S": ...}, ...}`) as DynamoDB counts it against
    its item limit: each attribute's name in UTF-8 bytes plus its value's size.

    Value sizes follow DynamoDB's documentation ("Item sizes and formats"): a string or binary
    is its length in bytes (UTF-8); a number is 1 byte per two significant digits plus 1, and
    here 1 more for a sign (a conservative rounding); a boolean or null is 1 byte; a map or list
    is 3 bytes plus, per element, 1 byte and the element's size (a map's element also its name);
    a set is the sum of its members. Where the documentation says "approximately", this counts
    at least as much as DynamoDB does, so an item it accepts is never refused by DynamoDB.
    """
    return sum(_utf8(name) + _value_size(value) for name, value in item.items())


_last_measured = threading.local()


def measured(item: Mapping[str, Any]) -> int:
    """`item_size(item)`, measured once for the item a thread measured last: the store sizes
    an order's item before it puts it, and the meter prices the put by the same item
    (`chalicelib.metering`) without measuring it again. An item is never changed once
    measured: a changed item is a new mapping."""
    last = getattr(_last_measured, "item", None)
    if last is not None and last[0] is item:
        size: int = last[1]
        return size
    size = item_size(item)
    _last_measured.item = (item, size)
    return size


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return _utf8(content)
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(bytes(content))
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + _value_size(v) for k, v in content.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    if kind == "SS":
        return sum(_utf8(s) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(len(bytes(b)) for b in content)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _utf8(text: str) -> int:
    # surrogatepass: a lone surrogate is refused later, when the request is encoded
    return len(text.encode("utf-8", "surrogatepass"))


def _number_size(text: str) -> int:
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return (max(len(digits), 1) + 1) // 2 + 2
