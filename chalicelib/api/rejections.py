"""GET /batches/{batch_id}/rejections: the batch's rejected rows from its rejection report
(`rejections.jsonl`, chalicelib/pipeline/report.py), in file order, a page at a time.

Guarantees:
- Only the caller's batch: another sender's answers 404 as one that does not exist, and the
  report is read with the caller's own clients (scope.py), inside its folder.
- Every row of the report is handed out once, in file order, by following `next`: a cursor
  holds the query (sender, batch, reason), the byte offset of the next line and the report's
  ETag. A report written again since (a redrive) makes the cursor a 400 `bad_cursor`, never a
  page of another report's lines.
- Memory does not grow with the report: it is read by ranged GETs (`ReportLines`), and a page
  holds at most `limit` rows and about `PAGE_BYTES` of them (Lambda's answer is at most 6 MB);
  a page also ends after `SCAN_BYTES` of report read, so a `reason` that matches few rows of
  a large report answers within the API's time (a page may then be short, even empty, and
  still have `next`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.api.deps import Deps
from chalicelib.api.errors import BadRequest, Conflict
from chalicelib.api.reads import own_batch, page_cursor, page_limit
from chalicelib.contracts.deadletter import Reason, Rejection
from chalicelib.pipeline.batches import PENDING, RUNNING
from chalicelib.pipeline.report import NotALineStart, ReportChanged, ReportLines
from chalicelib.review.queries import encode_document

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
PAGE_BYTES = 4 * 1024 * 1024  # report bytes one page hands out, at most (but one row)
SCAN_BYTES = 16 * 1024 * 1024  # report bytes one request reads, at most
_REASONS = frozenset(r.value for r in Reason)
_CURSOR = ("t", "s", "b", "r", "o", "e")
_ETAG = re.compile(r"^[0-9A-Za-z-]{1,100}$")
_MAX_OFFSET = 2**53


def list_rejections(
    batch_id: str,
    *,
    sender: str,
    reason: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    deps: Deps,
) -> dict[str, Any]:
    """One page of the batch's rejected rows (`Rejection.to_dict()` each; `order` is null in a
    report written before reports kept the order) and `next` when more may follow."""
    if reason is not None and reason not in _REASONS:
        raise BadRequest(f"reason must be one of {sorted(_REASONS)}", code="bad_reason")
    size = page_limit(limit, default=DEFAULT_LIMIT, most=MAX_LIMIT)
    query = {"t": "rejections", "s": sender, "b": batch_id, "r": reason}
    start, etag = _position(cursor, query) if cursor else (0, None)
    reads, record = own_batch(batch_id, sender=sender, deps=deps)
    if record.get("status") in (PENDING, RUNNING):
        raise Conflict(
            f"batch {batch_id} is {record.get('status')}: its rejections are known when it ends",
            code="batch_not_ended",
        )
    answer: dict[str, Any] = {"batch_id": batch_id, "rejections": []}
    key = (record.get("report_keys") or {}).get("jsonl")
    if not key:
        return answer  # nothing rejected (or a file that could not be read: see its error)
    lines = ReportLines(reads.presigner, deps.settings.bucket, key, etag=etag)
    try:
        rows, end = _page(lines, start, size, reason)
    except ReportChanged as changed:
        raise BadRequest(
            "the batch's report was written again since this cursor: start from the first page",
            code="bad_cursor",
        ) from changed
    except NotALineStart as inside:
        raise BadRequest("the cursor is not one this API handed out", code="bad_cursor") from inside
    answer["rejections"] = rows
    if end is not None:
        answer["next"] = encode_document({**query, "o": end, "e": lines.etag})
    return answer


def _page(
    lines: ReportLines, start: int, size: int, reason: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `size` rows from byte `start`, and the offset the next page starts at (None at
    the report's end)."""
    rows: list[dict[str, Any]] = []
    kept = read = 0
    at = start
    for end, line in lines.from_offset(start):
        full = len(rows) == size or (rows and kept + len(line) > PAGE_BYTES)
        if full or read > SCAN_BYTES:
            return rows, at
        read += len(line)
        at = end
        entry = json.loads(line)
        if reason is not None and entry.get("reason") != reason:
            continue
        rows.append(Rejection.from_dict(entry).to_dict())
        kept += len(line)
    return rows, None


def _position(cursor: str, query: dict[str, Any]) -> tuple[int, str]:
    """The offset and the report ETag a cursor of this query holds; else a 400 bad_cursor."""
    document = page_cursor(cursor, _CURSOR, query)
    offset, etag = document["o"], document["e"]
    if not (isinstance(offset, int) and not isinstance(offset, bool) and 0 < offset < _MAX_OFFSET):
        raise BadRequest("the cursor is not one this API handed out", code="bad_cursor")
    if not (isinstance(etag, str) and _ETAG.match(etag)):
        raise BadRequest("the cursor is not one this API handed out", code="bad_cursor")
    return offset, etag
