"""POST /orders's document: read once by the pipeline's own reader, claimed once under an
Idempotency-Key, written once to S3.

- `read_document` counts the orders under the key the body will have: a body the pipeline
  would quarantine is a 400 with the pipeline's code and message, and every order counted here
  is one it processes. A body that is not JSON text (a workbook, gzip) is a 415 before
  anything reads it.
- `seed_of` and `claim` hold an Idempotency-Key to one body: the same key with another body is
  a 409 `idempotency_key_reused`, however long after.
- `write_document` and `write_once` put the body with its SHA-256 in the object's metadata;
  `write_once` leaves a document already written by an earlier attempt as it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.api.errors import BadRequest, Conflict
from chalicelib.api.media import check_json_content
from chalicelib.orders.jsontext import Parsed
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import UnreadableFile
from chalicelib.pipeline.batches import BatchRecords, BodyMismatch

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BODY_HASH = "body-sha256"  # S3 user metadata: the document's hash, for whoever finds it
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True, slots=True)
class Document:
    """What the pipeline's reader found in a body: its number of orders and its top-level
    members other than the orders (a `callback_url`, say)."""

    orders: int
    fields: dict[str, Parsed]

    def callback_url(self) -> Any:
        """The document's own `callback_url`, if it has one; a bad value is a 400."""
        parsed = self.fields.get("callback_url")
        if parsed is None:
            return None
        if parsed.error is not None:
            raise BadRequest(f"callback_url: {parsed.error.message}", code="callback_refused")
        return parsed.value


def read_document(body: bytes, key: str) -> Document:
    """The body read as the pipeline will read it under `key` (see the module)."""
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
    return Document(orders, fields)


def seed_of(sender: str, idempotency_key: str | None, *, dry_run: bool) -> str | None:
    """The seed of the batch id an Idempotency-Key names for `sender` (None: no key given).
    A dry run and the real run of one document are two batches, even under one key."""
    if idempotency_key is None:
        return None
    if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise BadRequest(
            f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} characters",
            code="bad_idempotency_key",
        )
    return f"{sender}\n{idempotency_key}" + ("\ndry_run" if dry_run else "")


def claim(batches: BatchRecords, sender: str, batch_id: str, digest: str) -> dict[str, Any] | None:
    """Claims the batch for the body whose hash is `digest`; returns the record as it was
    before (None: this request is the first). Another body under the key is a 409."""
    try:
        return batches.claim_body(sender, batch_id, digest)
    except BodyMismatch as mismatch:
        raise Conflict(
            "this Idempotency-Key was already used with a different body",
            code="idempotency_key_reused",
        ) from mismatch


def write_document(
    s3: S3Client, bucket: str, key: str, body: bytes, digest: str, **condition: str
) -> tuple[str | None, str]:
    """Writes the document; returns its version id (None on an unversioned bucket) and ETag."""
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        Metadata={BODY_HASH: digest},
        **condition,  # type: ignore[arg-type]
    )
    return response.get("VersionId"), response["ETag"].strip('"')


def write_once(
    s3: S3Client, bucket: str, key: str, body: bytes, digest: str
) -> tuple[str | None, str]:
    """Writes the document unless it is there already (a retry after the first attempt wrote
    it): the batch record's body hash has already shown it is the same document."""
    try:
        return write_document(s3, bucket, key, body, digest, IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412"}:
            raise
    head = s3.head_object(Bucket=bucket, Key=key)
    return head.get("VersionId"), head["ETag"].strip('"')
