"""RecordBatch: count every chunk's outcome and record how the batch ended.

A Distributed Map is not trusted to report its children's failures (moto's never does, and a
child that timed out leaves no outcome on AWS either), so every chunk of the manifest is looked
up: a chunk without an outcome is processed again here, which stores nothing twice. A chunk
whose reprocessing meets a transient failure (the DLQ refusing its messages) makes RecordBatch
fail with that error, so that Step Functions retries the whole step with backoff (every chunk
already counted is only read again). Once those retries are spent, the state machine calls
RecordBatch a last time with `$.record_error` set: only then is a chunk that fails again left
`unprocessed`, and the batch `failed`; the batch is always recorded.

RecordBatch is handed the execution's state (`contracts.BatchState`) and returns
`contracts.Recorded`; it publishes `contracts.Completion`.

The batch's cost receipt (costs.receipt) is the sum of PrepareFile's requests (in its outcome,
`$.prepared.requests`), every chunk's (in its outcome) and RecordBatch's own (metered where
they are made: `requests`, chalicelib.metering), with the standard workflow's state transitions
counted from the definition along the path the execution took (`pipeline.transitions`). It
lands on the batch record and in the completion event.

An error carried to the batch record (and so to `GET /batches/{id}`) is one short line: the
error's type and message, never a traceback or a server path (`describe_failure`).
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import costs, metrics
from chalicelib.contracts import (
    BatchState,
    BatchStatus,
    Caught,
    ChunkOutcome,
    ChunkRef,
    ChunkTask,
    Completion,
    PrepareStatus,
    Problem,
    Recorded,
    SourceFile,
)
from chalicelib.contracts.completion import Counts
from chalicelib.costs import Requests, lambda_gb_seconds
from chalicelib.log import get_logger, mask_emails, one_line
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.deadletter import DeadLetterUnavailable
from chalicelib.pipeline.inflight import in_order
from chalicelib.pipeline.report import ReportWriter, extra_columns
from chalicelib.pipeline.transitions import states_entered

__all__ = ["describe_exception", "describe_failure", "record_batch"]

log = get_logger("finish")
_MAX_CAUSE = 1000  # a batch's error message (several chunks' failures, each one line)
_MAX_LINE = 300  # one failure's description
# What follows the receipt, which it cannot meter: the record's end written (a small item)
# and the completion event put.
_STILL_TO_COME = {"dynamodb_write_units": 1, "eventbridge_events": 1}


@dataclass(slots=True)
class _Ending:
    """How the batch ended, before it is recorded."""

    status: BatchStatus
    error: Problem | None = None
    counts: Counts = field(default_factory=Counts)
    report: dict[str, str] | None = None


def record_batch(
    state: BatchState,
    *,
    chunks: ChunkStore,
    batches: BatchRecords,
    reprocess: Callable[[ChunkTask], ChunkOutcome],
    publish: Callable[[Completion], None],
    requests: Requests | None = None,
    context: Any = None,
) -> Recorded:
    """Records the batch, writes its rejection report, publishes its completion event; returns
    the batch's status and counts. `requests` is the invocation's meter; `context` the Lambda
    context (its memory prices the run)."""
    started = time.monotonic()
    own = requests if requests is not None else Requests()
    spent = Requests().add(state.prepared.requests if state.prepared else None)
    ending = _ending(state, chunks, reprocess, spent)
    seconds = None if state.dry_run else _seconds_since_start(batches, state)
    run = lambda_gb_seconds(time.monotonic() - started, context)
    receipt = _receipt(state, ending, spent, own, run)
    batches.finish(
        state.sender, state.batch_id, status=ending.status, counts=ending.counts,
        error=ending.error.to_dict() if ending.error else None, report=ending.report,
        receipt=receipt,
    )  # fmt: skip
    log.info(
        "batch recorded",
        extra={"sender": state.sender, "batch_id": state.batch_id, "status": ending.status,
               **ending.counts.to_dict()},
    )  # fmt: skip
    publish(_completion(state, ending, receipt))
    if not state.dry_run:  # a dry run stored nothing: its "stored" must not count as stored
        metrics.batch_recorded(
            ending.status, ending.counts.to_dict(), seconds=seconds, batch_id=state.batch_id,
            sender=state.sender,
        )  # fmt: skip
    counts = ending.counts
    return Recorded(state.batch_id, ending.status, counts.total, counts.stored, counts.rejected)


def _ending(
    state: BatchState,
    chunks: ChunkStore,
    reprocess: Callable[[ChunkTask], ChunkOutcome],
    spent: Requests,
) -> _Ending:
    """How the batch ended, from PrepareFile's outcome and, for a ready file, every chunk's
    (whose requests are added to `spent`)."""
    prepared = state.prepared
    if prepared is None:
        return _Ending(BatchStatus.FAILED, _step_error("pipeline.prepare_failed", state.error))
    if prepared.status is PrepareStatus.QUARANTINED:
        return _Ending(BatchStatus.QUARANTINED, prepared.error)
    if prepared.status is not PrepareStatus.READY:
        return _Ending(BatchStatus.FAILED, prepared.error)
    tally = _count_chunks(state, chunks, reprocess)
    spent.add(tally.requests)
    ending = _Ending(tally.status, tally.error, tally.counts)
    if tally.rejecting:
        ending.report = _write_report(chunks, tally.rejecting, tally.columns)
    return ending


def _receipt(
    state: BatchState, ending: _Ending, spent: Requests, own: Requests, gb_seconds: float
) -> dict[str, Any]:
    """The batch's receipt: what PrepareFile and the chunks spent, RecordBatch's own requests
    and run, what is still to come, and the transitions of the execution's path."""
    total = Requests().add(spent).add(own).add(_STILL_TO_COME)
    total.add({"lambda_invocations": 1, "lambda_gb_seconds": gb_seconds})
    total.sfn_state_transitions += transitions(state, ending.status)
    return costs.receipt(total)


def transitions(state: BatchState, status: BatchStatus) -> int:
    """The top-level states this execution enters, from its start to the end `status` leads
    to, counted from the definition (`pipeline.transitions`)."""
    values = {"$.batch.status": str(status)}
    if state.prepared is not None:
        values["$.prepared.status"] = str(state.prepared.status)
    caught = {"PrepareFile"} if state.prepared is None else set()
    if state.record_error is not None:
        caught.add("RecordBatch")
    return states_entered(values, frozenset(caught))


def _completion(state: BatchState, ending: _Ending, receipt: dict[str, Any]) -> Completion:
    return Completion(
        sender=state.sender,
        batch_id=state.batch_id,
        file=SourceFile(state.bucket, state.key),
        status=ending.status,
        counts=ending.counts,
        error=ending.error,
        report=ending.report,
        dry_run=state.dry_run,
        receipt=receipt,
    )


def _seconds_since_start(batches: BatchRecords, state: BatchState) -> float | None:
    """How long the batch took, from PrepareFile's start (`started_at`) to now; None when the
    record cannot tell (a metric, never a reason to fail the step)."""
    try:
        started = (batches.get(state.sender, state.batch_id) or {}).get("started_at")
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
    for outcome in in_order(chunks.read_result, rejecting):
        for rejection in outcome.rejections if outcome else ():
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
    def status(self) -> BatchStatus:
        return BatchStatus.FAILED if self.failures else BatchStatus.SUCCEEDED

    @property
    def error(self) -> Problem | None:
        if not self.failures:
            return None
        message = f"{self.counts.unprocessed} order(s) could not be processed; " + "; ".join(
            self.failures
        )
        return Problem("pipeline.chunks_unprocessed", _short(message))

    def count(self, ref: ChunkRef, outcome: ChunkOutcome) -> None:
        self.counts.add(outcome.counts())
        self.requests.add(outcome.requests)
        if outcome.rejected:
            self.rejecting.append(ref.index)
            for name in extra_columns(r.order for r in outcome.rejections):
                self.columns.setdefault(name)

    def unprocessed(self, ref: ChunkRef, problem: BaseException) -> None:
        self.failures.append(f"chunk {ref.index}: {describe_exception(problem)}")
        self.counts.total += ref.count
        self.counts.unprocessed += ref.count


def _count_chunks(
    state: BatchState, chunks: ChunkStore, reprocess: Callable[[ChunkTask], ChunkOutcome]
) -> _Tally:
    """Counts every chunk of the manifest, processing again a chunk without an outcome."""
    tally = _Tally()
    refs = chunks.read_manifest()
    outcomes = in_order(lambda ref: chunks.read_result(ref.index), refs)  # 8 reads at once
    for ref, outcome in zip(refs, outcomes, strict=True):
        if outcome is None:
            task = ChunkTask(
                sender=state.sender, batch_id=state.batch_id, bucket=state.bucket,
                key=state.key, chunk=ref, dry_run=state.dry_run,
            )  # fmt: skip
            try:
                outcome = reprocess(task)
            except Exception as problem:  # any failure leaves the chunk unprocessed, but:
                if isinstance(problem, DeadLetterUnavailable) and state.record_error is None:
                    raise  # transient: Step Functions retries RecordBatch; its last call records
                tally.unprocessed(ref, problem)
                continue
            log.warning("chunk reprocessed", extra={"batch_id": task.batch_id, "chunk": ref.index})
        tally.count(ref, outcome)
    return tally


def _step_error(code: str, caught: Caught | None) -> Problem:
    if caught is not None:
        message = describe_failure(caught.Error or "Error", caught.Cause)
    else:
        message = "the step failed without an error description"
    return Problem(code, _short(message))


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


def _cap(line: str) -> str:
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


def _short(text: str) -> str:
    text = mask_emails(text)
    return text if len(text) <= _MAX_CAUSE else text[: _MAX_CAUSE - 1] + "…"
