"""Review records: one item per reviewed DLQ message in the reviews table, keyed by
`review_id` (the message's `message_id`), with indexes by batch and by reason.

Nothing read here is ever cut silently: `page` hands out at most `limit` records and an opaque
cursor when there are more, `every` and `query` follow every page, and `count` counts every
record (a pass over all of them that reads only `decision` and `ended`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.dynamo import now, plain_item, set_fields

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_BATCH = "by_batch"  # partition batch_id, sort review_id
BY_REASON = "by_reason"  # partition reason, sort created_at
_MAX_CURSOR = 4096  # characters: a cursor holds at most two key values of a few hundred bytes
_MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (and a bound for the others)


class InvalidCursor(ValueError):
    """A cursor this query did not hand out (malformed, altered, or from another query)."""


@dataclass(frozen=True, slots=True)
class Page:
    """Up to `limit` records and, when more follow, the cursor that continues after them."""

    records: list[dict[str, Any]]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class _Query:
    """One way of reading the table: a scan, or a query of one index for one value."""

    operation: str  # scan | query
    request: dict[str, Any]
    # The key attributes that place a record in this read's order, after the partition
    # value the query already fixes: what a cursor carries.
    position: tuple[str, ...]
    partition: tuple[str, str] | None  # (attribute, value) of an index query
    scope: tuple[str | None, str | None]  # (batch_id, reason): what a cursor must belong to


class ReviewRecords:
    def __init__(self, client: DynamoDBClient, table: str, *, page_size: int | None = None) -> None:
        """`page_size`: items per DynamoDB request when reading many (None: DynamoDB's own
        pages of up to 1 MB); small in tests, to make several requests of a few records."""
        self._client = client
        self._table = table
        self._page_size = page_size
        self._serialize = TypeSerializer().serialize

    def get(self, review_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"review_id": {"S": review_id}}, ConsistentRead=True
        ).get("Item")
        return plain_item(item) if item else None

    def put(self, record: dict[str, Any]) -> bool:
        """Writes the record once; False when the review was already recorded."""
        record = {**record, "created_at": now()}
        item = {k: self._serialize(v) for k, v in record.items() if v is not None}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(review_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark(self, review_id: str, **values: Any) -> None:
        """Updates fields of a record (an operator's redrive)."""
        key = {"review_id": {"S": review_id}}
        set_fields(self._client, self._table, key, values, self._serialize)

    def page(
        self,
        *,
        batch_id: str | None = None,
        reason: str | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> Page:
        """At most `limit` records of one batch, of one reason, or both (all when neither), in
        the index's order, from where `cursor` left off. Raises InvalidCursor."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        read = self._read(batch_id, reason)
        start = _decode(cursor, read) if cursor else None
        items: list[dict[str, Any]] = []
        while True:
            # One record more than asked for tells whether another page follows.
            wanted = limit + 1 - len(items)
            request = {**read.request, "Limit": min(wanted, self._page_size or wanted)}
            if start:
                request["ExclusiveStartKey"] = start
            response = self._call(read, request)
            items += response["Items"]
            start = response.get("LastEvaluatedKey")
            if len(items) > limit or not start:
                break
        kept = [plain_item(item) for item in items[:limit]]
        more = len(items) > limit
        return Page(kept, _encode(kept[-1], read) if more else None)

    def every(
        self, *, batch_id: str | None = None, reason: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of one batch, of one reason, or both (all when neither), page by page."""
        read = self._read(batch_id, reason)
        for items in self._pages(read, read.request):
            yield from (plain_item(item) for item in items)

    def query(
        self, *, batch_id: str | None = None, reason: str | None = None
    ) -> list[dict[str, Any]]:
        """Every record of one batch, of one reason, or both (all when neither), never cut,
        ordered by batch and row."""
        records = list(self.every(batch_id=batch_id, reason=reason))
        return sorted(records, key=lambda r: (r.get("batch_id", ""), r.get("row") or 0))

    def count(self, *, batch_id: str | None = None, reason: str | None = None) -> dict[str, int]:
        """`{"repair:stored": 3, "archive:archived": 1}` over every matching record: a pass
        over all of them that reads only `decision` and `ended`."""
        read = self._read(batch_id, reason)
        names = {**read.request.get("ExpressionAttributeNames", {}), "#d": "decision"}
        names["#e"] = "ended"
        request = {**read.request, "ProjectionExpression": "#d, #e"}
        request["ExpressionAttributeNames"] = names
        counts: dict[str, int] = {}
        for items in self._pages(read, request):
            for item in items:
                place = f"{item['decision']['S']}:{item['ended']['S']}"
                counts[place] = counts.get(place, 0) + 1
        return counts

    def _pages(self, read: _Query, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The items of every page of `request`, following LastEvaluatedKey to the end."""
        if self._page_size:
            request = {**request, "Limit": self._page_size}
        while True:
            response = self._call(read, request)
            yield response["Items"]
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            request = {**request, "ExclusiveStartKey": start}

    def _call(self, read: _Query, request: dict[str, Any]) -> Any:
        if read.operation == "scan":
            return self._client.scan(**request)
        return self._client.query(**request)

    def _read(self, batch_id: str | None, reason: str | None) -> _Query:
        batch_id, reason = batch_id or None, reason or None
        if batch_id is None and reason is None:
            return _Query("scan", {"TableName": self._table}, ("review_id",), None, (None, None))
        if batch_id:
            index, key, value = BY_BATCH, "batch_id", batch_id
            position: tuple[str, ...] = ("review_id",)
        else:
            index, key, value = BY_REASON, "reason", str(reason)
            position = ("created_at", "review_id")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
        if batch_id and reason:
            request["FilterExpression"] = "#r = :r"
            request["ExpressionAttributeNames"]["#r"] = "reason"
            request["ExpressionAttributeValues"][":r"] = {"S": reason}
        return _Query("query", request, position, (key, value), (batch_id, reason))


# A cursor is base64url JSON: the query it belongs to (`b`, `r`) and the position (`k`, the
# values of `_Query.position`) of the last record handed out. It is opaque to clients: only
# `_decode` reads it, and checks every part, so that no cursor can make DynamoDB refuse a
# request (an error there would be a 500, not a 400).


def _encode(last: dict[str, Any], read: _Query) -> str:
    batch_id, reason = read.scope
    document = {"b": batch_id, "r": reason, "k": [str(last[name]) for name in read.position]}
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, read: _Query) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor stands for; InvalidCursor for anything else."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor("the cursor is not one this API handed out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise InvalidCursor("the cursor is not one this API handed out") from error
    if not isinstance(document, dict) or set(document) != {"b", "r", "k"}:
        raise InvalidCursor("the cursor is not one this API handed out")
    if [document["b"], document["r"]] != list(read.scope):
        raise InvalidCursor("the cursor belongs to another query (other batch_id or reason)")
    values = document["k"]
    if not (
        isinstance(values, list)
        and len(values) == len(read.position)
        and all(_key_value(v) for v in values)
    ):
        raise InvalidCursor("the cursor is not one this API handed out")
    key = {name: {"S": value} for name, value in zip(read.position, values, strict=True)}
    if read.partition is not None:
        name, value = read.partition
        key[name] = {"S": value}
    return key


def _key_value(value: Any) -> bool:
    """A string DynamoDB takes as a key value: not empty, valid UTF-8, not too long."""
    if not isinstance(value, str) or not value:
        return False
    try:
        return len(value.encode("utf-8")) <= _MAX_KEY_BYTES
    except UnicodeEncodeError:
        return False
