"""The functions' own CPU, measured with every AWS answer stubbed (no network, no emulator).

The app's own handlers (ValidateOrder, RecordBatch, ReviewDeadLetters, with their wiring and
writers) run on generated files' chunks, outcomes and rejection groups while `StubbedAWS`
answers every request at once: their CPU is then the function's own and boto3's client side,
on one core of this machine, the least of `REPEATS` runs (the machine is shared: the least is
the function's own). PrepareFile's streaming and chunking is timed directly.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capacity.stub import StubbedAWS
from bench.capacity.workload import fit_line

REPEATS = 3  # each stubbed measurement is taken this often, and the least kept
# Each file's chunks: (the chunk's key, its orders, its JSON body).
ChunkFiles = list[list[tuple[str, int, bytes]]]


@dataclass(slots=True)
class CpuMeasure:
    bytes_per_order: float
    prepare_cpu_per_order: float
    validate_cpu_per_order: float
    validate_cpu_per_chunk: float
    puts_per_order: float
    requests_per_chunk: dict[str, float]
    client_cpu_per_put: float
    record_cpu_per_chunk: float
    record_cpu_per_file: float
    reviewer_cpu_per_rejection: float
    reviewer_requests_per_group: dict[str, float]
    reviews_wcu_per_rejection: float


@dataclass(slots=True)
class _App:
    """The app's handlers, run against the stub."""

    stub: StubbedAWS
    handlers: Mapping[str, Any]
    settings: Any

    def timed(self, name: str, event: Any, repeats: int = REPEATS) -> float:
        """The least CPU of `repeats` runs of the handler on the event."""
        from orderflow_cli.emulator.lambdas import LambdaContext

        best = math.inf
        for _ in range(repeats):
            started = time.process_time()
            self.handlers[name](event, LambdaContext(function_name=name))
            best = min(best, time.process_time() - started)
        return best


@dataclass(slots=True)
class _Review:
    """The DLQ reviewer's run over the rejection groups ValidateOrder sent."""

    seconds: float
    rejected: int
    groups: int
    calls: dict[str, float]  # requests of one run over every group
    units: float  # the reviews table's write units of one run

    def per_group(self) -> dict[str, float]:
        groups = max(self.groups, 1)
        reads = self.calls.get("GetItem", 0) + self.calls.get("Query", 0)
        writes = ("GetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems")
        return {
            "s3_put": self.calls.get("PutObject", 0) / groups,
            "s3_get": self.calls.get("GetObject", 0) / groups,
            "dynamodb_reads": reads / groups,
            "dynamodb": sum(self.calls.get(name, 0) for name in writes) / groups,
        }


def measure_cpu(
    paths: Sequence[Path], chunk_orders: int, reviewer_batch: int = 10, writers: int = 1
) -> CpuMeasure:
    """The functions as deployed (the app's own handlers, their wiring, their writers) with
    every AWS answer stubbed, their CPU on one core of this machine, boto3's client side
    included: ValidateOrder on every chunk of the files (per order and per chunk), RecordBatch
    on each file's outcomes (per chunk and per file), the DLQ reviewer on the rejection groups
    ValidateOrder sent (per group); PrepareFile's streaming and chunking per order; and one
    PutItem's client side alone."""
    files, prepare_cpu, orders = _cut_files(paths, chunk_orders)
    with _stubbed_app(files, chunk_orders, writers) as app:
        points, validate_calls = _measure_validate(app, files)
        record_points = _measure_record(app, files)
        review = _measure_reviewer(app, reviewer_batch)
        client_cpu = _client_cpu_per_put()
    intercept, slope = fit_line(points)
    record_intercept, record_slope = fit_line(record_points)
    all_chunks = sum(len(chunks) for chunks in files)
    return CpuMeasure(
        bytes_per_order=sum(len(body) for chunks in files for _, _, body in chunks) / orders,
        prepare_cpu_per_order=prepare_cpu / orders,
        validate_cpu_per_order=slope,
        validate_cpu_per_chunk=max(0.0, intercept),
        puts_per_order=validate_calls.get("PutItem", 0) / orders,
        requests_per_chunk={
            name: validate_calls.get(name, 0) / all_chunks
            for name in ("GetObject", "PutObject", "SendMessageBatch", "UpdateItem")
        },
        client_cpu_per_put=client_cpu,
        record_cpu_per_chunk=max(0.0, record_slope),
        record_cpu_per_file=max(0.0, record_intercept),
        reviewer_cpu_per_rejection=review.seconds / max(review.rejected, 1),
        reviewer_requests_per_group=review.per_group(),
        reviews_wcu_per_rejection=review.units / max(review.rejected, 1),
    )


def _cut_files(paths: Sequence[Path], chunk_orders: int) -> tuple[ChunkFiles, float, int]:
    """Each file cut into chunks as PrepareFile cuts it, the least CPU of that per file
    summed, and the orders."""
    from chalicelib.orders.readers import read_records
    from chalicelib.pipeline.chunks import cut

    files: ChunkFiles = []
    prepare_cpu = 0.0
    orders = 0
    for number, path in enumerate(paths):
        best = math.inf
        for _ in range(REPEATS):
            started = time.process_time()
            with path.open("rb") as body:
                pieces = list(cut(read_records(body, path.name), chunk_orders, 10**9))
            best = min(best, time.process_time() - started)
        prepare_cpu += best
        chunks = []
        for index, encoded in enumerate(pieces):
            head = f'{{"batch_id": "capacity-{number}", "index": {index}, "records": ['
            body_bytes = (head + ",".join(encoded) + "]}").encode()
            chunks.append((f"/capacity/{number}/chunks/{index:06d}.json", len(encoded), body_bytes))
            orders += len(encoded)
        files.append(chunks)
    return files, prepare_cpu, orders


def _environment(chunk_orders: int, writers: int) -> dict[str, str]:
    """The local stage's environment, with the design's chunk size and writers."""
    from orderflow_cli.emulator.runtime import ACCOUNT
    from orderflow_cli.stage import REGION, stage_environment

    return {
        "AWS_ACCESS_KEY_ID": "stub",
        "AWS_SECRET_ACCESS_KEY": "stub",
        "AWS_DEFAULT_REGION": REGION,
        **{
            name: value.replace("{account}", ACCOUNT).replace("{region}", REGION)
            for name, value in stage_environment("local").items()
        },
        "CHUNK_MAX_ORDERS": str(chunk_orders),
        "STORE_WRITERS": str(writers),
    }


@contextmanager
def _stubbed_app(files: ChunkFiles, chunk_orders: int, writers: int) -> Iterator[_App]:
    """The app's handlers in this process with every AWS answer stubbed (the files' chunks
    stored in the stub); the environment, boto3's session and the clients restored after."""
    import importlib
    import os

    import boto3

    from chalicelib import aws, metrics
    from chalicelib.settings import get_settings
    from orderflow_cli.emulator.lambdas import app_functions
    from orderflow_cli.stage import REGION

    environment = _environment(chunk_orders, writers)
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    get_settings.cache_clear()
    stub = StubbedAWS({key: body for chunks in files for key, _, body in chunks})
    boto3.setup_default_session(region_name=REGION)
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-send", stub)
    aws.reset()
    previous = metrics.set_output(lambda _line: None)
    try:
        yield _App(stub, app_functions(importlib.import_module("app")), get_settings())
    finally:
        metrics.set_output(previous)
        boto3.DEFAULT_SESSION = None
        aws.reset()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def _chunk_event(number: int, index: int, key: str, count: int) -> dict[str, Any]:
    return {
        "sender": "capacity", "batch_id": f"capacity-{number}", "bucket": "capacity",
        "key": "incoming/capacity/file.csv.gz", "dry_run": False,
        "chunk": {"index": index, "key": key, "count": count},
    }  # fmt: skip


def _measure_validate(
    app: _App, files: ChunkFiles
) -> tuple[list[tuple[float, float]], dict[str, float]]:
    """ValidateOrder's CPU on each chunk (orders, seconds), and its requests of one run."""
    key, count, _ = files[0][0]
    app.timed("ValidateOrder", _chunk_event(0, 0, key, count), 1)  # imports and clients
    app.stub.calls.clear()
    app.stub.sent.clear()
    points: list[tuple[float, float]] = []
    for number, chunks in enumerate(files):
        for index, (key, count, _) in enumerate(chunks):
            seconds = app.timed("ValidateOrder", _chunk_event(number, index, key, count))
            points.append((float(count), seconds))
    return points, {name: n / REPEATS for name, n in app.stub.calls.items()}


def _measure_record(app: _App, files: ChunkFiles) -> list[tuple[float, float]]:
    """RecordBatch's CPU on each file's outcomes (chunks, seconds)."""
    from chalicelib import wiring

    points: list[tuple[float, float]] = []
    for number, chunks in enumerate(files):
        keys = wiring.batch_keys(app.settings, "capacity", f"capacity-{number}")
        manifest = [{"index": i, "key": k, "count": n} for i, (k, n, _) in enumerate(chunks)]
        app.stub.objects[keys.manifest] = json.dumps(manifest).encode()
        state = {
            "sender": "capacity", "batch_id": f"capacity-{number}", "bucket": "capacity",
            "key": "incoming/capacity/file.csv.gz",
            "prepared": {"status": "ready", "manifest_key": keys.manifest,
                         "chunks": len(chunks), "total": sum(n for _, n, _ in chunks),
                         "error": None, "dry_run": False, "requests": {}},
        }  # fmt: skip
        points.append((float(len(chunks)), app.timed("RecordBatch", state)))
    return points


def _measure_reviewer(app: _App, reviewer_batch: int) -> _Review:
    """The DLQ reviewer on the rejection groups ValidateOrder sent, in batches of the event
    source mapping's size."""
    from orderflow_cli.emulator.event_sources import sqs_record
    from orderflow_cli.emulator.runtime import ACCOUNT
    from orderflow_cli.stage import REGION

    stub = app.stub
    from chalicelib.contracts import DeadLetterMessage

    messages = [DeadLetterMessage.from_json(body) for body in stub.sent]
    unique = {m.message_id: (m, body) for m, body in zip(messages, stub.sent, strict=True)}
    groups = [body for _, body in unique.values()]  # repeats: once
    rejected = sum(len(m.rejections) for m, _ in unique.values())
    before_calls = dict(stub.calls)
    before_units = dict(stub.write_units)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{app.settings.dlq_url.rsplit('/', 1)[-1]}"
    seconds = 0.0
    for first in range(0, len(groups), reviewer_batch):
        records = [
            sqs_record(
                {
                    "MessageId": f"m-{first + i}",
                    "ReceiptHandle": f"r-{first + i}",
                    "Body": body,
                    "Attributes": {"ApproximateReceiveCount": "1"},
                },
                arn,
            )
            for i, body in enumerate(groups[first : first + reviewer_batch])
        ]
        seconds += app.timed("ReviewDeadLetters", {"Records": records})
    calls = {n: (c - before_calls.get(n, 0)) / REPEATS for n, c in stub.calls.items()}
    table = app.settings.reviews_table
    units = (stub.write_units.get(table, 0) - before_units.get(table, 0)) / REPEATS
    return _Review(seconds, rejected, len(groups), calls, units)


def _client_cpu_per_put() -> float:
    """boto3's client side of one conditional PutItem of an order, the answer stubbed."""
    from chalicelib import aws

    client = aws.order_writes()
    item: dict[str, Any] = {
        "sender": {"S": "capacity#17"}, "OrderId": {"S": "K-00000001"},
        "order-info": {"M": {"OrderId": {"S": "K-00000001"}, "qty": {"N": "3"},
                             "item-id": {"S": "101"}, "item-desc": {"S": "Item 1, boxed"}}},
        "contact-info": {"M": {"name": {"S": "Customer 1"},
                               "email": {"S": "customer1@example.com"}}},
        "content_hash": {"S": "0" * 64}, "batch_id": {"S": "capacity"},
        "source_row": {"N": "2"},
    }  # fmt: skip
    for _ in range(100):
        client.put_item(TableName="capacity", Item=item)
    started = time.process_time()
    for _ in range(1_000):
        client.put_item(
            TableName="capacity", Item=item, ConditionExpression="attribute_not_exists(OrderId)"
        )
    return (time.process_time() - started) / 1_000
