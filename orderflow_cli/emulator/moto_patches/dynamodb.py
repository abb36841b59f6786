"""moto's DynamoDB (5.2.x) patched to behave as DynamoDB does. Nothing the product sends or
reads changes.

1. DynamoDB conditional writes are not atomic. Upstream (moto/dynamodb/models/__init__.py and
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

2. A DynamoDB item's size check is quadratic in its attributes. Upstream
(moto/dynamodb/models/dynamo_type.py), `Item.__init__` sets each top-level attribute through
`LimitedSizeDict.__setitem__`, which sums the size of every attribute already set (nested maps
walked again each time) before adding the next: an order of 7 attributes is sized 28 times per
put. The patch builds the item with the same check, `ItemSizeTooLarge` above 405,000 bytes
counted the same way (each name's bytes and its value's `size()`), keeping the running total.

3. A DynamoDB Query reads the whole table. Upstream (moto/dynamodb/models/table.py),
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
from typing import Any

from orderflow_cli.emulator.moto_patches.core import atomically

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
        setattr(DynamoDBBackend, name, atomically(getattr(DynamoDBBackend, name), _dynamodb_lock))
    _writes_applied = True


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
