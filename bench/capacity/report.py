"""The report: the design, its measured numbers, AWS's figures, the check against the local
run, the predictions, the aims, and what each table key, prefix and quota sees."""

from __future__ import annotations

from collections.abc import Sequence

from bench.capacity.check import Aim, local_prediction
from bench.capacity.design import Design
from bench.capacity.limits import (
    EVENTBRIDGE_PUT_EVENTS_PER_SECOND,
    LAMBDA_MB_PER_VCPU,
    LAMBDA_SCALE_ENVIRONMENTS,
    LAMBDA_SCALE_SECONDS,
    MAP_CHILD_START_RATE,
    MAP_MAX_CHILDREN,
    MAP_OPEN_RUNS,
    NEW_ON_DEMAND_WCU,
    PARTITION_WCU,
    S3_GET_PER_PREFIX,
    S3_PUT_PER_PREFIX,
    WARM_WCU,
    Platform,
)
from bench.capacity.partitions import partitions_for, usable_fraction
from bench.capacity.predict import NO_BINDING, Prediction, at_a_time, reviewer_cost_per_million
from bench.capacity.stages import effective_chunk_orders, vcpu_share
from bench.capacity.units import duration, micros
from bench.capacity.workload import Measured


def print_design(design: Design, measured: Measured) -> None:
    print("The design, read from the repository now")
    for name, source in design.sources:
        print(f"  {name:30s} {source}")
    per_chunk = effective_chunk_orders(design, measured)
    print(
        f"  chunks of {design.chunk_max_orders:,} orders and {design.chunk_max_bytes:,} bytes:"
        f" {per_chunk:,} orders each ({measured.bytes_per_order:.0f} bytes an order);"
        f" MaxConcurrency {design.max_concurrency or MAP_MAX_CHILDREN:,};"
        f" STORE_WRITERS {design.store_writers}; ORDER_SHARDS {design.order_shards:,}"
    )
    reserved = "none" if design.validate_reserved is None else str(design.validate_reserved)
    print(
        f"  ValidateOrder {design.validate_memory_mb} MB"
        f" ({vcpu_share(design.validate_memory_mb):.2f} vCPU), reserved concurrency {reserved};"
        f" PrepareFile {design.prepare_memory_mb} MB; RecordBatch {design.record_memory_mb} MB;"
        f" ReviewDeadLetters {design.reviewer_memory_mb} MB, reserved"
        f" {design.reviewer_reserved}, batches of {design.reviewer_batch_size}"
    )
    print(
        f"  a throttled invocation is retried {design.invoke_retry_attempts} times"
        f" ({design.invoke_retry_interval:g} s, x{design.invoke_retry_backoff:g}, full jitter),"
        " then the chunk is left to RecordBatch"
    )
    if design.paced:
        print(
            "  a chunk's writers slow down when DynamoDB throttles (chalicelib/pipeline/pacing.py;"
            f" a throttled put is tried again up to {design.store_max_throttle_retries} times,"
            f" a failed one {design.store_max_retries}): the model takes the table as kept busy"
            " at its usable rate and no put as dead-lettered for a throttle"
        )
    uploads = at_a_time("uploads its chunks", design.prepare_uploads)
    reads = at_a_time("reads the outcomes", design.record_reads)
    how = ""
    if max(design.prepare_uploads, design.record_reads) > 1:
        how = ", in order (chalicelib.pipeline.inflight.in_order)"
    print(f"  PrepareFile {uploads}; RecordBatch {reads}{how}")


def print_measured(measured: Measured) -> None:
    local = measured.local
    if local is not None:
        print(
            f"\nThe design's own numbers: a local run of {local.orders:,} orders in {local.files}"
            f" files and {local.chunks} chunks of {local.chunk_orders:,}, 10% invalid,"
            f" {local.wall_seconds:.1f} s"
        )
    else:
        print("\nThe design's own numbers")
    for note in measured.notes:
        print(f"  note: {note}")
    for label, values in (
        ("per order", measured.rates.per_order),
        ("per chunk", measured.rates.per_chunk),
        ("per file", measured.rates.per_file),
    ):
        shown = ", ".join(f"{name} {value:.3g}" for name, value in values.items() if value)
        print(f"  requests {label} (fitted over the batches' receipts): {shown or '-'}")
    print(
        f"  ValidateOrder's CPU on one core, every AWS answer stubbed: "
        f"{micros(measured.validate_cpu_per_order)} an order + "
        f"{micros(measured.validate_cpu_per_chunk)} a chunk; boto3's client side of one put:"
        f" {micros(measured.client_cpu_per_put)}; {measured.puts_per_order:.3f} puts an order,"
        f" {measured.wcu_per_put:.2f} WCU a put"
    )
    print(
        f"  PrepareFile's streaming and chunking: {micros(measured.prepare_cpu_per_order)} an"
        f" order; RecordBatch {micros(measured.record_cpu_per_chunk)} a chunk +"
        f" {micros(measured.record_cpu_per_file)} a file; the reviewer"
        f" {micros(measured.reviewer_cpu_per_rejection)} a rejected order, whose review costs"
        f" {measured.reviews_wcu_per_rejection:.2f} write units (likewise stubbed)"
    )


def print_platform(platform: Platform) -> None:
    child_rate = "none published, none assumed"
    if MAP_CHILD_START_RATE is not None:
        child_rate = f"{MAP_CHILD_START_RATE:,.0f}/s"
    print("\nAWS's figures (sources beside each in bench/capacity/limits.py, docs/capacity.md)")
    print(
        f"  DynamoDB: {PARTITION_WCU:,.0f} WCU/s a partition; new on-demand table"
        f" {NEW_ON_DEMAND_WCU:,.0f} WCU/s; warmed {WARM_WCU:,.0f} (the table quota); a put's"
        f" round trip {platform.put_rtt * 1e3:.0f} ms ('single-digit milliseconds')"
    )
    print(
        f"  Lambda: {platform.account_concurrency:,} concurrent executions, +"
        f"{platform.scale_environments:,} environments per {platform.scale_seconds:.0f} s per"
        f" function, a vCPU at {LAMBDA_MB_PER_VCPU:,} MB; Step Functions: {MAP_MAX_CHILDREN:,}"
        f" children at once, {MAP_OPEN_RUNS:,} open Map Runs, a rate of starting children:"
        f" {child_rate}"
    )
    print(
        f"  S3: {platform.s3_request * 1e3:.0f} ms a request ('tens of milliseconds'),"
        f" {S3_PUT_PER_PREFIX:,.0f} PUT and {S3_GET_PER_PREFIX:,.0f} GET/s a prefix; event"
        f" {platform.s3_event:.0f} s; SQS standard: nearly unlimited; EventBridge"
        f" {EVENTBRIDGE_PUT_EVENTS_PER_SECOND:,.0f} PutEvents/s"
    )
    print(
        f"  assumed (nothing published): SendMessageBatch {platform.sqs_request * 1e3:.0f} ms,"
        f" S3 transfer {platform.s3_bytes_per_second / 1e6:.0f} MB/s, cold start"
        f" {platform.cold_start:.1f} s, a child's start {platform.child_start * 1e3:.0f} ms,"
        f" a Lambda vCPU = {platform.cpu_speed:g} core of this machine; no split for heat"
    )


def print_local_check(design: Design, measured: Measured) -> None:
    local = measured.local
    if local is None:
        print("\nCheck against the local run: none (the measurement holds no local run)")
        return
    parts = local_prediction(design, measured)
    model = sum(parts.values())
    print(
        "\nCheck against the local run (the same model, the emulator's parameters: no"
        f" partition limit, a put {micros(local.put_seconds)} of which boto3"
        f" {micros(measured.client_cpu_per_put)}, Map concurrency {local.map_concurrency},"
        " one process)"
    )
    print("  " + "; ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items()))
    measured_seconds = local.execution_seconds
    print(
        f"  the executions (Step Functions' start to stop, the {local.files} files one after"
        f" the other): model {model:.1f} s, measured {measured_seconds:.1f} s,"
        f" measured / model = {measured_seconds / model:.2f}"
    )
    functions = sum(local.busy_seconds.values())
    print(
        f"  the whole path ({local.wall_seconds:.1f} s: uploads, S3 events, `orders run`'s"
        f" polling, the reviewer): the functions' threads {functions:.1f} s of CPU"
        f" (ValidateOrder {local.busy_seconds.get('ValidateOrder', 0.0):.1f} s, the model's"
        f" chunks {parts['the chunks (ValidateOrder and the Map)']:.1f} s), the process's"
        f" other threads {max(0.0, local.process_cpu_seconds - functions):.1f} s (the"
        " interpreter, the DLQ poller), the rest waiting"
    )


def print_predictions(predictions: Sequence[Prediction]) -> None:
    print("\nPredicted on AWS (from the upload to the batch recorded; the reviewer works beside)")
    print(
        f"  {'orders x senders, table':34s} {'time':>8s} {'per order':>10s}"
        f" {'$ per 1M orders':>16s}"
    )
    for p in predictions:
        o = p.outcome
        print(
            f"  {p.scenario.label:34s} {duration(o.seconds):>8s}"
            f" {micros(o.per_order_seconds):>10s} {p.cost['total']:16.4f}"
        )
        saved = f", {p.binding_gain:.0%} of the time" if p.binding != NO_BINDING else ""
        print(f"      binding: {p.binding}{saved}")
        print(
            f"      PrepareFile {duration(o.prepare_seconds)}, Map {duration(o.map_seconds)},"
            f" RecordBatch {duration(o.record_seconds)}; orders table usable"
            f" {o.usable_wcu:,.0f} WCU/s, asked at most {o.demand_peak_wcu:,.0f}"
            + "".join(f"; {note}" for note in o.notes)
        )


def print_aims(aims: Sequence[Aim]) -> None:
    print("\nAims")
    for aim in aims:
        print(f"  {'PASS' if aim.passed else 'FAIL'}  {aim.text}: {aim.value}")


def print_keys(
    design: Design, measured: Measured, platform: Platform, predictions: Sequence[Prediction]
) -> None:
    print("\nOne sender's 1,000,000 orders: what each table key, prefix and quota sees")
    for p in predictions:
        if p.scenario.orders == 1_000_000 and p.scenario.senders == 1:
            _print_one_sender(design, p)
    review = reviewer_cost_per_million(design, measured, platform)
    print(
        f"  Lambda: ValidateOrder at most {design.validate_reserved or 'the account'}"
        f" at once; {LAMBDA_SCALE_ENVIRONMENTS:,} new environments per"
        f" {LAMBDA_SCALE_SECONDS:.0f} s binds only above that; Step Functions: 10 senders open"
        f" 10 Map Runs of {MAP_OPEN_RUNS:,}; EventBridge: one event a batch; the DLQ reviewer"
        f" adds ${review:.4f} per million orders (not in the receipt)"
    )


def _print_one_sender(design: Design, p: Prediction) -> None:
    o = p.outcome
    keys = design.order_shards
    partitions = partitions_for(p.scenario.table_wcu)
    print(
        f"  {p.scenario.table} table: orders table {keys:,} keys over {partitions}"
        f" partitions: {usable_fraction(keys, partitions):.0%} usable ="
        f" {o.usable_wcu:,.0f} WCU/s (Monte Carlo of the keys' hash ranges)"
    )
    for table, rate in (("batches", o.batches_key_wcu), ("reviews", o.reviews_key_wcu)):
        verdict = "under" if rate < PARTITION_WCU else "OVER"
        print(
            f"      {table} table, key = the sender: at most {rate:,.0f} WCU/s, {verdict}"
            f" {PARTITION_WCU:,.0f} a partition"
        )
    print(
        f"      the reviewer ({design.reviewer_reserved} at once) ends"
        f" {duration(max(0.0, o.reviewer_end - o.seconds))} after the batch;"
        f" S3: at most {o.s3_put_prefix_peak:,.0f} PUT and {o.s3_get_prefix_peak:,.0f}"
        f" GET/s on the batch's prefix (of {S3_PUT_PER_PREFIX:,.0f} and"
        f" {S3_GET_PER_PREFIX:,.0f}); DLQ {o.batches_key_wcu:,.0f} SendMessageBatch/s"
        " (nearly unlimited)"
    )
