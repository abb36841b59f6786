"""The time of each stage of a file's path, in closed form: the pure parts of the model.

One chunk's ValidateOrder (`plan_chunk`: its round trips and a closed queueing model of its
writers), PrepareFile (`prepare_seconds`), RecordBatch (`record_seconds`), a group of the DLQ
reviewer's, and the estimate of the puts a short table refuses (`refused_share`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bench.capacity.design import Design
from bench.capacity.limits import LAMBDA_MB_PER_VCPU, Platform
from bench.capacity.workload import Measured


def vcpu_share(memory_mb: int) -> float:
    """The CPU one Python thread gets: memory/1,769 MB of a vCPU, at most one (the GIL)."""
    return min(1.0, max(memory_mb, 1) / LAMBDA_MB_PER_VCPU)


def closed_throughput(writers: int, cpu_seconds: float, delay_seconds: float) -> float:
    """Puts a second of `writers` threads that each need `cpu_seconds` of the one CPU (a
    queue: the GIL, at the function's vCPU share) then wait `delay_seconds` (the round trip):
    exact mean-value analysis of that closed queueing network."""
    if writers < 1:
        raise ValueError("at least one writer")
    if cpu_seconds <= 0:
        return writers / delay_seconds if delay_seconds > 0 else math.inf
    queue = 0.0
    throughput = 0.0
    for n in range(1, writers + 1):
        response = cpu_seconds * (1 + queue)
        throughput = n / (response + delay_seconds)
        queue = throughput * response
    return throughput


def effective_chunk_orders(design: Design, measured: Measured) -> int:
    """Orders per chunk: CHUNK_MAX_ORDERS, or fewer when CHUNK_MAX_BYTES binds first."""
    by_bytes = int(design.chunk_max_bytes // max(measured.bytes_per_order, 1.0))
    return max(1, min(design.chunk_max_orders, by_bytes))


def chunk_sizes(orders: int, per_chunk: int) -> list[int]:
    full, rest = divmod(orders, per_chunk)
    return [per_chunk] * full + ([rest] if rest else [])


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """One chunk's ValidateOrder run: round trips before and after its writes, and the
    writes' phase (at the table's full speed) with the write units a second it asks for."""

    before: float
    write_seconds: float
    wcu_rate: float
    after: float
    cpu_only: float  # a chunk without a put: its CPU alone

    @property
    def unthrottled(self) -> float:
        return self.before + self.write_seconds + self.cpu_only + self.after


def plan_chunk(
    orders: int, memory_mb: int, writers: int, measured: Measured, platform: Platform
) -> ChunkPlan:
    share = platform.cpu_speed * vcpu_share(memory_mb)
    cpu = orders * measured.validate_cpu_per_order + measured.validate_cpu_per_chunk
    requests = measured.validate_requests_per_chunk
    chunk_bytes = orders * measured.bytes_per_order
    before = requests.get("GetObject", 1.0) * platform.s3_seconds(chunk_bytes)
    outcome_bytes = orders * measured.invalid_fraction * measured.bytes_per_order * 2
    after = (
        requests.get("SendMessageBatch", 0.0) * platform.sqs_request
        + requests.get("PutObject", 1.0) * platform.s3_seconds(outcome_bytes)
        + requests.get("UpdateItem", 1.0) * platform.put_rtt
    )
    puts = orders * measured.puts_per_order
    if puts < 1:
        return ChunkPlan(before, 0.0, 0.0, after, cpu / share)
    rate = closed_throughput(writers, cpu / share / puts, platform.put_rtt)
    return ChunkPlan(before, puts / rate, rate * measured.wcu_per_put, after, 0.0)


def prepare_seconds(
    orders: int, chunks: int, design: Design, measured: Measured, platform: Platform
) -> float:
    """PrepareFile: stream and cut the file (CPU at its share) and upload every chunk,
    `prepare_uploads` at a time as prepare.py's `in_order` does: overlapped with the CPU, the
    last upload after it (1: one after the other, after each chunk's cut)."""
    share = platform.cpu_speed * vcpu_share(design.prepare_memory_mb)
    cpu = (orders * measured.prepare_cpu_per_order + chunks * measured.client_cpu_per_put) / share
    per_upload = platform.s3_seconds(orders / max(chunks, 1) * measured.bytes_per_order)
    uploads = chunks * per_upload
    requests = 4 * platform.put_rtt + platform.s3_request  # sender, batch record, file GET
    if design.prepare_uploads <= 1:
        return platform.cold_start + requests + cpu + uploads
    return platform.cold_start + requests + max(cpu, uploads / design.prepare_uploads) + per_upload


def record_seconds(chunks: int, design: Design, measured: Measured, platform: Platform) -> float:
    """RecordBatch without reprocessing: read the manifest, every chunk's outcome, again each
    outcome with rejections (the report), `record_reads` at a time as finish.py's `in_order`
    does; its CPU per chunk; the report's two PUTs, the record and the event."""
    share = platform.cpu_speed * vcpu_share(design.record_memory_mb)
    rejecting = chunks if measured.invalid_fraction > 0 else 0
    reads = 1 + chunks + rejecting
    outcome_bytes = (
        design.chunk_max_orders * measured.invalid_fraction * measured.bytes_per_order * 2
    )
    read_seconds = reads * platform.s3_seconds(outcome_bytes) / max(design.record_reads, 1)
    cpu = (chunks * measured.record_cpu_per_chunk + measured.record_cpu_per_file) / share
    report = 2 * platform.s3_seconds(
        chunks * design.chunk_max_orders * measured.invalid_fraction * 300
    )
    return (
        platform.cold_start
        + read_seconds
        + cpu
        + report
        + 3 * platform.put_rtt
        + platform.sqs_request
    )


def mean_backoff(design: Design) -> float:
    """The mean sleep after a throttled put: full jitter under min(max, base * 2**retry),
    over the store's retries of a throttle (`STORE_MAX_THROTTLE_RETRIES`)."""
    retries = max(design.store_max_throttle_retries, 1)
    caps = [min(design.store_retry_max, design.store_retry_base * 2.0**k) for k in range(retries)]
    return sum(caps) / 2 / retries


def refused_share(demand: float, usable: float, writers: int, backoff: float) -> float:
    """The share of put attempts the table refuses while `writers` ask `demand` puts a second
    unthrottled and the table takes `usable`: a refused writer sleeps `backoff` on average, so
    the attempts fall until they are taken at `usable`. From writers * (1 - share) =
    usable * (cycle + share * backoff), with cycle = writers / demand (Little's law)."""
    if demand <= usable or writers <= 0:
        return 0.0
    return (1 - usable / demand) / (1 + usable * backoff / writers)


def reviewer_group_seconds(
    design: Design, measured: Measured, platform: Platform, rejections: float
) -> float:
    share = platform.cpu_speed * vcpu_share(design.reviewer_memory_mb)
    return (
        rejections * measured.reviewer_cpu_per_rejection / share
        + measured.reviewer_s3_per_group * platform.s3_request
        + measured.reviewer_dynamodb_per_group * platform.put_rtt
    )


def peak_rate(events: Iterable[tuple[float, float]], window: float = 1.0) -> float:
    """The most any `window` seconds hold of (time, amount) events, per second."""
    ordered = sorted(events)
    best = 0.0
    total = 0.0
    start = 0
    for end in range(len(ordered)):
        total += ordered[end][1]
        while ordered[end][0] - ordered[start][0] >= window:
            total -= ordered[start][1]
            start += 1
        best = max(best, total)
    return best / window
