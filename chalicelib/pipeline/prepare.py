"""PrepareFile: stream the uploaded file once, judge it readable, cut it into chunks.

The whole file is read before any order is stored, so a file that turns out to be unreadable
(even at its last byte) is never half processed: it is moved to the quarantine prefix with an
error report beside it, and the batch ends `quarantined` with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.log import get_logger
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import UnreadableFile
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkRef, ChunkStore, cut
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = get_logger("prepare")


@dataclass(frozen=True, slots=True)
class Source:
    """The uploaded object one execution processes (the execution's input)."""

    bucket: str
    key: str
    version: str | None
    batch_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Source:
        return cls(event["bucket"], event["key"], event.get("version"), event["batch_id"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version": self.version,
            "batch_id": self.batch_id,
        }


def prepare_file(
    source: Source, *, s3: S3Client, chunks: ChunkStore, batches: BatchRecords, settings: Settings
) -> dict[str, Any]:
    """Returns `{"status": "ready"|"quarantined", "manifest_key", "chunks", "total", "error"}`."""
    batches.start(source.batch_id, bucket=source.bucket, key=source.key, version=source.version)
    refs: list[ChunkRef] = []
    try:
        body = s3.get_object(Bucket=source.bucket, Key=source.key)["Body"]
        records = read_records(body, source.key)
        for index, encoded in enumerate(
            cut(records, settings.chunk_max_orders, settings.chunk_max_bytes)
        ):
            refs.append(chunks.write_chunk(index, encoded))
    except UnreadableFile as problem:
        return _quarantine(source, problem, s3=s3, chunks=chunks)
    except s3.exceptions.NoSuchKey:
        missing = UnreadableFile("file.missing", "the file was deleted before it could be read")
        return {**_outcome("failed", missing), "total": 0}
    total = sum(r.count for r in refs)
    manifest_key = chunks.write_manifest(refs)
    batches.prepared(source.batch_id, total=total, chunks=len(refs))
    log.info(
        "file prepared",
        extra={"batch_id": source.batch_id, "orders": total, "chunks": len(refs)},
    )
    return {
        "status": "ready",
        "manifest_key": manifest_key,
        "chunks": len(refs),
        "total": total,
        "error": None,
    }


def _quarantine(
    source: Source, problem: UnreadableFile, *, s3: S3Client, chunks: ChunkStore
) -> dict[str, Any]:
    keys = chunks.keys
    target = keys.quarantined_file(source.key)
    copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    s3.copy_object(Bucket=source.bucket, Key=target, CopySource=copy_source)  # type: ignore[arg-type]
    report = {
        "batch_id": source.batch_id,
        "source": {"bucket": source.bucket, "key": source.key, "version": source.version},
        "quarantined_as": target,
        "error": {"code": problem.code, "message": problem.message},
    }
    s3.put_object(
        Bucket=source.bucket,
        Key=keys.quarantine_report(),
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    s3.delete_object(Bucket=source.bucket, Key=source.key)
    log.warning(
        "file quarantined",
        extra={"batch_id": source.batch_id, "code": problem.code, "quarantined_as": target},
    )
    return {**_outcome("quarantined", problem), "total": 0}


def _outcome(status: str, problem: UnreadableFile) -> dict[str, Any]:
    return {
        "status": status,
        "manifest_key": None,
        "chunks": 0,
        "error": {"code": problem.code, "message": problem.message},
    }
