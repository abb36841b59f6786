"""orderflow's Lambda handlers: each turns its event into plain values and calls chalicelib."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice, S3Event

from chalicelib import aws, log, wiring
from chalicelib.pipeline.finish import record_batch
from chalicelib.pipeline.prepare import Source, prepare_file
from chalicelib.pipeline.process import ChunkTask, process_chunk
from chalicelib.pipeline.trigger import source_for, start_ingest
from chalicelib.settings import get_settings

app = Chalice(app_name="orderflow", configure_logs=False)  # chalicelib.log configures JSON logs

# Decorators need these names at import time; the stage's config.json sets them.
_BUCKET = os.environ.get("BUCKET_NAME", "orderflow-dev-orders")
_INCOMING_PREFIX = os.environ.get("INCOMING_PREFIX", "incoming/")


def _setup() -> None:
    settings = get_settings()
    log.configure(settings.stage, settings.log_level)


@app.on_s3_event(bucket=_BUCKET, prefix=_INCOMING_PREFIX, events=["s3:ObjectCreated:*"])
def on_file_uploaded(event: S3Event) -> None:
    """An order file arrived: start its ingest execution (a duplicate event is a no-op)."""
    _setup()
    record = event.to_dict()["Records"][0]["s3"]["object"]
    version = record.get("versionId") or record.get("eTag")
    start_ingest(
        aws.sfn(), get_settings().state_machine_arn, source_for(event.bucket, event.key, version)
    )


@app.lambda_function(name="PrepareFile")
def prepare_file_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    settings = get_settings()
    source = Source.from_event(event)
    return prepare_file(
        source,
        s3=aws.s3(),
        chunks=wiring.chunk_store(settings, source.batch_id),
        batches=wiring.batch_records(settings),
        settings=settings,
    )


@app.lambda_function(name="ValidateOrder")
def validate_order_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    result = _process(ChunkTask.from_event(event))
    return {"index": result["index"], "status": result["status"]}


@app.lambda_function(name="RecordBatch")
def record_batch_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    settings = get_settings()
    return record_batch(
        event,
        chunks=wiring.chunk_store(settings, event["batch_id"]),
        batches=wiring.batch_records(settings),
        reprocess=_process,
    )


def _process(task: ChunkTask) -> dict[str, Any]:
    settings = get_settings()
    return process_chunk(
        task,
        chunks=wiring.chunk_store(settings, task.batch_id),
        store=wiring.order_store(settings),
        dlq=wiring.dead_letter_queue(settings),
        batches=wiring.batch_records(settings),
    )
