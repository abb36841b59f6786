"""RecordBatch: count every chunk's outcome and record how the batch ended.

A Distributed Map is not trusted to report its children's failures (moto's never does, and a
child that timed out leaves no outcome on AWS either), so every chunk of the manifest is looked
up: a chunk without an outcome is processed again here, which stores nothing twice. A chunk
whose reprocessing meets a transient failure (the DLQ refusing its messages) makes RecordBatch
fail with that error, so that Step Functions retries the whole step with backoff (every chunk
already counted is only read again). Once those retries are spent, the state machine calls
RecordBatch a last time with `$.record_error` set: only then is a chunk that fails again left
`unprocessed`, and the batch `failed`; the batch is always recorded.

The batch's cost receipt (costs.receipt) is the sum of PrepareFile's requests (in its outcome,
`$.prepared.requests`), every chunk's (in its outcome) and RecordBatch's own, with the standard
workflow's state transitions taken from the path the execution took through the definition
(`TRANSITIONS`, checked against the definition by tests). It lands on the batch record and in
the completion event.

An error carried to the batch record (and so to `GET /batches/{id}`) is one short line: the
error's type and message, never a traceback or a server path (`describe_failure`).
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import costs, metrics
from chalicelib.costs import Requests, lambda_gb_seconds
from chalicelib.log import get_logger, mask_emails
from chalicelib.pipeline.batches import FAILED, QUARANTINED, SUCCEEDED, BatchRecords, Counts
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.deadletter import DeadLetterUnavailable
from chalicelib.pipeline.inflight import in_order
from chalicelib.pipeline.process import ChunkTask
from chalicelib.pipeline.report import ReportWriter, extra_columns

log = get_logger("finish")
_MAX_CAUSE = 1000  # a batch's error message (several chunks' failures, each one line)
_MAX_LINE = 300  # one failure's description

# The states the standard workflow enters on each path (pipeline/ingest.asl.json), each one
# billed transition: written here, and tests/execution/test_receipt.py walks the definition to
# check them.
TRANSITIONS = {
    "chunks": 6,  # PrepareFile, IsReadable, ProcessChunks, RecordBatch, DidBatchFail, an end
    "no_chunks": 5,  # PrepareFile, IsReadable, RecordBatch, DidBatchFail, an end
    "prepare_failed": 4,  # PrepareFile (caught), RecordBatch, DidBatchFail, an end
}
_AFTER_RETRIES = 1  # RecordBatchAfterRetries, entered when RecordBatch's retries are spent


def record_batch(
    state: dict[str, Any],
    *,
    chunks: ChunkStore,
    batches: BatchRecords,
    reprocess: Callable[[ChunkTask], dict[str, Any]],
    publish: Callable[[dict[str, Any]], None],
    context: Any = None,
) -> dict[str, Any]:
    """`state` is the execution's state; records the batch, writes its rejection report,
    publishes its completion event; returns the batch's status and counts. `context` is the
    Lambda context (its memory prices the run)."""
    started = time.monotonic()
    sender: str = state["sender"]
    batch_id: str = state["batch_id"]
    prepared: dict[str, Any] | None = state.get("prepared")
    dry_run = bool((prepared or {}).get("dry_run"))
    counts = Counts()
    requests = Requests().add((prepared or {}).get("requests"))
    error: dict[str, Any] | None = None
    report: dict[str, str] | None = None
    path = "no_chunks"
    if prepared is None:
        status, error = FAILED, _step_error("pipeline.prepare_failed", state.get("error"))
        path = "prepare_failed"
    elif prepared["status"] == "quarantined":
        status, error = QUARANTINED, prepared["error"]
    elif prepared["status"] != "ready":
        status, error = FAILED, prepared["error"]
    else:
        path = "chunks"
        tally = _count_chunks(state, chunks, reprocess)
        status, error, counts = tally.status, tally.error, tally.counts
        requests.add(tally.requests)
        if tally.rejecting:
            requests.s3_get += len(tally.rejecting)  # each read again for the report
            requests.s3_put += 2  # its two forms (one PUT each below 8 MB, see README)
            report = _write_report(chunks, tally.rejecting, tally.columns)
    transitions = TRANSITIONS[path] + (_AFTER_RETRIES if state.get("record_error") else 0)
    # What follows: the record written (a small item), its start read back, the event put.
    requests.add(
        {
            "sfn_state_transitions": transitions,
            "dynamodb_write_units": 1,
            "dynamodb_read_units": 1,
            "eventbridge_events": 1,
            "lambda_invocations": 1,
            "lambda_gb_seconds": lambda_gb_seconds(time.monotonic() - started, context),
        }
    )
    receipt = costs.receipt(requests)
    batches.finish(
        sender, batch_id, status=status, counts=counts, error=error, report=report,
        receipt=receipt,
    )  # fmt: skip
    log.info(
        "batch recorded",
        extra={"sender": sender, "batch_id": batch_id, "status": status, **counts.to_dict()},
    )
    publish(
        {
            "sender": sender,
            "batch_id": batch_id,
            "file": {"bucket": state.get("bucket"), "key": state.get("key")},
            "status": status,
            **counts.to_dict(),
            "error": error,
            "report": report,
            "dry_run": dry_run,
            "receipt": receipt,
        }
    )
    if not dry_run:  # a dry run stored nothing: its "stored" must not count as stored orders
        seconds = _seconds_since_start(batches, sender, batch_id)
        metrics.batch_recorded(
            status, counts.to_dict(), seconds=seconds, batch_id=batch_id, sender=sender
        )
    return {
        "batch_id": batch_id,
        "status": status,
        "total": counts.total,
        "stored": counts.stored,
        "rejected": counts.rejected,
    }


def _seconds_since_start(batches: BatchRecords, sender: str, batch_id: str) -> float | None:
    """How long the batch took, from PrepareFile's start (`started_at`) to now; None when the
    record cannot tell (a metric, never a reason to fail the step)."""
    try:
        started = (batches.get(sender, batch_id) or {}).get("started_at")
        at = calendar.timegm(time.strptime(str(started), "%Y-%m-%dT%H:%M:%SZ"))
    except Exception:  # noqa: BLE001 - no record, no start time, a failed read: no duration
        return None
    return max(0.0, time.time() - at)


def _write_report(
    chunks: ChunkStore, rejecting: list[int], columns: dict[str, None]
) -> dict[str, str]:
    """The rejection report, read again chunk by chunk (its columns were collected while
    counting, so no chunk's rejections are held in memory beyond its own)."""
    writer = ReportWriter(columns)
    for result in in_order(chunks.read_result, rejecting):
        for rejection in (result or {}).get("rejections", []):
            writer.add(rejection)
    return writer.upload(chunks.client, chunks.bucket, chunks.keys.report_prefix)


@dataclass(slots=True)
class _Tally:
    """Every chunk's outcome counted: how the batch ended, the chunks with rejections (their
    report is written from them) and the report's extra columns, in the order first seen."""

    counts: Counts = field(default_factory=Counts)
    rejecting: list[int] = field(default_factory=list)
    columns: dict[str, None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: Requests = field(default_factory=Requests)

    @property
    def status(self) -> str:
        return FAILED if self.failures else SUCCEEDED

    @property
    def error(self) -> dict[str, Any] | None:
        if not self.failures:
            return None
        message = f"{self.counts.unprocessed} order(s) could not be processed; " + "; ".join(
            self.failures
        )
        return {"code": "pipeline.chunks_unprocessed", "message": _short(message)}


def _count_chunks(
    state: dict[str, Any], chunks: ChunkStore, reprocess: Callable[[ChunkTask], dict[str, Any]]
) -> _Tally:
    """Counts every chunk of the manifest, processing again a chunk without an outcome."""
    tally = _Tally()
    tally.requests.s3_get += 1  # the manifest
    refs = chunks.read_manifest()
    outcomes = in_order(lambda ref: chunks.read_result(ref.index), refs)  # 8 reads at once
    for ref, result in zip(refs, outcomes, strict=True):
        tally.requests.s3_get += 1  # the outcome, or the 404 that says there is none
        if result is None:
            task = ChunkTask(
                state["sender"], state["batch_id"], state["bucket"], state["key"], ref.index,
                ref.key, dry_run=bool(state["prepared"].get("dry_run")),
            )  # fmt: skip
            try:
                result = reprocess(task)
            except Exception as problem:  # any failure leaves the chunk unprocessed, but:
                if isinstance(problem, DeadLetterUnavailable) and not state.get("record_error"):
                    raise  # transient: Step Functions retries RecordBatch; its last call records
                tally.failures.append(f"chunk {ref.index}: {describe_exception(problem)}")
                tally.counts.total += ref.count
                tally.counts.unprocessed += ref.count
                continue
            log.warning("chunk reprocessed", extra={"batch_id": task.batch_id, "chunk": ref.index})
        tally.counts.add(result)
        tally.requests.add(result.get("requests"))
        if result.get("rejected"):
            tally.rejecting.append(ref.index)
            for name in extra_columns(result.get("rejections", [])):
                tally.columns.setdefault(name)
    return tally


def _step_error(code: str, caught: Any) -> dict[str, Any]:
    if isinstance(caught, dict):
        message = describe_failure(str(caught.get("Error") or "Error"), caught.get("Cause"))
    else:
        message = "the step failed without an error description"
    return {"code": code, "message": _short(message)}


def describe_failure(error: str, cause: Any) -> str:
    """A caught Step Functions error as one line, `Type: message`. For a Lambda function's
    failure the Cause is the function's error payload, whose `stackTrace` holds the source
    lines and file paths: only `errorType` and `errorMessage` are kept."""
    kind, message = error, cause if isinstance(cause, str) else ""
    try:
        payload = json.loads(message) if message.lstrip().startswith("{") else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and ("errorMessage" in payload or "errorType" in payload):
        kind = str(payload.get("errorType") or kind)
        message = str(payload.get("errorMessage") or "")
    return _cap(one_line(f"{kind}: {message}" if message else kind))


def describe_exception(problem: BaseException) -> str:
    """An exception as one line, `Type: message`, without paths."""
    return _cap(one_line(f"{type(problem).__name__}: {problem}"))


# An absolute path (`/var/task/app.py`, `C:\\x\\y.py`), not the path of a URL or an S3 key.
_PATH = re.compile(r"""(?<![\w.:/~-])/(?:[^\s/"'`]+/)+[^\s/"'`,;)]*|\b[A-Za-z]:\\[^\s"'`,;)]+""")
# Where a trace starts: Python's header, a frame line (also JSON-escaped), a Lambda payload's
# stackTrace (an error recorded whole, before the payload was read here).
_TRACEBACK = re.compile(r'Traceback \(most recent call last\)|\bFile \\*"|"stackTrace"')


def one_line(text: str) -> str:
    """The first line of `text`, cut where a traceback starts, with absolute paths replaced by
    `<path>`: what an error may show a client."""
    start = _TRACEBACK.search(text)
    if start is not None:
        text = text[: start.start()]
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return _PATH.sub("<path>", line).rstrip(" :") or "the step failed"


def _cap(line: str) -> str:
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


def _short(text: str) -> str:
    text = mask_emails(text)
    return text if len(text) <= _MAX_CAUSE else text[: _MAX_CAUSE - 1] + "…"
