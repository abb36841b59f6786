"""POST /uploads: a presigned S3 POST for a key the server chooses, in the caller's folder
(`naming.upload_key_for`), and the batch it will become.

The POST's policy holds the key, the content type and the size (at most the sender's own
upload limit, or the stage's); the batch is promised (promise.py) before the URL is handed
out, so the file's S3 event finds its mapping, dry run and callback URL on the record (with the
batch it corrects, and the file name as the caller gave it, for the caller's lists).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.api.deps import Deps
from chalicelib.api.errors import BadRequest
from chalicelib.api.promise import Promise, check_callback, check_corrects, optional_mapping
from chalicelib.pipeline.batches import expiry_after
from chalicelib.pipeline.naming import new_batch_id, upload_key_for
from chalicelib.pipeline.prepare import PRESIGNED_UPLOAD

UPLOAD_TYPES = {
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/gzip": ".gz",
}
UPLOAD_FILENAME_MAX = 255  # characters of a filename POST /uploads takes (api/openapi.json)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """A `POST /uploads` body: what the upload will be."""

    filename: str | None = None
    content_type: str | None = "text/csv"  # an explicit null is refused by presign_upload
    callback_url: str | None = None
    mapping: dict[str, Any] | None = None
    dry_run: bool = False
    corrects: str | None = None  # the caller's earlier batch this upload corrects

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
        corrects = wanted.get("corrects")
        if corrects is not None and not isinstance(corrects, str):
            raise BadRequest("corrects must be a batch id", code="bad_corrects")
        return cls(filename, content_type, callback_url, mapping, dry_run, corrects)


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
    corrects: str | None = None,
) -> dict[str, Any]:
    """A presigned S3 POST for a key the server chooses, in the sender's folder, and the batch
    it will become; at most the sender's own upload limit, or the stage's. A column `mapping`
    (an object) and `dry_run` are kept on the batch record for PrepareFile; `corrects` (one
    of the caller's own batches) and the `filename` as given, for the caller's lists."""
    settings = deps.settings
    promise = Promise(PRESIGNED_UPLOAD, callback_url, optional_mapping(mapping), dry_run)
    max_bytes = max_upload_bytes or settings.upload_max_bytes
    checked_type = _check_upload(filename, content_type, promise, deps)
    promise = replace(
        promise,
        corrects=check_corrects(corrects, sender, deps.reads(sender).batches),
        file_name=filename,
    )
    batch_id = new_batch_id("up")
    key = upload_key_for(
        settings.incoming_prefix, sender, batch_id, safe_filename(filename, checked_type)
    )
    post = deps.presigner.generate_presigned_post(
        Bucket=settings.bucket,
        Key=key,
        Fields={"Content-Type": checked_type},
        Conditions=[{"Content-Type": checked_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=settings.upload_url_seconds,
    )
    expires_at = expiry_after(settings.upload_url_seconds)  # unused by then: `expired`
    promise.record(
        deps.batches,
        sender,
        batch_id,
        bucket=settings.bucket,
        key=key,
        upload_expires_at=expires_at,
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


def _check_upload(
    filename: str | None, content_type: str | None, promise: Promise, deps: Deps
) -> str:
    """The upload's content type, once the filename, the callback URL and the type itself are
    found acceptable (in this order: the first problem is the 400)."""
    if filename is not None and len(filename) > UPLOAD_FILENAME_MAX:
        raise BadRequest(
            f"filename has {len(filename)} characters; at most {UPLOAD_FILENAME_MAX}",
            code="bad_filename",
        )
    check_callback(promise.callback_url, deps.settings)
    if content_type not in UPLOAD_TYPES:
        raise BadRequest(
            f"content_type must be one of {sorted(UPLOAD_TYPES)}", code="unsupported_content_type"
        )
    return content_type


def safe_filename(filename: str | None, content_type: str) -> str:
    """The last part of `filename`, with only letters, digits, `.`, `_` and `-`, at most 100
    characters, ending in the content type's suffix (`orders.csv` when nothing is left)."""
    suffix = UPLOAD_TYPES[content_type]
    name = _SAFE_NAME.sub("-", (filename or "").rsplit("/", 1)[-1]).strip(".-")[:100]
    if not name:
        name = "orders" + (".json" if suffix == ".gz" else "")
    if not name.lower().endswith(suffix):
        name += suffix
    return name
