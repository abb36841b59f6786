"""The API's reads: a batch's status, an order, a page of the reviewer's records.

Every function takes the caller's sender (the authorizer's, never one the request names) and
reads only under it, with the clients `Deps.reads` holds to that sender: another sender's
batch, order or reviews answer exactly as ones that do not exist (404, or an empty page).
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.deps import Deps
from chalicelib.api.errors import BadRequest, NotFound
from chalicelib.contracts.deadletter import Reason
from chalicelib.log import one_line
from chalicelib.pipeline.naming import BATCH_ID
from chalicelib.pipeline.store import PARTITION_KEY
from chalicelib.review.records import InvalidCursor

REPORT_URL_SECONDS = 900


def batch_status(batch_id: str, *, sender: str, deps: Deps) -> dict[str, Any]:
    if not BATCH_ID.match(batch_id):
        raise NotFound(f"no batch {batch_id!r}")
    reads = deps.reads(sender)
    record = reads.batches.get(sender, batch_id)
    if record is None:
        raise NotFound(f"no batch {batch_id!r}")
    fields = (
        "batch_id", "status", "source_key", "via", "total", "done", "stored", "unchanged",
        "rejected", "rejected_by_reason", "unprocessed", "error", "callback", "created_at",
        "started_at", "finished_at", "dry_run", "file", "receipt",
    )  # fmt: skip
    status = {name: record[name] for name in fields if name in record}
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
    size = _page_limit(limit)
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


def _page_limit(limit: str | None) -> int:
    if limit is None:
        return REVIEWS_DEFAULT_LIMIT
    digits = limit.isascii() and limit.isdigit() and len(limit) <= len(str(REVIEWS_MAX_LIMIT))
    if not (digits and 1 <= int(limit) <= REVIEWS_MAX_LIMIT):
        raise BadRequest(
            f"limit must be a whole number from 1 to {REVIEWS_MAX_LIMIT}", code="bad_limit"
        )
    return int(limit)
