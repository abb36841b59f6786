"""The API's reads: a batch's status, a page of the caller's batches (newest first), an order,
a page of the reviewer's records.

Every function takes the caller's sender (the authorizer's, never one the request names) and
reads only under it, with the clients `Deps.reads` holds to that sender: another sender's
batch, order or reviews answer exactly as ones that do not exist (404, or an empty page).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from chalicelib.api.deps import Deps, Reads
from chalicelib.api.errors import BadRequest, NotFound
from chalicelib.api.promise import ORDERS_POST
from chalicelib.contracts.deadletter import Reason
from chalicelib.log import one_line
from chalicelib.pipeline.batches import Position
from chalicelib.pipeline.naming import BATCH_ID
from chalicelib.pipeline.prepare import PRESIGNED_UPLOAD
from chalicelib.pipeline.store import PARTITION_KEY
from chalicelib.review.queries import decode_document, encode_document, key_value
from chalicelib.review.records import InvalidCursor

REPORT_URL_SECONDS = 900


def own_batch(batch_id: str, *, sender: str, deps: Deps) -> tuple[Reads, dict[str, Any]]:
    """The caller's reads and its batch's record; a 404 for an id that is not a batch id, for
    no such batch and for another sender's (the same answer)."""
    if not BATCH_ID.match(batch_id):
        raise NotFound(f"no batch {batch_id!r}")
    reads = deps.reads(sender)
    record = reads.batches.get(sender, batch_id)
    if record is None:
        raise NotFound(f"no batch {batch_id!r}")
    return reads, record


def batch_status(batch_id: str, *, sender: str, deps: Deps) -> dict[str, Any]:
    reads, record = own_batch(batch_id, sender=sender, deps=deps)
    fields = (
        "batch_id", "status", "source_key", "via", "total", "done", "stored", "unchanged",
        "rejected", "rejected_by_reason", "unprocessed", "error", "callback", "created_at",
        "started_at", "finished_at", "dry_run", "file", "receipt", "corrects",
    )  # fmt: skip
    status = {name: record[name] for name in fields if name in record}
    if (file_name := file_name_of(record)) is not None:
        status["file_name"] = file_name
    error = status.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        # also for a record written before errors were kept to one line: no trace, no path
        status["error"] = {**error, "message": one_line(error["message"])}
    if record.get("rejected"):  # what the DLQ reviewer made of the rejections so far
        status["reviewed"] = reads.reviews.count(sender=sender, batch_id=batch_id)
    keys = record.get("report_keys")
    if keys:
        status["report"] = {
            form: reads.presigner.generate_presigned_url(
                "get_object",
                Params={"Bucket": deps.settings.bucket, "Key": key},
                ExpiresIn=REPORT_URL_SECONDS,
            )
            for form, key in keys.items()
        }
        status["report"]["expires_in"] = REPORT_URL_SECONDS
    return status


def get_order(order_id: str, *, sender: str, deps: Deps) -> dict[str, Any]:
    if not order_id or len(order_id) > 64:
        raise NotFound(f"no order {order_id!r}")
    order = deps.reads(sender).orders.get(sender, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    for internal in ("content_hash", PARTITION_KEY):  # ours, not the order's
        order.pop(internal, None)
    return order


_REVIEW_REASONS = frozenset(r.value for r in Reason)
REVIEWS_DEFAULT_LIMIT = 100
REVIEWS_MAX_LIMIT = 1000


def list_reviews(
    batch_id: str | None,
    reason: str | None,
    *,
    sender: str,
    limit: str | None = None,
    cursor: str | None = None,
    deps: Deps,
) -> dict[str, Any]:
    """One page of the reviewer's records of one batch and/or one reason: `reviews`, `next`
    (the cursor of the following page) when there are more, and on the first page `counts`
    over every matching record."""
    if batch_id is not None and not BATCH_ID.match(batch_id):
        raise BadRequest("batch_id is not a batch id", code="bad_batch_id")
    if reason is not None and reason not in _REVIEW_REASONS:
        raise BadRequest(f"reason must be one of {sorted(_REVIEW_REASONS)}", code="bad_reason")
    size = page_limit(limit, default=REVIEWS_DEFAULT_LIMIT, most=REVIEWS_MAX_LIMIT)
    cursor = cursor or None  # `cursor=` is the first page
    reviews = deps.reads(sender).reviews
    try:
        page = reviews.page(
            sender=sender, batch_id=batch_id, reason=reason, limit=size, cursor=cursor
        )
    except InvalidCursor as error:
        raise BadRequest(str(error), code="bad_cursor") from error
    answer: dict[str, Any] = {"reviews": page.records}
    if cursor is None:
        answer["counts"] = reviews.count(sender=sender, batch_id=batch_id, reason=reason)
    if page.cursor is not None:
        answer["next"] = page.cursor
    return answer


def page_limit(limit: str | None, *, default: int, most: int) -> int:
    """A paged route's `limit` (absent: `default`); not a whole number from 1 to `most` is a
    400 `bad_limit`."""
    if limit is None:
        return default
    digits = limit.isascii() and limit.isdigit() and len(limit) <= len(str(most))
    if not (digits and 1 <= int(limit) <= most):
        raise BadRequest(f"limit must be a whole number from 1 to {most}", code="bad_limit")
    return int(limit)


def page_cursor(cursor: str, names: Collection[str], query: Mapping[str, Any]) -> dict[str, Any]:
    """The document a paged route's cursor carries (its members exactly `names`), handed out
    for this `query` (each of its members equal); anything else is a 400 `bad_cursor`."""
    try:
        document = decode_document(cursor, names)
    except InvalidCursor as error:
        raise BadRequest(str(error), code="bad_cursor") from error
    if any(document[name] != value for name, value in query.items()):
        raise BadRequest("the cursor belongs to another query", code="bad_cursor")
    return document


BATCHES_DEFAULT_LIMIT = 20
BATCHES_MAX_LIMIT = 100
_COUNTS = ("total", "done", "stored", "unchanged", "rejected", "rejected_by_reason")
_BATCHES_CURSOR = ("t", "s", "c", "b")


def list_batches(
    *, sender: str, limit: str | None = None, cursor: str | None = None, deps: Deps
) -> dict[str, Any]:
    """One page of the caller's batches, newest first (by `created_at`, then batch id): each
    with its status as GET /batches/{id} gives it, its counts (null until known), its file name
    and the batch it corrects; `next` when more follow."""
    size = page_limit(limit, default=BATCHES_DEFAULT_LIMIT, most=BATCHES_MAX_LIMIT)
    after = _batches_position(cursor, sender) if cursor else None  # `cursor=`: the first page
    records, end = deps.reads(sender).batches.newest(sender, limit=size, after=after)
    answer: dict[str, Any] = {"batches": [batch_entry(record) for record in records]}
    if end is not None:
        answer["next"] = encode_document({"t": "batches", "s": sender, "c": end[0], "b": end[1]})
    return answer


def batch_entry(record: dict[str, Any]) -> dict[str, Any]:
    """A batch as GET /batches lists it (every member present; null where not known)."""
    return {
        "batch_id": record["batch_id"],
        "status": record.get("status"),
        "created_at": record.get("created_at"),
        "dry_run": bool(record.get("dry_run")),
        **{name: record.get(name) for name in _COUNTS},
        "file_name": file_name_of(record),
        "corrects": record.get("corrects"),
    }


def file_name_of(record: dict[str, Any]) -> str | None:
    """The batch's file name as its sender knows it: the one a presigned upload was asked for
    with (None when it named none), the object's own name for a file put in the sender's
    folder; None for a POST /orders body."""
    if record.get("via") in (PRESIGNED_UPLOAD, ORDERS_POST):
        name = record.get("file_name")
        return name if isinstance(name, str) else None
    key = record.get("source_key")
    if not isinstance(key, str):
        return None
    return key.rsplit("/", 1)[-1] or None


def _batches_position(cursor: str, sender: str) -> Position:
    document = page_cursor(cursor, _BATCHES_CURSOR, {"t": "batches", "s": sender})
    created, batch_id = document["c"], document["b"]
    if not (key_value(created) and isinstance(batch_id, str) and BATCH_ID.match(batch_id)):
        raise BadRequest("the cursor is not one this API handed out", code="bad_cursor")
    return created, batch_id
