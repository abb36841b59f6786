"""RecordBatch: count every chunk's outcome and record how the batch ended.

A Distributed Map is not trusted to report its children's failures (moto's never does, and a
child that timed out leaves no outcome on AWS either), so every chunk of the manifest is looked
up: a chunk without an outcome is processed again here, which stores nothing twice. Only a chunk
that fails again is left `unprocessed`, and then the batch is `failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.log import get_logger, mask_emails
from chalicelib.pipeline.batches import FAILED, QUARANTINED, SUCCEEDED, BatchRecords, Counts
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.process import ChunkTask

log = get_logger("finish")
_MAX_CAUSE = 1000


def record_batch(
    state: dict[str, Any],
    *,
    chunks: ChunkStore,
    batches: BatchRecords,
    reprocess: Callable[[ChunkTask], dict[str, Any]],
) -> dict[str, Any]:
    """`state` is the execution's state; returns the batch's status and counts."""
    batch_id: str = state["batch_id"]
    prepared: dict[str, Any] | None = state.get("prepared")
    counts = Counts()
    error: dict[str, Any] | None = None
    if prepared is None:
        status, error = FAILED, _step_error("pipeline.prepare_failed", state.get("error"))
    elif prepared["status"] == "quarantined":
        status, error = QUARANTINED, prepared["error"]
    elif prepared["status"] != "ready":
        status, error = FAILED, prepared["error"]
    else:
        status, error = _count_chunks(state, chunks, counts, reprocess)
    batches.finish(batch_id, status=status, counts=counts, error=error)
    log.info("batch recorded", extra={"batch_id": batch_id, "status": status, **counts.to_dict()})
    return {
        "batch_id": batch_id,
        "status": status,
        "total": counts.total,
        "stored": counts.stored,
        "rejected": counts.rejected,
    }


def _count_chunks(
    state: dict[str, Any],
    chunks: ChunkStore,
    counts: Counts,
    reprocess: Callable[[ChunkTask], dict[str, Any]],
) -> tuple[str, dict[str, Any] | None]:
    failures: list[str] = []
    for ref in chunks.read_manifest():
        result = chunks.read_result(ref.index)
        if result is None:
            task = ChunkTask(state["batch_id"], state["bucket"], state["key"], ref.index, ref.key)
            try:
                result = reprocess(task)
            except Exception as problem:  # noqa: BLE001 - any failure leaves the chunk unprocessed
                failures.append(f"chunk {ref.index}: {type(problem).__name__}: {problem}")
                counts.total += ref.count
                counts.unprocessed += ref.count
                continue
            log.warning("chunk reprocessed", extra={"batch_id": task.batch_id, "chunk": ref.index})
        counts.add(result)
    if failures:
        message = f"{counts.unprocessed} order(s) could not be processed; " + "; ".join(failures)
        return FAILED, {"code": "pipeline.chunks_unprocessed", "message": _short(message)}
    return SUCCEEDED, None


def _step_error(code: str, caught: Any) -> dict[str, Any]:
    if isinstance(caught, dict):
        message = f"{caught.get('Error', 'Error')}: {caught.get('Cause', '')}"
    else:
        message = "the step failed without an error description"
    return {"code": code, "message": _short(message)}


def _short(text: str) -> str:
    text = mask_emails(text)
    return text if len(text) <= _MAX_CAUSE else text[: _MAX_CAUSE - 1] + "…"
