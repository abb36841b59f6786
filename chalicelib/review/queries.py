"""Reading the reviews table: the query of a sender, batch or reason, the pages DynamoDB hands
back, and the pages of records handed out with an opaque cursor.

With a sender, a read is a Query of the sender's items (of one batch: the sort keys that begin
with `<batch_id>/`); without one, a Scan: an operator's query, never on the order path nor the
API's (which always names the caller's sender). A reason, and a batch without a sender, are
filters.

Nothing read here is ever cut silently: `TableItems.read` follows every DynamoDB page, and
`read_page` hands out at most `limit` records and a cursor when there are more. A cursor is
checked in every part before it reaches DynamoDB (`decode_cursor`): no cursor can make
DynamoDB refuse a request (a 500, not a 400), nor start a sender's query in another sender's
items.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.contracts.review import ReviewRecord
from chalicelib.dynamo import plain_item
from chalicelib.review.items import PARTITION_KEY, SORT_KEY, records_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_MAX_CURSOR = 4096  # characters: a cursor holds two key values of a few hundred bytes
_MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (and a bound for the others)
_MAX_ROW = 2**53  # a row number a cursor may name (JSON's exact integers)
_NOT_OURS = "the cursor is not one this API handed out"
_ANOTHER_QUERY = "the cursor belongs to another query (other batch_id or reason)"

Key = dict[str, Any]  # a table key as DynamoDB writes it: {"sender": {"S": ...}, ...}


class InvalidCursor(ValueError):
    """A cursor this query did not hand out (malformed, altered, or from another query)."""


@dataclass(frozen=True, slots=True)
class Page:
    """Up to `limit` records and, when more follow, the cursor that continues after them."""

    records: list[dict[str, Any]]  # `ReviewRecord.to_dict`'s
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Read:
    """One way of reading the table: a scan, or a query of one sender's (or batch's) groups."""

    operation: str  # scan | query
    request: dict[str, Any]
    # (sender, batch_id, reason): what a cursor must belong to
    scope: tuple[str | None, str | None, str | None]

    @property
    def reason(self) -> str | None:
        return self.scope[2]


def read_of(table: str, sender: str | None, batch_id: str | None, reason: str | None) -> Read:
    """The read of one sender, batch or reason, or any of them together (all when none)."""
    sender, batch_id, reason = sender or None, batch_id or None, reason or None
    request: dict[str, Any] = {"TableName": table}
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
    if names:
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
    return Read("query" if sender else "scan", request, (sender, batch_id, reason))


def row_request(read: Read, row: int) -> dict[str, Any]:
    """The read's request for the groups that hold `row` (consistent: a redrive marks what it
    just read)."""
    request = read.request
    return {
        **request,
        "FilterExpression": _and(request.get("FilterExpression"), "contains(#rows, :row)"),
        "ExpressionAttributeNames": {**request.get("ExpressionAttributeNames", {}),
                                     "#rows": "rows"},
        "ExpressionAttributeValues": {**request.get("ExpressionAttributeValues", {}),
                                      ":row": {"N": str(row)}},
        "ConsistentRead": True,
    }  # fmt: skip


def outcomes_request(read: Read) -> dict[str, Any]:
    """The read's request for the groups' keys and `outcomes` alone (a projection)."""
    names = {**read.request.get("ExpressionAttributeNames", {}), "#out": "outcomes"}
    names.update({"#s": PARTITION_KEY, "#bg": SORT_KEY})  # the key: where a page ends
    return {
        **read.request,
        "ProjectionExpression": "#s, #bg, #out",
        "ExpressionAttributeNames": names,
    }


class TableItems:
    """The items of a read, DynamoDB page after DynamoDB page."""

    def __init__(self, client: DynamoDBClient, page_size: int | None = None) -> None:
        """`page_size`: items per request (None: DynamoDB's own pages of up to 1 MB)."""
        self._client = client
        self._page_size = page_size

    def read(
        self, read: Read, request: dict[str, Any] | None = None, start: Key | None = None
    ) -> Iterator[tuple[Key | None, dict[str, Any]]]:
        """Every plain item of the read (`request`: the read's own, or one made from it) from
        after `start`, each with the key of the item before it in the table's order (`start`
        for the first): where a cursor restarts to read that item again."""
        request = dict(read.request if request is None else request)
        if self._page_size:
            request["Limit"] = self._page_size
        if start:
            request["ExclusiveStartKey"] = start
        previous = start
        while True:
            if read.operation == "scan":
                response: Any = self._client.scan(**request)
            else:
                response = self._client.query(**request)
            for raw in response["Items"]:
                yield previous, plain_item(raw)
                previous = {PARTITION_KEY: raw[PARTITION_KEY], SORT_KEY: raw[SORT_KEY]}
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            # A filter may have dropped the page's last items: a restart there must skip them.
            previous = last
            request["ExclusiveStartKey"] = last


def read_page(items: TableItems, read: Read, *, limit: int, cursor: str | None) -> Page:
    """At most `limit` records of the read, in the table's order (row order within a batch),
    from where `cursor` left off. Raises InvalidCursor."""
    before, after_row = decode_cursor(cursor, read) if cursor else (None, None)
    kept: list[ReviewRecord] = []
    last_before: Key | None = None  # the key before the last kept's group
    for index, (previous, item) in enumerate(items.read(read, start=before)):
        records = records_of(item, read.reason)
        if index == 0 and after_row is not None:  # the group the cursor stopped inside
            records = [r for r in records if r.row > after_row]
        for record in records:
            if len(kept) == limit:  # one more than asked for: another page follows
                return Page(_dicts(kept), encode_cursor(last_before, kept[-1].row, read))
            kept.append(record)
            last_before = previous
    return Page(_dicts(kept), None)


def key_value(value: Any) -> bool:
    """A string DynamoDB takes as a key value: not empty, valid UTF-8, not too long."""
    if not isinstance(value, str) or not value:
        return False
    try:
        return len(value.encode("utf-8")) <= _MAX_KEY_BYTES
    except UnicodeEncodeError:
        return False


# A cursor is base64url JSON (`encode_document`). A review cursor holds the query it belongs to
# (`s`, `b`, `r`), the table key (`k`: sender and batch_group, or null for the start) of the item
# before the group of the last record handed out, and that record's row (`o`). It is opaque to
# clients: only `decode_cursor` reads it, and checks every part.


def encode_document(document: Mapping[str, Any]) -> str:
    """The cursor that carries `document` (JSON values only): the one codec of every cursor
    the API hands out (reviews here; batches and rejection reports in chalicelib/api)."""
    text = json.dumps(dict(document), separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_document(cursor: str, names: Collection[str]) -> dict[str, Any]:
    """The document a cursor carries, an object with exactly the members `names`;
    InvalidCursor for anything else (too long, not base64url JSON, other members)."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor(_NOT_OURS)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    if not isinstance(document, dict) or set(document) != set(names):
        raise InvalidCursor(_NOT_OURS)
    return document


def encode_cursor(before: Key | None, row: int, read: Read) -> str:
    sender, batch_id, reason = read.scope
    key = [str(before[PARTITION_KEY]["S"]), str(before[SORT_KEY]["S"])] if before else None
    return encode_document({"s": sender, "b": batch_id, "r": reason, "k": key, "o": int(row)})


def decode_cursor(cursor: str, read: Read) -> tuple[Key | None, int]:
    """The ExclusiveStartKey and the row a cursor stands for; InvalidCursor for anything else."""
    document = decode_document(cursor, ("s", "b", "r", "k", "o"))
    if [document["s"], document["b"], document["r"]] != list(read.scope):
        raise InvalidCursor(_ANOTHER_QUERY)
    row, key = document["o"], document["k"]
    if not (isinstance(row, int) and not isinstance(row, bool) and 0 <= row < _MAX_ROW):
        raise InvalidCursor(_NOT_OURS)
    if key is None:
        return None, row
    if not (isinstance(key, list) and len(key) == 2 and all(key_value(v) for v in key)):
        raise InvalidCursor(_NOT_OURS)
    sender, batch_id, _ = read.scope
    if sender is not None and key[0] != sender:
        raise InvalidCursor(_ANOTHER_QUERY)
    if batch_id is not None and not key[1].startswith(f"{batch_id}/"):
        raise InvalidCursor(_ANOTHER_QUERY)
    return {PARTITION_KEY: {"S": key[0]}, SORT_KEY: {"S": key[1]}}, row


def _and(first: str | None, second: str) -> str:
    return f"{first} AND {second}" if first else second


def _dicts(records: list[ReviewRecord]) -> list[dict[str, Any]]:
    return [record.to_dict() for record in records]
