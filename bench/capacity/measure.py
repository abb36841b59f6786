"""The design's own numbers, measured: a local run on the embedded emulator, then the CPU.

Three generated files (10% invalid) go through the whole path on the embedded emulator, one
after the other as `orders run` takes each: each batch's cost receipt, from which the requests
per order, per chunk and per file are fitted, and the run's times for the check of the model
against it. Then the functions' CPU with every AWS answer stubbed (`cpu.py`). `--receipt`
reuses a saved measurement or takes receipts instead of the local run.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capacity.cpu import CpuMeasure, measure_cpu
from bench.capacity.design import Design
from bench.capacity.limits import EMULATOR_MAP_CONCURRENCY, INVALID
from bench.capacity.workload import LocalRun, Measured, Observation, RequestRates, fit_requests

CSV_COLUMNS = "OrderId,item-id,item-desc,qty,name,email\n"


def generate_orders(path: Path, count: int, invalid: float = INVALID, prefix: str = "K") -> int:
    """A gzip CSV of `count` orders (the columns of bench/scale.py), exactly the fraction
    `invalid` of them invalid (qty 0) and spread evenly; returns how many are invalid."""
    bad_orders = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        out.write(CSV_COLUMNS)
        for i in range(count):
            bad = math.floor((i + 1) * invalid + 1e-9) > math.floor(i * invalid + 1e-9)
            bad_orders += bad
            qty = "0" if bad else str(1 + i % 9)
            out.write(
                f'{prefix}-{i:08d},{100 + i % 900},"Item {i % 97}, boxed",{qty},'
                f"Customer {i},customer{i}@example.com\n"
            )
    return bad_orders


def local_file_sizes(chunk_orders: int) -> list[int]:
    """Three files whose (files, chunks, orders) are independent, so that a receipt's counts
    can be split into per file, per chunk and per order: 2.5, 1.5 and 1 chunks."""
    return [chunk_orders * 5 // 2, chunk_orders * 3 // 2, chunk_orders]


@dataclass(slots=True)
class RunMeasure:
    observations: list[Observation]
    local: LocalRun
    problems: list[str]


def measure_local_run(paths: Sequence[Path], chunk_orders: int, design: Design) -> RunMeasure:
    """The files through the whole path on the embedded emulator, one after the other, as
    `orders run` takes each (the DLQ reviewer included): each batch's receipt and every
    function's time; then, in the same emulator, what one put, S3 request and SQS batch cost."""
    from orderflow_cli.emulator import runtime
    from orderflow_cli.run import process

    overrides = (
        {"CHUNK_MAX_ORDERS": str(chunk_orders)} if chunk_orders != design.chunk_max_orders else {}
    )
    with runtime.EmbeddedAWS(overrides, poll_dead_letters=True) as local:
        assert local.lambdas is not None
        lambdas = local.lambdas
        overhead = _file_overhead(local, Path(paths[0]).with_name("capacity-small.csv.gz"))
        busy_before = dict(lambdas.busy_seconds)
        started, cpu_started = time.perf_counter(), time.process_time()
        outcomes = [outcome for path in paths for outcome in process(local, [path], progress=None)]
        wall = time.perf_counter() - started
        process_cpu = time.process_time() - cpu_started
        observations, problems = _observations(local, outcomes)
        busy = {
            name: seconds - busy_before.get(name, 0.0)
            for name, seconds in lambdas.busy_seconds.items()
        }
        request_costs = _emulator_request_costs(local, chunk_orders)
    return RunMeasure(
        observations=observations,
        local=LocalRun(
            orders=sum(o.orders for o in observations),
            chunks=sum(o.chunks for o in observations),
            files=len(observations),
            wall_seconds=wall,
            busy_seconds={name: round(value, 4) for name, value in busy.items()},
            map_concurrency=int(getattr(runtime, "MAP_CONCURRENCY", EMULATOR_MAP_CONCURRENCY)),
            chunk_orders=chunk_orders,
            file_overhead_seconds=max(0.0, overhead),
            process_cpu_seconds=process_cpu,
            execution_seconds=sum(outcome.seconds for outcome in outcomes),
            **request_costs,
        ),
        problems=problems,
    )


def _file_overhead(local: Any, small: Path) -> float:
    """An execution's time beyond its functions' CPU: a 20-order file's, taken twice (the
    first warms the process up; the second is kept)."""
    from orderflow_cli.run import process

    lambdas = local.lambdas
    path_functions = ("PrepareFile", "ValidateOrder", "RecordBatch")
    overhead = 0.0
    for number in range(2):
        generate_orders(small, 20, INVALID, prefix=f"S{number}")
        before = {name: lambdas.busy_seconds.get(name, 0.0) for name in path_functions}
        (small_outcome,) = process(local, [small], progress=None)
        spent = sum(lambdas.busy_seconds.get(n, 0.0) - before[n] for n in path_functions)
        overhead = small_outcome.seconds - spent
    return overhead


def _observations(local: Any, outcomes: Sequence[Any]) -> tuple[list[Observation], list[str]]:
    """Each batch's receipt with its orders and chunks, and what went wrong."""
    problems: list[str] = []
    observations: list[Observation] = []
    records = local.batches()
    for outcome in outcomes:
        record = records.get(outcome.sender, outcome.batch_id) or {}
        if outcome.status != "succeeded" or outcome.ended.get("unaccounted"):
            problems.append(f"{outcome.file}: {outcome.status}, {outcome.ended}")
        requests = (outcome.receipt or {}).get("requests", {})
        observations.append(Observation(outcome.total, int(record.get("chunks", 0)), requests))
    return observations, problems


def _emulator_request_costs(local: Any, chunk_orders: int) -> dict[str, float]:
    """What one request costs in this emulator, this process: a conditional put into a table
    of the orders table's shape, a chunk-sized S3 PUT and GET, a SendMessageBatch."""
    return {
        "put_seconds": _put_seconds(local),
        **_s3_seconds(local, chunk_orders),
        "sqs_seconds": _sqs_seconds(),
    }


def _put_seconds(local: Any) -> float:
    from chalicelib import aws

    dynamodb = aws.order_writes()
    table = local.settings.orders_table
    schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    names = [key["AttributeName"] for key in schema]
    stored = dynamodb.scan(TableName=table, Limit=1).get("Items", [])
    sample: dict[str, Any] = dict(stored[0]) if stored else {"qty": {"N": "3"}}

    def item(i: int) -> dict[str, Any]:  # a stored order under a new key
        return {**sample, **{name: {"S": f"capacity-probe-{i}-{name}"} for name in names}}

    for i in range(50):
        dynamodb.put_item(TableName=table, Item=item(i))
    started = time.perf_counter()
    puts = 300
    for i in range(50, 50 + puts):
        dynamodb.put_item(
            TableName=table,
            Item=item(i),
            ConditionExpression=f"attribute_not_exists({names[0]})",
        )
    return (time.perf_counter() - started) / puts


def _s3_seconds(local: Any, chunk_orders: int) -> dict[str, float]:
    from chalicelib import aws

    s3, bucket = aws.s3(), local.settings.bucket
    body = b"x" * (chunk_orders * 200)
    started = time.perf_counter()
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"capacity-probe/{i}", Body=body)
    s3_put = (time.perf_counter() - started) / 20
    started = time.perf_counter()
    for i in range(20):
        s3.get_object(Bucket=bucket, Key=f"capacity-probe/{i}")["Body"].read()
    s3_get = (time.perf_counter() - started) / 20
    return {"s3_put_seconds": s3_put, "s3_get_seconds": s3_get}


def _sqs_seconds() -> float:
    from chalicelib import aws

    sqs = aws.sqs()
    url = sqs.create_queue(QueueName="capacity-probe")["QueueUrl"]
    message = "x" * 40_000
    started = time.perf_counter()
    for i in range(20):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": message}])
    return (time.perf_counter() - started) / 20


def measure(design: Design, orders: int) -> Measured:
    """The design's own numbers from a local run of about `orders` orders (three files) and
    from the functions run again with every AWS answer stubbed."""
    chunk_orders = design.chunk_max_orders
    notes: list[str] = []
    if os.environ.get("ORDERFLOW_WEATHER"):
        notes.append(
            f"the local run ran in ORDERFLOW_WEATHER={os.environ['ORDERFLOW_WEATHER']}: its"
            " throttles and latency are in the measured time, not in the model's check"
        )
    if 5 * chunk_orders > orders:
        chunk_orders = max(10, orders // 5)
        notes.append(
            f"the local run cut chunks of {chunk_orders:,} orders (CHUNK_MAX_ORDERS"
            f" {design.chunk_max_orders:,} would make {5 * design.chunk_max_orders:,} orders)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        paths = _generated_files(Path(tmp), chunk_orders)
        run = measure_local_run(paths, chunk_orders, design)
        cpu = measure_cpu(paths, chunk_orders, design.reviewer_batch_size, design.store_writers)
    notes.extend(run.problems)
    return _measured(fit_requests(run.observations), cpu, run.local, notes)


def _generated_files(directory: Path, chunk_orders: int) -> list[Path]:
    paths = []
    for number, size in enumerate(local_file_sizes(chunk_orders)):
        path = directory / f"capacity-{number}.csv.gz"
        generate_orders(path, size, INVALID, prefix=f"K{number}")
        paths.append(path)
    return paths


def _measured(
    rates: RequestRates, cpu: CpuMeasure, local: LocalRun | None, notes: Sequence[str]
) -> Measured:
    write_units = rates.per_order.get("dynamodb_write_units", 0.0)
    reviewer = cpu.reviewer_requests_per_group
    return Measured(
        rates=rates,
        invalid_fraction=INVALID,
        bytes_per_order=cpu.bytes_per_order,
        puts_per_order=cpu.puts_per_order,
        wcu_per_put=write_units / cpu.puts_per_order if cpu.puts_per_order else 1.0,
        validate_cpu_per_order=cpu.validate_cpu_per_order,
        validate_cpu_per_chunk=cpu.validate_cpu_per_chunk,
        validate_requests_per_chunk=cpu.requests_per_chunk,
        client_cpu_per_put=cpu.client_cpu_per_put,
        prepare_cpu_per_order=cpu.prepare_cpu_per_order,
        record_cpu_per_chunk=cpu.record_cpu_per_chunk,
        record_cpu_per_file=cpu.record_cpu_per_file,
        reviewer_cpu_per_rejection=cpu.reviewer_cpu_per_rejection,
        reviewer_s3_per_group=reviewer.get("s3_put", 0.0) + reviewer.get("s3_get", 0.0),
        reviewer_dynamodb_per_group=reviewer.get("dynamodb", 0.0),
        reviews_wcu_per_rejection=cpu.reviews_wcu_per_rejection,
        reviewer_requests_per_group=reviewer,
        local=local,
        notes=tuple(notes),
    )


def measured_from_receipt(path: Path, design: Design) -> Measured:
    """A saved measurement (`--save`), or receipts: an `orders run --json` document (its
    batches' `total` and `receipt`), a batch record (`total`, `chunks`, `receipt`) or a list
    of them. Receipts carry counts only: the CPU figures are measured again with AWS stubbed
    (no emulator), and there is no local run to check the model against."""
    document = json.loads(path.read_text())
    if isinstance(document, dict) and "measured" in document:
        return Measured.from_json(document["measured"])
    batches = document.get("batches", [document]) if isinstance(document, dict) else document
    observations = []
    for batch in batches:
        total = int(batch.get("total", 0))
        requests = (batch.get("receipt") or {}).get("requests")
        if not total or not requests:
            continue
        chunks = int(batch.get("chunks") or math.ceil(total / design.chunk_max_orders))
        observations.append(Observation(total, chunks, requests))
    if not observations:
        raise SystemExit(f"{path}: no batch with a total and a receipt")
    chunk_orders = min(design.chunk_max_orders, 1_000)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _generated_files(Path(tmp), chunk_orders)
        cpu = measure_cpu(paths, chunk_orders, design.reviewer_batch_size, design.store_writers)
    notes = [f"requests from {path} ({len(observations)} batches); no local run to check"]
    if len(observations) < 3:
        notes.append("fewer than three batches: the per-file and per-chunk terms may be folded in")
    return _measured(fit_requests(observations), cpu, None, notes)
