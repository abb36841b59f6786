"""Review records: one item per reviewed rejection group (one DLQ message) in the reviews table,
read through a facade of one record per order.

The table's key is `sender` (partition) and `batch_group` (sort: `<batch_id>/<group>`, the
group's name in its batch, in row order), so the reviews of a sender, or of one of its batches,
are a Query of the table itself and the table has no index: a review costs the write units of
one item, whatever its size, and nothing more. An item holds `batch_id`, `group`, `message_id`,
`created_at`, `reasons` and `rows` (sets: what a read filters on) and `orders`, a map from row
to that order's review (`review_id` `<batch_id>:<row>`, `row`, `order_id`, `reason`, `decision`,
`ended`, `why`, `changes`, `archive_key`, `redriven_to`) and `outcomes`, a map from row to
`<decision>:<ended>`: all a count of where a batch's orders ended needs, read alone with a
projection (`outcomes`) instead of every review in full. A group whose reviews would make an
item larger than DynamoDB allows continues in items `<batch_id>/<group>#2`, `#3`, ... (the first
says how many in `continued`), written before it: the group's own item, written last, is what
says the group was reviewed.

Callers see orders, as before the groups: `get`, `mark`, `page`, `every`, `query` and `count`
take and give per-order records (the order's review with `batch_id` and `created_at`). By
reason, or without a sender, is a Scan with a filter: an operator's query, never on the order
path nor the API's (which always names the caller's sender).

Nothing read here is ever cut silently: `page` hands out at most `limit` records and an opaque
cursor when there are more, `every` and `query` follow every page, and `count` counts every
record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.dynamo import item_size, now, plain_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION_KEY, SORT_KEY = "sender", "batch_group"  # the table's key (infra/stack.yaml)
_MAX_CURSOR = 4096  # characters: a cursor holds two key values of a few hundred bytes
_MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (and a bound for the others)
_MAX_ROW = 2**53  # a row number a cursor may name (JSON's exact integers)
# A group's reviews beyond this many bytes continue in more items (DynamoDB's limit is 400 KB).
ITEM_BYTES = 350_000
_ORDER_FIELDS = ("review_id", "row", "order_id", "reason", "decision", "ended", "why",
                 "changes", "archive_key", "redriven_to")  # fmt: skip


class InvalidCursor(ValueError):
    """A cursor this query did not hand out (malformed, altered, or from another query)."""


@dataclass(frozen=True, slots=True)
class Page:
    """Up to `limit` records and, when more follow, the cursor that continues after them."""

    records: list[dict[str, Any]]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class _Read:
    """One way of reading the table: a scan, or a query of one batch's groups."""

    operation: str  # scan | query
    request: dict[str, Any]
    # (sender, batch_id, reason): what a cursor must belong to
    scope: tuple[str | None, str | None, str | None]


def review_id_of(batch_id: str, row: int) -> str:
    return f"{batch_id}:{row}"


def group_key(sender: str, batch_id: str, group: str) -> dict[str, Any]:
    """The table key of a group's item (`group` with `#<n>` for a continuation item)."""
    return {PARTITION_KEY: {"S": sender}, SORT_KEY: {"S": f"{batch_id}/{group}"}}


def group_item(
    *,
    sender: str,
    batch_id: str,
    group: str,
    message_id: str,
    reviews: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The plain item that records one group's reviews (`reviews`: per-order summaries)."""
    orders = {
        str(review["row"]): {
            k: v for k, v in review.items() if k in _ORDER_FIELDS and v is not None
        }
        for review in reviews
    }
    return {
        PARTITION_KEY: sender,
        SORT_KEY: f"{batch_id}/{group}",
        "batch_id": batch_id,
        "group": group,
        "message_id": message_id,
        "created_at": now(),
        "reasons": sorted({str(review["reason"]) for review in reviews}),
        "rows": sorted(int(review["row"]) for review in reviews),
        "orders": orders,
        "outcomes": {str(review["row"]): _outcome(review) for review in reviews},
    }


class ReviewRecords:
    def __init__(self, client: DynamoDBClient, table: str, *, page_size: int | None = None) -> None:
        """`page_size`: items per DynamoDB request when reading many (None: DynamoDB's own
        pages of up to 1 MB); small in tests, to make several requests of a few groups."""
        self._client = client
        self._table = table
        self._page_size = page_size
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
        orders = _orders_of(first)
        for number in range(2, int(first.get("continued", 1)) + 1):
            key = group_key(sender, batch_id, f"{group}#{number}")
            more = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
            orders += _orders_of(plain_item(more["Item"]))
        return orders

    def put_group(
        self,
        *,
        sender: str,
        batch_id: str,
        group: str,
        message_id: str,
        reviews: Sequence[dict[str, Any]],
    ) -> bool:
        """Writes one group's record once; False when the group was already recorded."""
        parts = self._parts(sender, batch_id, group, message_id, reviews)
        for number, more in enumerate(parts[1:], start=2):  # the same content each time
            more["group"] = f"{group}#{number}"
            more[SORT_KEY] = f"{batch_id}/{group}#{number}"
            self._client.put_item(TableName=self._table, Item=self.serialize(more))
        first = parts[0]
        if len(parts) > 1:
            first["continued"] = len(parts)
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

    def _parts(
        self,
        sender: str,
        batch_id: str,
        group: str,
        message_id: str,
        reviews: Sequence[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The group's item, or its items when one would be too large (in row order)."""
        parts: list[list[dict[str, Any]]] = [[]]
        size = 0
        for review in reviews:
            one = group_item(sender=sender, batch_id=batch_id, group=group,
                             message_id=message_id, reviews=[review])  # fmt: skip
            review_bytes = item_size(self.serialize(one))
            if parts[-1] and size + review_bytes > ITEM_BYTES:
                parts.append([])
                size = 0
            parts[-1].append(review)
            size += review_bytes
        return [
            group_item(
                sender=sender,
                batch_id=batch_id,
                group=group,
                message_id=message_id,
                reviews=part,
            )
            for part in parts
        ]

    def serialize(self, item: dict[str, Any]) -> dict[str, Any]:
        """A plain group item as DynamoDB attribute values (sets for `reasons` and `rows`)."""
        serialized = {
            k: self._serialize(v) for k, v in item.items() if k not in {"reasons", "rows"}
        }
        serialized["reasons"] = {"SS": list(item["reasons"])}
        serialized["rows"] = {"NS": [str(row) for row in item["rows"]]}
        return serialized

    # -- orders: what everyone else reads ---------------------------------------------------
    def get(self, review_id: str, *, sender: str | None = None) -> dict[str, Any] | None:
        """One order's review (`<batch_id>:<row>`), None when there is none: a query of its
        batch's groups (a scan without the sender), filtered on the group's rows."""
        found = self._find(review_id, sender)
        return found[1] if found else None

    def mark(self, review_id: str, *, sender: str | None = None, **values: Any) -> None:
        """Sets fields of one order's review inside its group (an operator's redrive).
        Raises KeyError when there is no such review. `decision` and `ended` are never changed:
        `outcomes` holds them too."""
        if fixed := sorted(values.keys() & {"decision", "ended"}):
            raise ValueError(f"a review's {' and '.join(fixed)} are never changed")
        found = self._find(review_id, sender)
        if found is None:
            raise KeyError(review_id)
        key, record = found
        names = {"#o": "orders", "#r": str(record["row"])}
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
        read = self._read(sender, batch_id, reason)
        before, after_row = _decode(cursor, read) if cursor else (None, None)
        kept: list[dict[str, Any]] = []
        last_before: dict[str, Any] | None = None  # the key before the last kept's group
        for index, (previous, item) in enumerate(self._items(read, read.request, start=before)):
            orders = _orders_of(item, reason)
            if index == 0 and after_row is not None:  # the group the cursor stopped inside
                orders = [o for o in orders if o["row"] > after_row]
            for order in orders:
                if len(kept) == limit:  # one more than asked for: another page follows
                    return Page(kept, _encode(last_before, kept[-1]["row"], read))
                kept.append(order)
                last_before = previous
        return Page(kept, None)

    def every(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of one sender, batch or reason, or any of them together (all when
        none), page by page."""
        read = self._read(sender, batch_id, reason)
        for _, item in self._items(read, read.request):
            yield from _orders_of(item, reason)

    def query(
        self,
        *,
        sender: str | None = None,
        batch_id: str | None = None,
        reason: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every record of one sender, batch or reason, or any of them together (all when
        none), never cut, ordered by sender, batch and row."""
        records = list(self.every(sender=sender, batch_id=batch_id, reason=reason))
        return sorted(
            records,
            key=lambda r: (r.get("sender", ""), r.get("batch_id", ""), r.get("row") or 0),
        )

    def outcomes(self, *, sender: str, batch_id: str) -> dict[int, tuple[str, str]]:
        """Every reviewed order of one batch: its row, to its decision and where it ended. Reads
        the groups' `outcomes` alone; a group recorded before there were `outcomes` is read in
        full."""
        read = self._read(sender, batch_id, None)
        names = {**read.request.get("ExpressionAttributeNames", {}), "#out": "outcomes"}
        names.update({"#s": PARTITION_KEY, "#bg": SORT_KEY})  # the key: where a page ends
        request = {
            **read.request,
            "ProjectionExpression": "#s, #bg, #out",
            "ExpressionAttributeNames": names,
        }
        found: dict[int, tuple[str, str]] = {}
        for _, item in self._items(read, request):
            outcomes = item.get("outcomes")
            if outcomes is None:  # an older group: its reviews in full
                key = {PARTITION_KEY: {"S": sender}, SORT_KEY: {"S": item[SORT_KEY]}}
                whole = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
                outcomes = {
                    str(order["row"]): _outcome(order)
                    for order in _orders_of(plain_item(whole["Item"]))
                }
            for row, outcome in outcomes.items():
                decision, _, ended = str(outcome).partition(":")
                found[int(row)] = (decision, ended)
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
        for record in self.every(sender=sender, batch_id=batch_id, reason=reason):
            place = _outcome(record)
            counts[place] = counts.get(place, 0) + 1
        return counts

    # -- reading -----------------------------------------------------------------------------
    def _find(
        self, review_id: str, sender: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The table key of the item holding a review, and the review."""
        batch_id, _, row_text = review_id.rpartition(":")
        if not (batch_id and row_text.isascii() and row_text.isdigit() and len(row_text) < 16):
            return None
        if not _key_value(batch_id):
            return None
        row = int(row_text)
        read = self._read(sender, batch_id, None)
        request = {
            **read.request,
            "FilterExpression": _and(read.request.get("FilterExpression"), "contains(#rows, :row)"),
            "ExpressionAttributeNames": {**read.request["ExpressionAttributeNames"],
                                         "#rows": "rows"},
            "ExpressionAttributeValues": {**read.request["ExpressionAttributeValues"],
                                          ":row": {"N": str(row)}},
            "ConsistentRead": True,
        }  # fmt: skip
        for _, item in self._items(read, request):
            for record in _orders_of(item):
                if record["row"] == row:
                    key = {PARTITION_KEY: {"S": item[PARTITION_KEY]},
                           SORT_KEY: {"S": item[SORT_KEY]}}  # fmt: skip
                    return key, record
        return None

    def _items(
        self, read: _Read, request: dict[str, Any], start: dict[str, Any] | None = None
    ) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any]]]:
        """Every item of the read from after `start` (a table key, as DynamoDB writes it), each
        with the key of the item before it in the table's order (`start` for the first): where
        a cursor restarts to read that item again."""
        if self._page_size:
            request = {**request, "Limit": self._page_size}
        if start:
            request = {**request, "ExclusiveStartKey": start}
        previous = start
        while True:
            response = self._call(read, request)
            for raw in response["Items"]:
                yield previous, plain_item(raw)
                previous = {PARTITION_KEY: raw[PARTITION_KEY], SORT_KEY: raw[SORT_KEY]}
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            # A filter may have dropped the page's last items: a restart there must skip them.
            previous = last
            request = {**request, "ExclusiveStartKey": last}

    def _call(self, read: _Read, request: dict[str, Any]) -> Any:
        if read.operation == "scan":
            return self._client.scan(**request)
        return self._client.query(**request)

    def _read(self, sender: str | None, batch_id: str | None, reason: str | None) -> _Read:
        """A Query of the sender's items (of one batch: the sort keys that begin with it), or
        without a sender a Scan; the other conditions are filters."""
        sender, batch_id, reason = sender or None, batch_id or None, reason or None
        request: dict[str, Any] = {"TableName": self._table}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        filters: list[str] = []
        if reason:
            filters.append("contains(#reasons, :r)")
            names["#reasons"] = "reasons"
            values[":r"] = {"S": reason}
        if sender:
            condition = "#s = :s"
            names["#s"] = PARTITION_KEY
            values[":s"] = {"S": sender}
            if batch_id:
                condition += " AND begins_with(#bg, :bg)"
                names["#bg"] = SORT_KEY
                values[":bg"] = {"S": f"{batch_id}/"}
            request["KeyConditionExpression"] = condition
        elif batch_id:
            filters.append("#b = :b")
            names["#b"] = "batch_id"
            values[":b"] = {"S": batch_id}
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        if not names:
            del request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        operation = "query" if sender else "scan"
        return _Read(operation, request, (sender, batch_id, reason))


def _and(first: str | None, second: str) -> str:
    return f"{first} AND {second}" if first else second


def _outcome(review: dict[str, Any]) -> str:
    """An order's entry in its group's `outcomes`: `<decision>:<ended>`."""
    return f"{review['decision']}:{review['ended']}"


def _orders_of(item: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
    """The per-order records of a group item, in row order (of one reason, when given)."""
    orders = item.get("orders") or {}
    records = [
        {
            **order,
            "sender": item.get(PARTITION_KEY),
            "batch_id": item["batch_id"],
            "created_at": item.get("created_at"),
        }
        for order in orders.values()
        if reason is None or order.get("reason") == reason
    ]
    return sorted(records, key=lambda r: int(r["row"]))


# A cursor is base64url JSON: the query it belongs to (`s`, `b`, `r`), the table key (`k`: sender
# and batch_group, or null for the start) of the item before the group of the last record
# handed out, and that record's row (`o`). It is opaque to clients: only `_decode` reads it, and
# checks every part, so that no cursor can make DynamoDB refuse a request (an error there would
# be a 500, not a 400), nor start a sender's query in another sender's items.


def _encode(before: dict[str, Any] | None, row: int, read: _Read) -> str:
    sender, batch_id, reason = read.scope
    key = [str(before[PARTITION_KEY]["S"]), str(before[SORT_KEY]["S"])] if before else None
    document = {"s": sender, "b": batch_id, "r": reason, "k": key, "o": int(row)}
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, read: _Read) -> tuple[dict[str, Any] | None, int]:
    """The ExclusiveStartKey and the row a cursor stands for; InvalidCursor for anything else."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor("the cursor is not one this API handed out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise InvalidCursor("the cursor is not one this API handed out") from error
    if not isinstance(document, dict) or set(document) != {"s", "b", "r", "k", "o"}:
        raise InvalidCursor("the cursor is not one this API handed out")
    if [document["s"], document["b"], document["r"]] != list(read.scope):
        raise InvalidCursor("the cursor belongs to another query (other batch_id or reason)")
    row, key = document["o"], document["k"]
    if not (isinstance(row, int) and not isinstance(row, bool) and 0 <= row < _MAX_ROW):
        raise InvalidCursor("the cursor is not one this API handed out")
    if key is None:
        return None, row
    if not (isinstance(key, list) and len(key) == 2 and all(_key_value(v) for v in key)):
        raise InvalidCursor("the cursor is not one this API handed out")
    sender, batch_id, _ = read.scope
    if sender is not None and key[0] != sender:
        raise InvalidCursor("the cursor belongs to another query (other batch_id or reason)")
    if batch_id is not None and not key[1].startswith(f"{batch_id}/"):
        raise InvalidCursor("the cursor belongs to another query (other batch_id or reason)")
    return {PARTITION_KEY: {"S": key[0]}, SORT_KEY: {"S": key[1]}}, row


def _key_value(value: Any) -> bool:
    """A string DynamoDB takes as a key value: not empty, valid UTF-8, not too long."""
    if not isinstance(value, str) or not value:
        return False
    try:
        return len(value.encode("utf-8")) <= _MAX_KEY_BYTES
    except UnicodeEncodeError:
        return False
