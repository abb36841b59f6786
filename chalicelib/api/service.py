"""What the HTTP routes do, with injected clients: accept orders, presign uploads, report.

POST /orders writes the accepted document under a key that carries its sender and batch id
(`incoming/<sender>/api/<batch_id>.json`) and starts the execution at once under that id: the
S3 event that follows derives the same id from the same key, finds the execution there and
does nothing.

Every function takes the caller's sender (the authorizer's, never one the request names) and
reads only under it: another sender's batch, order or reviews answer exactly as ones that do
not exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.api.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from chalicelib.api.media import check_json_content
from chalicelib.api.scope import ReadClients, ScopedReads
from chalicelib.callbacks import CallbackPolicy, CallbackRefused, check_url
from chalicelib.orders.jsontext import Parsed
from chalicelib.orders.readers import ColumnMapping, MappingError, read_records
from chalicelib.orders.records import UnreadableFile
from chalicelib.pipeline.batches import PENDING, BatchRecords, BodyMismatch, expiry_after
from chalicelib.pipeline.finish import one_line
from chalicelib.pipeline.naming import (
    BATCH_ID,
    api_key_for,
    new_batch_id,
    upload_key_for,
)
from chalicelib.pipeline.prepare import PRESIGNED_UPLOAD, Source
from chalicelib.pipeline.store import PARTITION_KEY, OrderStore, RetryPolicy
from chalicelib.pipeline.trigger import execution_arn, start_ingest
from chalicelib.review.records import InvalidCursor, ReviewRecords
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

UPLOAD_TYPES = {
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/gzip": ".gz",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_BODY_HASH = "body-sha256"  # S3 user metadata: the document's hash, for whoever finds it
_MAX_IDEMPOTENCY_KEY = 255
UPLOAD_FILENAME_MAX = 255  # characters of a filename POST /uploads takes (api/openapi.json)
REPORT_URL_SECONDS = 900


@dataclass(frozen=True)
class Deps:
    """The clients and settings a route needs."""

    settings: Settings
    s3: S3Client
    sfn: SFNClient
    dynamodb: DynamoDBClient
    presigner: S3Client
    review_page_size: int | None = None  # items per DynamoDB request over reviews (tests: small)
    scoped: ScopedReads | None = None  # reads held to the caller's sender (scope.py), if set
    idempotency_key: Callable[[], bytes] = lambda: b""  # the key of seeded batch ids

    @property
    def batches(self) -> BatchRecords:
        """The batch records, for the API's writes (a batch it promises)."""
        return BatchRecords(self.dynamodb, self.settings.batches_table)

    def reads(self, sender: str) -> Reads:
        """What a route reads for `sender`, with clients held to that sender where a reader
        role is set."""
        clients = (
            self.scoped.clients(sender)
            if self.scoped is not None
            else ReadClients(self.dynamodb, self.presigner)
        )
        return Reads(
            batches=BatchRecords(clients.dynamodb, self.settings.batches_table),
            orders=OrderStore(clients.dynamodb, self.settings.orders_table, RetryPolicy()),
            reviews=ReviewRecords(
                clients.dynamodb, self.settings.reviews_table, page_size=self.review_page_size
            ),
            presigner=clients.presigner,
        )


@dataclass(frozen=True)
class Reads:
    """The stores a route reads, all made from one sender's clients."""

    batches: BatchRecords
    orders: OrderStore
    reviews: ReviewRecords
    presigner: S3Client


def accept_orders(
    body: bytes,
    *,
    idempotency_key: str | None,
    callback_url: str | None,
    sender: str,
    deps: Deps,
    max_orders_per_request: int | None = None,
    mapping: str | None = None,
    dry_run: str | None = None,
) -> dict[str, Any]:
    """Checks the envelope, writes the document, starts its execution; returns the 202 body.
    `callback_url` comes from the query string, or from the document's own top-level key.
    The sender's own limit on orders per request, when it has one, replaces the stage's.
    `mapping` (the `mapping` query parameter: a column mapping as JSON text) and `dry_run`
    (`true` or `false`) go on the batch record, where PrepareFile reads them."""
    settings = deps.settings
    column_mapping = mapping_of(mapping) if mapping is not None else None
    is_dry_run = _dry_run_flag(dry_run)
    max_orders = max_orders_per_request or settings.api_max_orders
    if len(body) > settings.api_max_bytes:
        raise PayloadTooLarge(f"the body has {len(body)} bytes; at most {settings.api_max_bytes}")
    seed = None
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= _MAX_IDEMPOTENCY_KEY:
            raise BadRequest(
                f"Idempotency-Key must have 1 to {_MAX_IDEMPOTENCY_KEY} characters",
                code="bad_idempotency_key",
            )
        # a dry run and the real run of one document are two batches, even under one key
        seed = f"{sender}\n{idempotency_key}" + ("\ndry_run" if is_dry_run else "")
    batch_id = new_batch_id("api", seed, deps.idempotency_key() if seed else None)
    key = api_key_for(settings.incoming_prefix, sender, batch_id)
    fields, orders = _orders_of(body, key)
    if callback_url is None:
        callback_url = _document_callback(fields)
    _check_callback(callback_url, deps)
    if orders > max_orders:
        raise PayloadTooLarge(
            f"the body has {orders} orders; at most {max_orders} per request"
            " (use POST /uploads for larger files)"
        )
    accepted = {
        "batch_id": batch_id,
        "key": key,
        "orders": orders,
        "dry_run": is_dry_run,
        "replayed": False,
        "first": True,  # this request claimed the batch (the app counts its orders once)
        "execution_arn": execution_arn(settings.state_machine_arn, batch_id),
        "status_url": f"/batches/{batch_id}",
    }
    digest = hashlib.sha256(body).hexdigest()
    if seed is not None:
        try:
            before = deps.batches.claim_body(sender, batch_id, digest)
        except BodyMismatch as mismatch:
            raise Conflict(
                "this Idempotency-Key was already used with a different body",
                code="idempotency_key_reused",
            ) from mismatch
        if before is not None and before.get("status", PENDING) != PENDING:
            # its execution ran (its file may be gone): nothing to redo, nothing new accepted
            return {**accepted, "replayed": True, "first": False}  # the app makes it a header
        # a retry of a batch still pending finishes what the first may not have: it writes
        # nothing new (the document is written once, the execution started once)
        accepted["first"] = before is None
    # Before the document exists: its S3 event may start the execution ahead of us, and
    # PrepareFile must find the mapping and the dry run on the record whoever starts it.
    deps.batches.create_pending(
        sender,
        batch_id,
        bucket=settings.bucket,
        key=key,
        via="POST /orders",
        callback_url=callback_url,
        mapping=column_mapping.to_dict() if column_mapping else None,
        dry_run=is_dry_run,
    )
    if seed is None:
        version, etag = _write(deps, key, body, digest)
    else:
        version, etag = _write_once(deps, key, body, digest)
    source = Source(settings.bucket, key, version, batch_id, etag, sender)
    start_ingest(deps.sfn, settings.state_machine_arn, source)
    return accepted


def mapping_of(given: Any) -> ColumnMapping:
    """A column mapping that came with a request (JSON text or an object); one that cannot be
    used is a 400 `mapping.invalid` listing every problem."""
    try:
        return ColumnMapping.from_json(given)
    except MappingError as invalid:
        raise BadRequest(invalid.message, code=invalid.code) from invalid


def _dry_run_flag(value: str | None) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest("dry_run must be true or false", code="bad_dry_run")


def _orders_of(body: bytes, key: str) -> tuple[dict[str, Parsed], int]:
    """The document's top-level members and its number of orders, read by the pipeline's own
    reader under the key the body will have: a body the pipeline would quarantine is a 400
    with the pipeline's code and message, and every order counted here is one it processes.
    An order with a bad value is the pipeline's to reject (with its reasons), not ours. A body
    that is not JSON text (a workbook, gzip) is a 415 before anything reads it."""
    check_json_content(body)
    fields: dict[str, Parsed] = {}
    orders = 0
    not_objects: list[int] = []
    try:
        for record in read_records(io.BytesIO(body), key, fields=fields):
            orders += 1
            if record.error is None and not isinstance(record.order, dict):
                not_objects.append(record.row)
    except UnreadableFile as problem:
        raise BadRequest(problem.message, code=problem.code) from problem
    if not_objects:
        raise BadRequest(
            f"{len(not_objects)} element(s) of the order list are not objects",
            code="order_not_object",
            details={"positions": not_objects[:100]},
        )
    return fields, orders


def _document_callback(fields: dict[str, Parsed]) -> Any:
    parsed = fields.get("callback_url")
    if parsed is None:
        return None
    if parsed.error is not None:
        raise BadRequest(f"callback_url: {parsed.error.message}", code="callback_refused")
    return parsed.value


def _check_callback(url: Any, deps: Deps) -> None:
    if url is None:
        return
    try:
        check_url(url, callback_policy_of(deps.settings))
    except CallbackRefused as refused:
        raise BadRequest(str(refused), code="callback_refused") from refused


def callback_policy_of(settings: Settings) -> CallbackPolicy:
    return CallbackPolicy(
        require_https=settings.callback_require_https,
        allow_loopback=settings.callback_allow_loopback,
    )


def _write(
    deps: Deps, key: str, body: bytes, digest: str, **condition: str
) -> tuple[str | None, str]:
    """Writes the document; returns its version id (None on an unversioned bucket) and ETag."""
    response = deps.s3.put_object(
        Bucket=deps.settings.bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        Metadata={_BODY_HASH: digest},
        **condition,  # type: ignore[arg-type]
    )
    return response.get("VersionId"), response["ETag"].strip('"')


def _write_once(deps: Deps, key: str, body: bytes, digest: str) -> tuple[str | None, str]:
    """Writes the document unless it is there already (a retry after the first attempt wrote
    it): the batch record's body hash has already shown it is the same document."""
    try:
        return _write(deps, key, body, digest, IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412"}:
            raise
    head = deps.s3.head_object(Bucket=deps.settings.bucket, Key=key)
    return head.get("VersionId"), head["ETag"].strip('"')


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """A `POST /uploads` body: what the upload will be."""

    filename: str | None = None
    content_type: str | None = "text/csv"  # an explicit null is refused by presign_upload
    callback_url: str | None = None
    mapping: dict[str, Any] | None = None
    dry_run: bool = False

    @classmethod
    def from_body(cls, raw: bytes) -> UploadRequest:
        """The body's members, each checked; a 400 for the first that is not what it must be."""
        try:
            wanted = json.loads(raw or b"{}")
        except ValueError as error:
            raise BadRequest(f"the body is not valid JSON: {error}", code="invalid_json") from error
        if not isinstance(wanted, dict):
            raise BadRequest('the body must be a JSON object: {"filename", "content_type"}')
        filename, content_type = wanted.get("filename"), wanted.get("content_type", "text/csv")
        callback_url = wanted.get("callback_url")
        if not all(isinstance(v, str | None) for v in (filename, content_type, callback_url)):
            raise BadRequest("filename, content_type and callback_url must be strings")
        mapping, dry_run = wanted.get("mapping"), wanted.get("dry_run", False)
        if mapping is not None and not isinstance(mapping, dict):
            raise BadRequest(
                'mapping must be an object such as {"columns": {"qty": "Menge"}}',
                code="mapping.invalid",
            )
        if not isinstance(dry_run, bool):
            raise BadRequest("dry_run must be true or false", code="bad_dry_run")
        return cls(filename, content_type, callback_url, mapping, dry_run)


def presign_upload(
    *,
    filename: str | None,
    content_type: str | None,
    callback_url: str | None,
    sender: str,
    deps: Deps,
    max_upload_bytes: int | None = None,
    mapping: Any = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A presigned S3 POST for a key the server chooses, in the sender's folder, and the batch
    it will become; at most the sender's own upload limit, or the stage's. A column `mapping`
    (an object) and `dry_run` are kept on the batch record for PrepareFile."""
    column_mapping = mapping_of(mapping) if mapping is not None else None
    settings = deps.settings
    max_bytes = max_upload_bytes or settings.upload_max_bytes
    if filename is not None and len(filename) > UPLOAD_FILENAME_MAX:
        raise BadRequest(
            f"filename has {len(filename)} characters; at most {UPLOAD_FILENAME_MAX}",
            code="bad_filename",
        )
    _check_callback(callback_url, deps)
    if content_type not in UPLOAD_TYPES:
        raise BadRequest(
            f"content_type must be one of {sorted(UPLOAD_TYPES)}", code="unsupported_content_type"
        )
    batch_id = new_batch_id("up")
    name = _safe_filename(filename, content_type)
    key = upload_key_for(settings.incoming_prefix, sender, batch_id, name)
    post = deps.presigner.generate_presigned_post(
        Bucket=settings.bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=settings.upload_url_seconds,
    )
    deps.batches.create_pending(
        sender,
        batch_id,
        bucket=settings.bucket,
        key=key,
        via=PRESIGNED_UPLOAD,
        callback_url=callback_url,
        mapping=column_mapping.to_dict() if column_mapping else None,
        dry_run=dry_run,
        upload_expires_at=expiry_after(settings.upload_url_seconds),  # unused: `expired` then
    )
    return {
        "batch_id": batch_id,
        "key": key,
        "url": post["url"],
        "fields": post["fields"],
        "expires_in": settings.upload_url_seconds,
        "max_bytes": max_bytes,
        "dry_run": dry_run,
        "status_url": f"/batches/{batch_id}",
    }


def _safe_filename(filename: str | None, content_type: str) -> str:
    suffix = UPLOAD_TYPES[content_type]
    name = _SAFE_NAME.sub("-", (filename or "").rsplit("/", 1)[-1]).strip(".-")[:100]
    if not name:
        name = "orders" + (".json" if suffix == ".gz" else "")
    if not name.lower().endswith(suffix):
        name += suffix
    return name


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


_REVIEW_REASONS = frozenset({"invalid", "conflict", "store_failed"})
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
