"""The reviews table's item layout: one item per reviewed rejection group (one DLQ message).

The table's key is `sender` (partition) and `batch_group` (sort: `<batch_id>/<group>`, the
group's name in its batch, in row order), so the reviews of a sender, or of one of its batches,
are a Query of the table itself and the table has no index: a review costs the write units of
one item, whatever its size, and nothing more. An item holds `batch_id`, `group`, `message_id`,
`created_at`, `reasons` and `rows` (sets: what a read filters on), `orders`, a map from row to
that order's review (`ReviewRecord.order_fields`: every field of the record but the group's),
and `outcomes`, a map from row to `<decision>:<ended>`: all a count of where a batch's orders
ended needs, read alone with a projection instead of every review in full.

A group whose reviews would make an item larger than `ITEM_BYTES` continues in items
`<batch_id>/<group>#2`, `#3`, ... (the first says how many in `continued`), each with the same
layout: `group_items` cuts them in row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.contracts.review import Decision, Ended, ReviewRecord, parse_outcome
from chalicelib.dynamo import decimals, item_size, now

PARTITION_KEY, SORT_KEY = "sender", "batch_group"  # the table's key (infra/stack.yaml)
# A group's reviews beyond this many bytes continue in more items (DynamoDB's limit is 400 KB).
ITEM_BYTES = 350_000
_SETS = frozenset({"reasons", "rows"})
_serialize = TypeSerializer().serialize

RecordOrValues = ReviewRecord | Mapping[str, Any]  # a record, or its plain values (`to_dict`'s)


def group_key(sender: str, batch_id: str, group: str) -> dict[str, Any]:
    """The table key of a group's item (`group` with `#<n>` for a continuation item)."""
    return {PARTITION_KEY: {"S": sender}, SORT_KEY: {"S": f"{batch_id}/{group}"}}


def key_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The table key of a plain item."""
    return {PARTITION_KEY: {"S": str(item[PARTITION_KEY])}, SORT_KEY: {"S": str(item[SORT_KEY])}}


def group_item(
    *,
    sender: str,
    batch_id: str,
    group: str,
    message_id: str,
    reviews: Sequence[RecordOrValues],
) -> dict[str, Any]:
    """The plain item that records one group's reviews."""
    records = [_record(review, sender, batch_id) for review in reviews]
    return {
        PARTITION_KEY: sender,
        SORT_KEY: f"{batch_id}/{group}",
        "batch_id": batch_id,
        "group": group,
        "message_id": message_id,
        "created_at": now(),
        "reasons": sorted({str(record.reason) for record in records}),
        "rows": sorted(record.row for record in records),
        "orders": {str(record.row): record.order_fields() for record in records},
        "outcomes": {str(record.row): record.outcome for record in records},
    }


def group_items(
    *,
    sender: str,
    batch_id: str,
    group: str,
    message_id: str,
    reviews: Sequence[RecordOrValues],
    item_bytes: int = ITEM_BYTES,
) -> list[dict[str, Any]]:
    """The group's item, then its continuation items when one item would be larger than
    `item_bytes` (in row order; the first says how many in `continued`)."""
    head = {"sender": sender, "batch_id": batch_id, "group": group, "message_id": message_id}
    parts: list[list[RecordOrValues]] = [[]]
    size = 0
    for review in reviews:
        review_bytes = item_size(serialize(group_item(**head, reviews=[review])))
        if parts[-1] and size + review_bytes > item_bytes:
            parts.append([])
            size = 0
        parts[-1].append(review)
        size += review_bytes
    items = [group_item(**head, reviews=part) for part in parts]
    for number, more in enumerate(items[1:], start=2):
        more["group"] = f"{group}#{number}"
        more[SORT_KEY] = f"{batch_id}/{group}#{number}"
    if len(items) > 1:
        items[0]["continued"] = len(items)
    return items


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain group item as DynamoDB attribute values (sets for `reasons` and `rows`; a float,
    such as a repaired `qty` of 2.0 in `changes`, as a number: it reads back as 2)."""
    serialized = {k: _serialize(decimals(v)) for k, v in item.items() if k not in _SETS}
    serialized["reasons"] = {"SS": list(item["reasons"])}
    serialized["rows"] = {"NS": [str(row) for row in item["rows"]]}
    return serialized


def records_of(item: Mapping[str, Any], reason: str | None = None) -> list[ReviewRecord]:
    """The records of a plain group item, in row order (of one reason, when given)."""
    group = {
        "sender": item.get(PARTITION_KEY),
        "batch_id": item["batch_id"],
        "created_at": item.get("created_at"),
    }
    orders = (item.get("orders") or {}).values()
    records = [
        ReviewRecord.from_dict({**order, **group})
        for order in orders
        if reason is None or order.get("reason") == reason
    ]
    return sorted(records, key=lambda record: record.row)


def outcomes_of(item: Mapping[str, Any]) -> dict[int, tuple[Decision, Ended]]:
    """A plain group item's `outcomes`: row -> (decision, ended). Raises ValueError for an item
    without them (every group item is written with them)."""
    outcomes = item.get("outcomes")
    if not isinstance(outcomes, Mapping):
        raise ValueError(f"the review item {item.get(SORT_KEY)!r} has no outcomes")
    return {int(row): parse_outcome(str(outcome)) for row, outcome in outcomes.items()}


def _record(review: RecordOrValues, sender: str, batch_id: str) -> ReviewRecord:
    if isinstance(review, ReviewRecord):
        return review
    return ReviewRecord.from_dict({**review, "sender": sender, "batch_id": batch_id})
