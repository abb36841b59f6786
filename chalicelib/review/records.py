"""Review records: the reviewer's records of one rejection group each, read as one record per
order (`contracts.review.ReviewRecord`).

The reviewer writes a group (`put_group`, once: a group delivered again finds it with
`get_group`); everyone else sees orders, as before the groups: `get`, `mark`, `page`, `every`,
`query` and `count` take and give per-order records (`ReviewRecord.to_dict`'s plain values,
with the group's `sender`, `batch_id` and `created_at`), and `outcomes` where each order of a
batch ended. How a group is kept is `items.py`'s; how the table is read, paged and continued
with a cursor is `queries.py`'s.

Nothing read here is ever cut silently: `page` hands out at most `limit` records and an opaque
cursor when there are more, `every` and `query` follow every page, and `count` counts every
record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.contracts.review import (
    MARKABLE_FIELDS,
    Decision,
    Ended,
    ReviewRecord,
    review_id_of,
)
from chalicelib.dynamo import plain_item
from chalicelib.review import items as layout
from chalicelib.review.items import (
    ITEM_BYTES,
    PARTITION_KEY,
    SORT_KEY,
    RecordOrValues,
    group_item,
    group_key,
    records_of,
)
from chalicelib.review.queries import (
    InvalidCursor,
    Page,
    TableItems,
    key_value,
    outcomes_request,
    read_of,
    read_page,
    row_request,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "ITEM_BYTES",
    "PARTITION_KEY",
    "SORT_KEY",
    "InvalidCursor",
    "Page",
    "ReviewRecords",
    "group_item",
    "group_key",
    "review_id_of",
]


class ReviewRecords:
    def __init__(self, client: DynamoDBClient, table: str, *, page_size: int | None = None) -> None:
        """`page_size`: items per DynamoDB request when reading many (None: DynamoDB's own
        pages of up to 1 MB); small in tests, to make several requests of a few groups."""
        self._client = client
        self._table = table
        self._items = TableItems(client, page_size)
        self._serialize = TypeSerializer().serialize

    # -- groups: what the reviewer writes --------------------------------------------------
    def get_group(self, sender: str, batch_id: str, group: str) -> list[dict[str, Any]] | None:
        """The per-order records of one group, None when it was never reviewed."""
        item = self._client.get_item(
            TableName=self._table, Key=group_key(sender, batch_id, group), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        first = plain_item(item)
        records = records_of(first)
        for number in range(2, int(first.get("continued", 1)) + 1):
            key = group_key(sender, batch_id, f"{group}#{number}")
            more = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
            records += records_of(plain_item(more["Item"]))
        return [record.to_dict() for record in records]

    def put_group(
        self,
        *,
        sender: str,
        batch_id: str,
        group: str,
        message_id: str,
        reviews: Sequence[RecordOrValues],
    ) -> bool:
        """Writes one group's record once; False when the group was already recorded. Its
        continuation items go first (the same content each time): the group's own item,
        written last, is what says the group was reviewed."""
        first, *more = layout.group_items(
            sender=sender, batch_id=batch_id, group=group, message_id=message_id,
            reviews=reviews, item_bytes=ITEM_BYTES,  # read here: a test may make items small
        )  # fmt: skip
        for item in more:
            self._client.put_item(TableName=self._table, Item=self.serialize(item))
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self.serialize(first),
                ConditionExpression="attribute_not_exists(#g)",
                ExpressionAttributeNames={"#g": SORT_KEY},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def serialize(self, item: dict[str, Any]) -> dict[str, Any]:
        """A plain group item as DynamoDB attribute values (sets for `reasons` and `rows`)."""
        return layout.serialize(item)

    # -- orders: what everyone else reads ---------------------------------------------------
    def get(self, review_id: str, *, sender: str | None = None) -> dict[str, Any] | None:
        """One order's review (`<batch_id>:<row>`), None when there is none: a query of its
        batch's groups (a scan without the sender), filtered on the group's rows."""
        found = self._find(review_id, sender)
        return found[1].to_dict() if found else None

    def mark(self, review_id: str, *, sender: str | None = None, **values: Any) -> None:
        """Sets fields of one order's review inside its group (an operator's redrive).
        Raises KeyError when there is no such review, ValueError for a field a review does
        not have or never changes (`decision` and `ended`: `outcomes` holds them too)."""
        if fixed := sorted(values.keys() & ReviewRecord.FIXED_FIELDS):
            raise ValueError(f"a review's {' and '.join(fixed)} are never changed")
        if unknown := sorted(values.keys() - MARKABLE_FIELDS):
            raise ValueError(f"a review has no field {', '.join(unknown)} to set")
        found = self._find(review_id, sender)
        if found is None:
            raise KeyError(review_id)
        key, record = found
        names = {"#o": "orders", "#r": str(record.row)}
        names.update({f"#{i}": name for i, name in enumerate(values)})
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression="SET " + ", ".join(f"#o.#r.#{i} = :{i}" for i in range(len(values))),
            ConditionExpression="attribute_exists(#o.#r)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                f":{i}": self._serialize(v) for i, v in enumerate(values.values())
            },
        )

    def page(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> Page:
        """At most `limit` records of one sender, batch or reason, or any of them together (all
        when none), in the table's order (row order within a batch), from where `cursor` left
        off. Raises InvalidCursor."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        read = read_of(self._table, sender, batch_id, reason)
        return read_page(self._items, read, limit=limit, cursor=cursor)

    def every(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of one sender, batch or reason, or any of them together (all when
        none), page by page."""
        for record in self._every(sender, batch_id, reason):
            yield record.to_dict()

    def query(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every record of one sender, batch or reason, or any of them together (all when
        none), never cut, ordered by sender, batch and row."""
        records = sorted(
            self._every(sender, batch_id, reason), key=lambda r: (r.sender, r.batch_id, r.row)
        )
        return [record.to_dict() for record in records]

    def outcomes(self, *, sender: str, batch_id: str) -> dict[int, tuple[Decision, Ended]]:
        """Every reviewed order of one batch: its row, to its decision and where it ended. Reads
        the groups' `outcomes` alone."""
        read = read_of(self._table, sender, batch_id, None)
        found: dict[int, tuple[Decision, Ended]] = {}
        for _, item in self._items.read(read, outcomes_request(read)):
            found.update(layout.outcomes_of(item))
        return found

    def count(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, int]:
        """`{"repair:stored": 3, "archive:archived": 1}` over every matching record."""
        counts: dict[str, int] = {}
        for record in self._every(sender, batch_id, reason):
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return counts

    # -- reading -----------------------------------------------------------------------------
    def _every(
        self, sender: str | None, batch_id: str | None, reason: str | None
    ) -> Iterator[ReviewRecord]:
        read = read_of(self._table, sender, batch_id, reason)
        for _, item in self._items.read(read):
            yield from records_of(item, read.reason)

    def _find(
        self, review_id: str, sender: str | None
    ) -> tuple[dict[str, Any], ReviewRecord] | None:
        """The table key of the item holding a review, and the review."""
        batch_id, _, row_text = review_id.rpartition(":")
        if not (batch_id and row_text.isascii() and row_text.isdigit() and len(row_text) < 16):
            return None
        if not key_value(batch_id):
            return None
        row = int(row_text)
        read = read_of(self._table, sender, batch_id, None)
        for _, item in self._items.read(read, row_request(read, row)):
            for record in records_of(item):
                if record.row == row:
                    return layout.key_of(item), record
        return None
