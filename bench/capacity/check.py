"""The model checked: its predictions against the issue's aims, and against the local run.

The local run is predicted by the same functions (`plan_chunk`, `prepare_seconds`) with the
emulator's parameters: no partition limit, no cold start, one process (every function a thread
of one interpreter: the local stage runs one writer, `STORE_WRITERS` 1), moto's measured cost of
one request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.capacity.design import Design
from bench.capacity.limits import (
    AIM_NEW_TABLE_SECONDS,
    AIM_WARM_TABLE_SECONDS,
    EMULATOR_MAP_ITEM_SECONDS,
    LAMBDA_MB_PER_VCPU,
    Platform,
)
from bench.capacity.outcome import Outcome
from bench.capacity.predict import Prediction
from bench.capacity.stages import plan_chunk, prepare_seconds
from bench.capacity.units import duration, micros
from bench.capacity.workload import LocalRun, Measured


@dataclass(frozen=True, slots=True)
class Aim:
    text: str
    value: str
    passed: bool


def check_aims(predictions: Sequence[Prediction]) -> list[Aim]:
    """The issue's aims: one sender's 1,000,000 orders in 5 minutes on a new on-demand table
    and in 60 s on a warmed one; ten senders at once no slower per order than one."""
    found = {(p.scenario.orders, p.scenario.senders, p.scenario.table): p for p in predictions}
    aims: list[Aim] = []
    for table, limit in (
        ("new on-demand", AIM_NEW_TABLE_SECONDS),
        ("warm 40,000", AIM_WARM_TABLE_SECONDS),
    ):
        one = found.get((1_000_000, 1, table))
        if one is not None:
            aims.append(
                Aim(
                    f"one sender's 1,000,000 orders, {table} table, at most {duration(limit)}",
                    duration(one.outcome.seconds) + _timeouts(one.outcome),
                    one.outcome.seconds <= limit and not one.outcome.timeouts,
                )
            )
    for (orders, senders, table), many in sorted(found.items()):
        one = found.get((orders, 1, table))
        if senders != 1 and one is not None:
            aims.append(_no_slower(orders, senders, table, one.outcome, many.outcome))
    return aims


def _no_slower(orders: int, senders: int, table: str, one: Outcome, many: Outcome) -> Aim:
    ratio = many.per_order_seconds / one.per_order_seconds
    return Aim(
        f"{senders} senders at once, {orders:,} orders each, {table} table: no slower"
        " per order than one",
        f"{micros(many.per_order_seconds)} against"
        f" {micros(one.per_order_seconds)} per order ({ratio:.2f}x)" + _timeouts(many),
        ratio <= 1.0 and not many.timeouts and not one.timeouts,
    )


def _timeouts(outcome: Outcome) -> str:
    if not outcome.timeouts:
        return ""
    return f"; {outcome.timeouts:,} invocations beyond their function's timeout"


def emulator_platform(local: LocalRun, measured: Measured) -> Platform:
    """The emulator as a platform: one process (every function's work on one CPU, so each
    request's cost is a wait of the one writer), moto's measured cost per put beyond boto3's
    own, no partition limit, no cold start."""
    return Platform(
        name="embedded emulator",
        put_rtt=max(0.0, local.put_seconds - measured.client_cpu_per_put),
        s3_request=(local.s3_put_seconds + local.s3_get_seconds) / 2,
        s3_bytes_per_second=math.inf,
        sqs_request=local.sqs_seconds,
        s3_event=0.0,
        child_start=EMULATOR_MAP_ITEM_SECONDS,
        cold_start=0.0,
        cpu_speed=1.0,
        partition_wcu=None,
    )


def local_prediction(design: Design, measured: Measured) -> dict[str, float]:
    """The model's time for the local run's executions, part by part: PrepareFile and every
    chunk from the model's own functions with the emulator's parameters (one writer: the
    functions are threads of one interpreter), RecordBatch as the run measured it, and the
    interpreter's own time per file as a small file's execution showed it; all of it one
    after the other (one process, one interpreter lock, Map concurrency 1)."""
    local = measured.local
    if local is None:
        raise ValueError("no local run to check against")
    platform = emulator_platform(local, measured)
    one_core = replace(
        design,
        prepare_memory_mb=LAMBDA_MB_PER_VCPU,
        chunk_max_orders=local.chunk_orders,
        prepare_uploads=1,  # an upload into moto is the one interpreter's work: no wait
    )
    per_file = local.orders / local.files
    chunks_per_file = local.chunks / local.files
    prepare = local.files * prepare_seconds(
        round(per_file), round(chunks_per_file), one_core, measured, platform
    )
    per_chunk = local.orders / local.chunks
    plan = plan_chunk(round(per_chunk), LAMBDA_MB_PER_VCPU, 1, measured, platform)
    chunks = local.chunks * (plan.unthrottled + platform.child_start)
    return {
        "PrepareFile": prepare,
        "the chunks (ValidateOrder and the Map)": chunks,
        "RecordBatch (as measured)": local.busy_seconds.get("RecordBatch", 0.0),
        "the interpreter's own (a small file's, per file)": local.files
        * local.file_overhead_seconds,
    }
