"""Start the ingest execution for an uploaded object, exactly once per object.

A key the API chose carries its batch id, so a second upload to the same presigned key (the
URL can be used again until it expires) lands on a batch that already runs. Sent again with
the same bytes, it is a retry and nothing more happens; with other bytes it is kept where it
is and reported beside the batch (`quarantine/<batch_id>/duplicate-upload-<etag>.json`), never
silently dropped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chalicelib.contracts import Source
from chalicelib.log import get_logger
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.naming import (
    UNASSIGNED,
    batch_id_for,
    embedded_batch_id,
    object_batch_id,
    sender_of_key,
)
from chalicelib.senders import SenderRegistry

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

log = get_logger("trigger")


def source_for(
    bucket: str,
    key: str,
    version: str | None,
    etag: str | None = None,
    *,
    incoming_prefix: str,
    senders: SenderRegistry,
    batches: BatchRecords,
) -> Source:
    """The object an S3 event names: its version id (versioned bucket), its ETag and its
    sender. The batch id derives from the version id, or from the ETag where there is none.
    The sender is the registered sender whose folder holds the key, else `UNASSIGNED` (its
    batch is recorded there and the file quarantined, never given to a guessed sender).

    A key the API chose carries the batch id it promised (`api/<id>.json`, `uploads/<id>/`),
    and the API records that promise under its sender before the file can arrive. A key that
    carries an id never promised to its sender (another sender's, or one made up) is named
    after the object instead: execution names are global, so taking another sender's id would
    leave this file with no batch of its own and that sender's batch with a stranger's file."""
    etag = etag.strip('"') if etag else None
    sender = sender_of_key(incoming_prefix, key)
    if sender is not None and senders.get(sender) is None:
        sender = None
    embedded = embedded_batch_id(key)
    if embedded is not None and (sender is None or batches.get(sender, embedded) is None):
        log.warning("a key carries a batch id not promised to its sender", extra={"key": key})
        batch_id = object_batch_id(bucket, key, version or etag)
    else:
        batch_id = batch_id_for(bucket, key, version or etag)
    return Source(bucket, key, version, batch_id, etag, sender or UNASSIGNED)


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def ingest_object(
    sfn: SFNClient, s3: S3Client, state_machine_arn: str, quarantine_prefix: str, source: Source
) -> bool:
    """Starts the object's execution; reports a different second upload of an API key."""
    if start_ingest(sfn, state_machine_arn, source):
        return True
    described = sfn.describe_execution(
        executionArn=execution_arn(state_machine_arn, source.batch_id)
    )
    first = Source.from_dict({**source.to_dict(), **json.loads(described.get("input") or "{}")})
    if (first.version, first.etag) == (source.version, source.etag):
        return False  # the same object announced again
    etags = [_etag_of(s3, obj) for obj in (first, source)]
    if None not in etags and etags[0] == etags[1]:
        log.info("same bytes uploaded again", extra={"batch_id": source.batch_id})
        return False
    report = {
        "sender": source.sender,
        "batch_id": source.batch_id,
        "source": source.to_dict(),
        "error": {
            "code": "file.duplicate_upload",
            "message": "a second, different file was uploaded to a key whose batch was already"
            " started; it was not processed (ask for a new upload URL to send it)",
        },
    }
    tag = etags[1] or source.version or "unknown"
    key = f"{quarantine_prefix}{source.sender}/{source.batch_id}/duplicate-upload-{tag}.json"
    s3.put_object(
        Bucket=source.bucket,
        Key=key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    log.warning("different second upload reported", extra={"batch_id": source.batch_id})
    return False


def _etag_of(s3: S3Client, source: Source) -> str | None:
    """The object's ETag (from the event, or read by its version id), without quotes."""
    if source.etag:
        return source.etag
    if not source.version:
        return None
    head = s3.head_object(Bucket=source.bucket, Key=source.key, VersionId=source.version)
    return head["ETag"].strip('"')


def start_ingest(sfn: SFNClient, state_machine_arn: str, source: Source) -> bool:
    """Starts the execution named after the object; False if it was already started."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=source.batch_id,
            input=json.dumps(source.to_dict()),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        log.info("execution already started", extra={"batch_id": source.batch_id})
        return False
    log.info("execution started", extra={"batch_id": source.batch_id})
    return True
