"""Batch records: one item per processed file in the batches table, keyed by its sender and
`batch_id`: every read and write names both, so no call reaches another sender's batch.

Status moves running -> succeeded | quarantined | failed; a batch the API promised starts
pending. A presigned upload's batch that is still pending when its URL has expired (the URL's
lifetime, `upload_expires_at`, plus `UPLOAD_EXPIRY_GRACE_SECONDS` for the S3 event of a
last-second upload to arrive) reads as `expired`: `get` reports it so, lazily, and writes
nothing (a reader may hold read-only clients); nothing can be uploaded to it any more, so the
status is final unless that late event still comes. Counts: `total` orders read from the
file, `stored` (newly stored or already stored with the same content, of which `unchanged`),
`rejected` (dead-lettered, by reason in `rejected_by_reason`). total = stored + rejected for
every batch that is not failed; a failed batch also reports `unprocessed`, and then
total = stored + rejected + unprocessed.

Every write sets `created_at` when the record has none (`if_not_exists`), whoever writes first
(the API's promise, PrepareFile's start for a file dropped straight into a sender's folder, a
batch failed before it started): the index `by_created` (HASH sender, RANGE created_at,
infra/stack.yaml) then holds every batch, and `newest` pages through a sender's batches newest
first.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.contracts.completion import Counts
from chalicelib.dynamo import decimals, now, plain_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
QUARANTINED = "quarantined"
FAILED = "failed"
EXPIRED = "expired"  # read, never written: a presigned upload's URL expired unused
# How long after its URL expired an unused upload still reads `pending`: the S3 event of a
# file uploaded in the URL's last second may reach the pipeline that much later.
UPLOAD_EXPIRY_GRACE_SECONDS = 60
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # `dynamo.now()`'s, which the record's times use
BY_CREATED = "by_created"  # the index of a sender's batches by creation time (infra/stack.yaml)
Position = tuple[str, str]  # (created_at, batch_id): where a page of `newest` ended


def expiry_after(seconds: int, clock: Callable[[], float] = time.time) -> str:
    """The time `seconds` from now, as the record's times are written (an upload URL's end)."""
    return time.strftime(_TIME_FORMAT, time.gmtime(clock() + seconds))


class BodyMismatch(Exception):
    """The batch was promised for another body (an Idempotency-Key used with a second body)."""


class BatchRecords:
    """Reads and writes batch records."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock  # when a pending upload's URL counts as expired
        self._serialize = TypeSerializer().serialize

    def create_pending(
        self,
        sender: str,
        batch_id: str,
        *,
        bucket: str,
        key: str,
        via: str,
        callback_url: str | None = None,
        mapping: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        upload_expires_at: str | None = None,
        corrects: str | None = None,
        file_name: str | None = None,
    ) -> None:
        """Records a batch the API has promised. Its execution may already have started (the
        S3 event can overtake the API's own start): the status and the creation time are set
        only when absent, and what the API knows (how it came, the callback, the upload's
        column mapping, a dry run, when a presigned upload's URL expires, the batch it
        corrects, the upload's file name) is always kept. PrepareFile reads the mapping and the
        dry run from here: the record is their one carrier to the pipeline."""
        values: dict[str, Any] = {"bucket": bucket, "source_key": key, "via": via}
        if upload_expires_at is not None:
            values["upload_expires_at"] = upload_expires_at
        if callback_url:
            values["callback"] = {"url": callback_url, "status": PENDING, "attempts": 0}
        if mapping is not None:
            values["mapping"] = dict(mapping)
        if dry_run:
            values["dry_run"] = True
        if corrects is not None:
            values["corrects"] = corrects
        if file_name is not None:
            values["file_name"] = file_name
        names = {f"#{i}": name for i, name in enumerate(values)} | {
            "#status": "status",
            "#created": "created_at",
        }
        assignments = [f"#{i} = :{i}" for i in range(len(values))]
        assignments += ["#status = if_not_exists(#status, :pending)"]
        assignments += ["#created = if_not_exists(#created, :now)"]
        self._client.update_item(
            TableName=self._table,
            Key=_key(sender, batch_id),
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **{f":{i}": self._serialize(v) for i, v in enumerate(values.values())},
                ":pending": {"S": PENDING},
                ":now": {"S": now()},
            },
        )

    def claim_body(self, sender: str, batch_id: str, body_sha256: str) -> dict[str, Any] | None:
        """Ties the batch to the body it is promised for, once: the record outlives the file
        (which quarantine moves and lifecycle rules expire). Returns the record as it was
        before (None for a new batch); raises `BodyMismatch` when it holds another body's hash.
        One conditional write settles concurrent claims."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(sender, batch_id),
                UpdateExpression="SET #hash = :hash, #status = if_not_exists(#status, :pending), "
                "#created = if_not_exists(#created, :now)",
                ConditionExpression="attribute_not_exists(#hash) OR #hash = :hash",
                ExpressionAttributeNames={
                    "#hash": "body_sha256",
                    "#status": "status",
                    "#created": "created_at",
                },
                ExpressionAttributeValues={
                    ":hash": {"S": body_sha256},
                    ":pending": {"S": PENDING},
                    ":now": {"S": now()},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise BodyMismatch(batch_id) from error
            raise
        before = response.get("Attributes")
        return plain_item(before) if before else None

    def start(
        self, sender: str, batch_id: str, *, bucket: str, key: str, version: str | None
    ) -> dict[str, Any]:
        """Marks the batch running (again, on a retry: counts restart from zero), created now if
        nothing promised it (a file dropped straight into a sender's folder); returns the
        record as it is now, with what the API stored when it promised the batch (the
        upload's column `mapping`, `dry_run`)."""
        values = {
            "status": RUNNING,
            "bucket": bucket,
            "source_key": key,
            "source_version": version or "",
            "started_at": now(),
            "done": 0,
        }
        response = self._client.update_item(
            **self._setting(sender, batch_id, values), ReturnValues="ALL_NEW"
        )
        return plain_item(response.get("Attributes", {}))

    def prepared(self, sender: str, batch_id: str, *, total: int, chunks: int) -> None:
        self._update(sender, batch_id, {"total": total, "chunks": chunks})

    def file_read(self, sender: str, batch_id: str, file: Mapping[str, Any]) -> None:
        """Records what reading found the file to be (`FileFacts.to_dict()` and where its
        column mapping came from), for a ready file and a quarantined one alike."""
        self._update(sender, batch_id, {"file": dict(file)})

    def add_progress(self, sender: str, batch_id: str, done: int) -> None:
        """Adds to the running count of orders done (progress only; final counts come later)."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(sender, batch_id),
            UpdateExpression="ADD done :n SET #created = if_not_exists(#created, :now)",
            ExpressionAttributeNames={"#created": "created_at"},
            ExpressionAttributeValues={":n": {"N": str(done)}, ":now": {"S": now()}},
        )

    def finish(
        self,
        sender: str,
        batch_id: str,
        *,
        status: str,
        counts: Counts,
        error: Mapping[str, Any] | None,
        report: Mapping[str, str] | None = None,
        receipt: Mapping[str, Any] | None = None,
    ) -> None:
        self._update(
            sender,
            batch_id,
            {
                "status": status,
                **counts.to_dict(),
                "done": counts.total - counts.unprocessed,
                "error": dict(error) if error else None,
                "report_keys": dict(report) if report else None,
                "receipt": decimals(receipt) if receipt else None,  # dollars, GB-seconds
                "finished_at": now(),
            },
        )

    def record_callback(
        self,
        sender: str,
        batch_id: str,
        *,
        url: str,
        status: str,
        attempts: int,
        last_error: str | None,
    ) -> None:
        """Records a webhook delivery on the batch (its own attribute: never the status)."""
        callback = {
            "url": url,
            "status": status,
            "attempts": attempts,
            "last_error": last_error,
            "finished_at": now(),
        }
        self._update(sender, batch_id, {"callback": callback})

    def get(self, sender: str, batch_id: str) -> dict[str, Any] | None:
        """The record, with the status `expired` for a presigned upload still pending after
        its URL expired (see the module)."""
        response = self._client.get_item(
            TableName=self._table, Key=_key(sender, batch_id), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        return _as_read(plain_item(item), self._clock())

    def newest(
        self, sender: str, *, limit: int, after: Position | None = None
    ) -> tuple[list[dict[str, Any]], Position | None]:
        """Up to `limit` of the sender's records, newest first (by `created_at`, then batch id,
        both descending), from after `after` (where the page before ended); and where this page
        ends when more follow (None: the last page). Each record reads as `get`'s does.

        The index orders by `created_at` alone, and many batches share a second: the records
        of the second a page ends in are read whole and ordered by batch id here, so no record
        is handed out twice or skipped, whatever order DynamoDB gives ties in."""
        kept: list[dict[str, Any]] = []
        older: Iterator[dict[str, Any]]
        if after is None:
            older = self._by_created(sender, None, limit + 1)
        else:
            created, batch_id = after
            ties = self._by_created(sender, ("=", created), limit + 1)
            kept = _newest_first([r for r in ties if r["batch_id"] < batch_id])
            older = iter(()) if len(kept) > limit else self._by_created(
                sender, ("<", created), limit + 1
            )  # fmt: skip
        more = len(kept) > limit
        for record in older:
            if len(kept) >= limit and record["created_at"] != kept[-1]["created_at"]:
                more = True  # a record older than the last second kept: the page is whole
                break
            kept.append(record)
        more = more or len(kept) > limit
        page = _newest_first(kept)[:limit]
        return page, ((page[-1]["created_at"], page[-1]["batch_id"]) if more and page else None)

    def _by_created(
        self, sender: str, bound: tuple[str, str] | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """The sender's records by the index, newest first; `bound`: (`=` or `<`, created_at)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_CREATED,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "sender"},
            "ExpressionAttributeValues": {":s": {"S": sender}},
            "ScanIndexForward": False,
            "Limit": page_size,
        }
        if bound is not None:
            request["KeyConditionExpression"] += f" AND #c {bound[0]} :c"
            request["ExpressionAttributeNames"]["#c"] = "created_at"
            request["ExpressionAttributeValues"][":c"] = {"S": bound[1]}
        while True:
            response = self._client.query(**request)
            at = self._clock()
            for raw in response["Items"]:
                yield _as_read(plain_item(raw), at)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def _update(self, sender: str, batch_id: str, values: Mapping[str, Any]) -> None:
        self._client.update_item(**self._setting(sender, batch_id, values))

    def _setting(self, sender: str, batch_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The update that sets `values` on the record (created if missing), and `created_at`
        where the record has none."""
        names = {f"#{i}": name for i, name in enumerate(values)}
        assignments = [f"#{i} = :{i}" for i in range(len(values))]
        return {
            "TableName": self._table,
            "Key": _key(sender, batch_id),
            "UpdateExpression": "SET "
            + ", ".join([*assignments, "#created = if_not_exists(#created, :now)"]),
            "ExpressionAttributeNames": {**names, "#created": "created_at"},
            "ExpressionAttributeValues": {
                **{f":{i}": self._serialize(v) for i, v in enumerate(values.values())},
                ":now": {"S": now()},
            },
        }


def _newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["created_at"], r["batch_id"]), reverse=True)


def _as_read(record: dict[str, Any], now: float) -> dict[str, Any]:
    expires = record.get("upload_expires_at")
    if record.get("status") != PENDING or not isinstance(expires, str):
        return record
    try:
        ends = calendar.timegm(time.strptime(expires, _TIME_FORMAT))
    except ValueError:
        return record
    if now <= ends + UPLOAD_EXPIRY_GRACE_SECONDS:
        return record
    return {**record, "status": EXPIRED}


def _key(sender: str, batch_id: str) -> dict[str, Any]:
    return {"sender": {"S": sender}, "batch_id": {"S": batch_id}}
