"""PrepareFile: stream the uploaded file once, judge it readable, cut it into chunks.

The whole file is read before any order is stored, so a file that turns out to be unreadable
(even at its last byte) is never half processed: it is moved to the quarantine prefix with an
error report beside it, and the batch ends `quarantined` with the reason.

Every read, copy and delete names the exact object the S3 event named (`Source.selector`):
its version id on a versioned bucket, else its ETag as a precondition. A second upload to the
same key is another object with its own event and its own batch; it is never read in place of
the first. On an unversioned bucket the first object's bytes may be gone before they are read:
the batch then ends `quarantined` with `file.replaced`, and the newer object is left alone for
its own batch.

A file that came through a presigned POST (its batch record's `via`) and is larger than its
sender's upload limit is quarantined with `file.upload_too_large` before a byte of it is read:
the form's policy refuses such a file on S3, and the pipeline does not rely on a policy.

A table's columns are matched with at most one explicit mapping: the one that came with the
upload (POST /uploads `mapping`, POST /orders `?mapping=`, `orders run --mapping`, which the
API stored on the batch record), else the sender's saved profile, else none (`mapping_from`:
`upload`, `profile` or `none`). What the file turned out to be (format, encoding, delimiter,
sheet, columns, the mapping and where it came from) is recorded on the batch as `file`, for a
ready file and a quarantined one alike. A dry run (`dry_run` on the batch record) is prepared
like any other file; PrepareFile hands the flag on to every chunk (`dry_run` in its output).

Its outcome (`contracts.Prepared`) carries the `requests` it made (costs.Requests), metered
where they are made (chalicelib.metering), for the batch's cost receipt.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.contracts import Prepared, PrepareStatus, Problem, Source
from chalicelib.costs import Requests, lambda_gb_seconds
from chalicelib.log import get_logger
from chalicelib.orders.readers import ColumnMapping, MappingError, Reading, read_records
from chalicelib.orders.records import UnreadableFile
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkRef, ChunkStore, cut
from chalicelib.pipeline.inflight import in_order
from chalicelib.pipeline.naming import UNASSIGNED
from chalicelib.senders import Sender, SenderRegistry
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["PRESIGNED_UPLOAD", "prepare_file"]

log = get_logger("prepare")


def prepare_file(
    source: Source,
    *,
    s3: S3Client,
    chunks: ChunkStore,
    batches: BatchRecords,
    senders: SenderRegistry,
    settings: Settings,
    requests: Requests | None = None,
    context: Any = None,
) -> Prepared:
    """Prepares the file; `requests` is the invocation's meter, `context` the Lambda context
    (its memory prices the run)."""
    started = time.monotonic()
    record = batches.start(
        source.sender, source.batch_id, bucket=source.bucket, key=source.key,
        version=source.version,
    )  # fmt: skip
    outcome = _prepare(source, record, s3, chunks, batches, senders, settings)
    seconds = time.monotonic() - started
    spent = Requests().add(requests)
    spent.add({"lambda_invocations": 1, "lambda_gb_seconds": lambda_gb_seconds(seconds, context)})
    return Prepared(
        status=outcome.status, manifest_key=outcome.manifest_key, chunks=outcome.chunks,
        total=outcome.total, error=outcome.error, dry_run=bool(record.get("dry_run")),
        requests=spent,
    )  # fmt: skip


def _prepare(
    source: Source,
    record: dict[str, Any],
    s3: S3Client,
    chunks: ChunkStore,
    batches: BatchRecords,
    senders: SenderRegistry,
    settings: Settings,
) -> Prepared:
    refs: list[ChunkRef] = []
    reading: Reading | None = None
    mapping_from = NO_MAPPING
    try:
        sender = _check_sender(source, senders, settings.incoming_prefix)
        mapping, mapping_from = _mapping_for(record, sender)
        opened = _open(s3, source)
        _check_upload_size(record, sender, settings, opened.get("ContentLength"), opened["Body"])
        reading = read_records(opened["Body"], source.key, mapping=mapping)
        cuts = enumerate(cut(reading, settings.chunk_max_orders, settings.chunk_max_bytes))
        refs.extend(in_order(lambda numbered: chunks.write_chunk(*numbered), cuts))
    except FileReplaced as replaced:
        return _report_replaced(source, replaced, s3=s3, chunks=chunks)
    except FileMissing as missing:
        return _outcome(PrepareStatus.FAILED, missing)
    except UnreadableFile as problem:
        file = _file_read(source, batches, reading, mapping_from)
        return _quarantine(source, problem, s3=s3, chunks=chunks, file=file)
    _file_read(source, batches, reading, mapping_from)
    total = sum(r.count for r in refs)
    manifest_key = chunks.write_manifest(refs)
    batches.prepared(source.sender, source.batch_id, total=total, chunks=len(refs))
    log.info(
        "file prepared",
        extra={"batch_id": source.batch_id, "orders": total, "chunks": len(refs)},
    )
    return Prepared(PrepareStatus.READY, manifest_key, chunks=len(refs), total=total)


UPLOAD, PROFILE, NO_MAPPING = "upload", "profile", "none"  # where a batch's mapping came from


def _mapping_for(record: dict[str, Any], sender: Sender) -> tuple[ColumnMapping | None, str]:
    """The mapping that came with the upload (on the batch record), else the sender's
    profile, else none; and which of these it is. Only ever this sender's own profile."""
    given = record.get("mapping")
    if given is not None:
        try:
            return ColumnMapping.from_json(given), UPLOAD
        except MappingError as invalid:  # the API validates it; a record written otherwise
            raise UnreadableFile(invalid.code, invalid.message) from invalid
    if sender.profile is not None:
        return sender.profile, PROFILE
    return None, NO_MAPPING


def _file_read(
    source: Source,
    batches: BatchRecords,
    reading: Reading | None,
    mapping_from: str,
) -> dict[str, Any] | None:
    """Records on the batch what the file was found to be (None: it was never opened)."""
    if reading is None:
        return None
    # a JSON file, or our report sent back, is read without the mapping it came with
    applied = mapping_from if reading.facts.mapping is not None else NO_MAPPING
    file = {**reading.facts.to_dict(), "mapping_from": applied}
    batches.file_read(source.sender, source.batch_id, file)
    return file


def _check_sender(source: Source, senders: SenderRegistry, incoming_prefix: str) -> Sender:
    """A file is processed only for an active sender its key names; never for a guessed one.
    Returns the sender's record (one read: its status and its mapping profile)."""
    if source.sender == UNASSIGNED:
        raise NoSender(source.key, incoming_prefix)
    sender = senders.get(source.sender)
    if sender is None or not sender.active:
        raise SenderNotActive(source.sender, known=sender is not None)
    return sender


class NoSender(UnreadableFile):
    """The file's key is not inside a sender's folder, or names no registered sender."""

    def __init__(self, key: str, incoming_prefix: str) -> None:
        folder, slash, _ = key.removeprefix(incoming_prefix).partition("/")
        folder = folder if slash else ""
        named = f" (the folder {folder!r} is no registered sender)" if folder else ""
        super().__init__(
            "file.no_sender",
            f"the file was uploaded outside any sender's folder{named}; files are taken only"
            f" under {incoming_prefix}<sender id>/ of a registered sender (POST /uploads gives"
            " a key there), and the sender is never guessed",
        )


class SenderNotActive(UnreadableFile):
    """The sender the key names is disabled."""

    def __init__(self, sender_id: str, *, known: bool) -> None:
        state = "is disabled" if known else "is not registered"
        super().__init__(
            "file.sender_disabled",
            f"the sender {sender_id!r} {state}: its files are not processed (an operator"
            " enables it again, or the file is sent under an active sender)",
        )


class FileMissing(UnreadableFile):
    """The object the event named no longer exists (deleted before it could be read)."""

    def __init__(self) -> None:
        super().__init__("file.missing", "the file was deleted before it could be read")


class FileReplaced(UnreadableFile):
    """On an unversioned bucket, the key now holds another object than the event named."""

    def __init__(self) -> None:
        super().__init__(
            "file.replaced",
            "the file was replaced by another upload to the same key before it could be read;"
            " the newer file is processed as its own batch (send this one again under another"
            " key, or enable versioning on the bucket so that every upload is kept)",
        )


class UploadTooLarge(UnreadableFile):
    """A presigned upload larger than its sender's upload limit (see `_check_upload_size`)."""

    def __init__(self, size: int, limit: int, sender: Sender) -> None:
        whose = (
            "its own max_upload_bytes"
            if sender.max_upload_bytes is not None
            else "the stage's UPLOAD_MAX_BYTES"
        )
        super().__init__(
            "file.upload_too_large",
            f"the file has {size} bytes, more than the {limit} bytes an upload of the sender"
            f" {sender.sender_id!r} may have ({whose}); nothing of it was read: send it in"
            " smaller files, or ask an operator for a higher limit",
        )


PRESIGNED_UPLOAD = "POST /uploads"  # the `via` of a batch the API promised to a presigned POST


def _check_upload_size(
    record: dict[str, Any], sender: Sender, settings: Settings, size: Any, body: Any
) -> None:
    """A file that came through a presigned POST (its batch record says so) is held to its
    sender's upload limit, the sender's own `max_upload_bytes` else the stage's
    `UPLOAD_MAX_BYTES`. The form's policy holds it there on S3 already (content-length-range);
    the pipeline does not rely on that policy being right. Judged from the object's size
    before any byte is read; a larger file is quarantined with `file.upload_too_large`."""
    if record.get("via") != PRESIGNED_UPLOAD or not isinstance(size, int):
        return
    limit = sender.max_upload_bytes or settings.upload_max_bytes
    if size > limit:
        body.close()  # its bytes are never read: the connection is given back
        raise UploadTooLarge(size, limit, sender)


_MISSING = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
_REPLACED = frozenset({"PreconditionFailed", "412"})


def _open(s3: S3Client, source: Source) -> Any:
    """The GetObject answer for exactly the object the event named: its `Body` (not read yet)
    and its `ContentLength`."""
    try:
        return s3.get_object(Bucket=source.bucket, Key=source.key, **source.selector)  # type: ignore[arg-type]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _REPLACED:
            raise FileReplaced from error
        if code in _MISSING:
            raise FileMissing from error
        raise


def _quarantine(
    source: Source,
    problem: UnreadableFile,
    *,
    s3: S3Client,
    chunks: ChunkStore,
    file: dict[str, Any] | None = None,
) -> Prepared:
    """Moves exactly the event's object to the quarantine prefix, with a report beside it."""
    target = chunks.keys.quarantined_file(source.key)
    try:
        s3.copy_object(
            Bucket=source.bucket,
            Key=target,
            CopySource=source.copy_source,  # type: ignore[arg-type]
            **source.copy_condition,  # type: ignore[arg-type]
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") not in _REPLACED:
            raise
        return _report_replaced(source, FileReplaced(), s3=s3, chunks=chunks)
    _write_report(source, problem, s3=s3, chunks=chunks, quarantined_as=target, file=file)
    _delete_source(s3, source)
    log.warning(
        "file quarantined",
        extra={"batch_id": source.batch_id, "code": problem.code, "quarantined_as": target},
    )
    return _outcome(PrepareStatus.QUARANTINED, problem)


def _report_replaced(
    source: Source, replaced: FileReplaced, *, s3: S3Client, chunks: ChunkStore
) -> Prepared:
    """The event's object is gone and another stands under its key: report, touch nothing."""
    _write_report(source, replaced, s3=s3, chunks=chunks, quarantined_as=None)
    log.warning("file replaced before it was read", extra={"batch_id": source.batch_id})
    return _outcome(PrepareStatus.QUARANTINED, replaced)


def _write_report(
    source: Source,
    problem: UnreadableFile,
    *,
    s3: S3Client,
    chunks: ChunkStore,
    quarantined_as: str | None,
    file: dict[str, Any] | None = None,
) -> None:
    report: dict[str, Any] = {
        "sender": source.sender,
        "batch_id": source.batch_id,
        "source": {"bucket": source.bucket, "key": source.key, "version": source.version,
                   "etag": source.etag},
        "quarantined_as": quarantined_as,
        "error": {"code": problem.code, "message": problem.message},
    }  # fmt: skip
    if file is not None:  # what the file was read as, so far (format, delimiter, mapping)
        report["file"] = file
    s3.put_object(
        Bucket=source.bucket,
        Key=chunks.keys.quarantine_report(),
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )


def _delete_source(s3: S3Client, source: Source) -> None:
    """Removes the quarantined object from the incoming prefix: its own version on a versioned
    bucket (never a delete marker that would hide a newer upload to the same key); on an
    unversioned bucket only while the key still holds it."""
    if source.version:
        s3.delete_object(Bucket=source.bucket, Key=source.key, VersionId=source.version)
        return
    try:
        s3.head_object(Bucket=source.bucket, Key=source.key, **source.selector)  # type: ignore[arg-type]
    except ClientError:
        return  # replaced or gone since the copy: the newer object is another batch's
    s3.delete_object(Bucket=source.bucket, Key=source.key)


def _outcome(status: PrepareStatus, problem: UnreadableFile) -> Prepared:
    return Prepared(status, error=Problem(problem.code, problem.message))
