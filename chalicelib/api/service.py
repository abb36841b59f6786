"""What the HTTP routes do, with injected clients: accept orders, presign uploads, report.
app.py calls these functions; each job lives in its own module of this package:

- POST /orders (`accept_orders`, here): the document is read (documents.py), held to its
  Idempotency-Key, promised (promise.py), written under a key that carries its sender and
  batch id (`incoming/<sender>/api/<batch_id>.json`, naming.py) and its execution started at
  once under that id: the S3 event that follows derives the same id from the same key, finds
  the execution there and does nothing.
- POST /uploads (uploads.py); GET /batches, /batches/{id}, /orders and /reviews (reads.py);
  GET /batches/{id}/rejections (rejections.py); GET, PUT and DELETE /profile (profile.py).

Every function takes the caller's sender (the authorizer's, never one the request names) and
reads only under it: another sender's batch, order or reviews answer exactly as ones that do
not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from chalicelib.api.deps import Deps
from chalicelib.api.documents import (
    Document,
    claim,
    read_document,
    seed_of,
    write_document,
    write_once,
)
from chalicelib.api.errors import PayloadTooLarge
from chalicelib.api.profile import clear_profile, get_profile, profile, put_profile
from chalicelib.api.promise import (
    ORDERS_POST,
    Promise,
    check_callback,
    check_corrects,
    dry_run_flag,
    optional_mapping,
)
from chalicelib.api.reads import batch_status, get_order, list_batches, list_reviews
from chalicelib.api.rejections import list_rejections
from chalicelib.api.uploads import UploadRequest, presign_upload
from chalicelib.contracts import Source
from chalicelib.pipeline.batches import PENDING
from chalicelib.pipeline.naming import api_key_for, new_batch_id
from chalicelib.pipeline.trigger import execution_arn, start_ingest

__all__ = [  # every route's function, for app.py's one import
    "Deps",
    "UploadRequest",
    "accept_orders",
    "batch_status",
    "clear_profile",
    "get_order",
    "get_profile",
    "list_batches",
    "list_rejections",
    "list_reviews",
    "presign_upload",
    "profile",
    "put_profile",
]
VIA = ORDERS_POST  # the batch record's `via`


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
    corrects: str | None = None,
) -> dict[str, Any]:
    """Checks the envelope, writes the document, starts its execution; returns the 202 body.
    `callback_url` comes from the query string, or from the document's own top-level key.
    The sender's own limit on orders per request, when it has one, replaces the stage's.
    `mapping` (the `mapping` query parameter: a column mapping as JSON text) and `dry_run`
    (`true` or `false`) go on the batch record, where PrepareFile reads them, and so does
    `corrects` (the caller's earlier batch this one corrects, checked to be one of its own)."""
    settings = deps.settings
    promise = Promise(VIA, mapping=optional_mapping(mapping), dry_run=dry_run_flag(dry_run))
    _check_bytes(body, settings.api_max_bytes)
    seed = seed_of(sender, idempotency_key, dry_run=promise.dry_run)
    batch_id = new_batch_id("api", seed, deps.idempotency_key() if seed else None)
    key = api_key_for(settings.incoming_prefix, sender, batch_id)
    document = read_document(body, key)
    promise = replace(promise, callback_url=_callback_url(callback_url, document, deps))
    _check_orders(document.orders, max_orders_per_request or settings.api_max_orders)
    promise = replace(
        promise, corrects=check_corrects(corrects, sender, deps.reads(sender).batches)
    )
    accepted = {
        "batch_id": batch_id,
        "key": key,
        "orders": document.orders,
        "dry_run": promise.dry_run,
        "replayed": False,
        "first": True,  # this request claimed the batch (the app counts its orders once)
        "execution_arn": execution_arn(settings.state_machine_arn, batch_id),
        "status_url": f"/batches/{batch_id}",
    }
    digest = hashlib.sha256(body).hexdigest()
    if seed is not None:
        before = claim(deps.batches, sender, batch_id, digest)
        if before is not None and before.get("status", PENDING) != PENDING:
            # its execution ran (its file may be gone): nothing to redo, nothing new accepted
            return {**accepted, "replayed": True, "first": False}  # the app makes it a header
        # a retry of a batch still pending finishes what the first may not have: it writes
        # nothing new (the document is written once, the execution started once)
        accepted["first"] = before is None
    # Before the document exists: its S3 event may start the execution ahead of us, and
    # PrepareFile must find the mapping and the dry run on the record whoever starts it.
    promise.record(deps.batches, sender, batch_id, bucket=settings.bucket, key=key)
    write = write_document if seed is None else write_once
    version, etag = write(deps.s3, settings.bucket, key, body, digest)
    source = Source(settings.bucket, key, version, batch_id, etag, sender)
    start_ingest(deps.sfn, settings.state_machine_arn, source)
    return accepted


def _check_bytes(body: bytes, most: int) -> None:
    if len(body) > most:
        raise PayloadTooLarge(f"the body has {len(body)} bytes; at most {most}")


def _check_orders(orders: int, most: int) -> None:
    if orders > most:
        raise PayloadTooLarge(
            f"the body has {orders} orders; at most {most} per request"
            " (use POST /uploads for larger files)"
        )


def _callback_url(given: str | None, document: Document, deps: Deps) -> Any:
    """The query string's callback URL, else the document's own; checked against the stage's
    policy."""
    url = given if given is not None else document.callback_url()
    check_callback(url, deps.settings)
    return url
