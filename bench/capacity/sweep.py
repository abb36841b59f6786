"""What the design leaves on the table: one sender's 1,000,000 orders with one setting changed
at a time, and ten senders at once by ValidateOrder's reserved concurrency."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from bench.capacity.design import Design
from bench.capacity.limits import NEW_ON_DEMAND_WCU, WARM_WCU, Platform, Scenario
from bench.capacity.predict import scenario_cost
from bench.capacity.simulate import simulate
from bench.capacity.units import duration
from bench.capacity.workload import Measured

SWEEP: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("MaxConcurrency", "max_concurrency", (10, 20, 40, 80, 160)),
    ("STORE_WRITERS", "store_writers", (1, 4, 8, 16, 32)),
    ("CHUNK_MAX_ORDERS", "chunk_max_orders", (500, 1_000, 2_000, 5_000, 10_000, 20_000)),
    ("ORDER_SHARDS", "order_shards", (1, 16, 256, 1_024, 4_096)),
    ("ValidateOrder MB", "validate_memory_mb", (256, 512, 1_024, 1_769, 3_008)),
    ("PrepareFile MB", "prepare_memory_mb", (256, 512, 1_024, 1_769)),
    ("RecordBatch MB", "record_memory_mb", (512, 1_024, 1_769)),
    # STORE_MAX_THROTTLE_RETRIES: shown only when the writers are not paced
    ("throttle retries", "store_max_throttle_retries", (1, 3, 10, 20)),
    # S3_IN_FLIGHT (chalicelib/pipeline/inflight.py), a constant of the code: one function's
    ("uploads at once", "prepare_uploads", (1, 4, 8, 16)),
    ("reads at once", "record_reads", (1, 4, 8, 16)),
)
RESERVED_SWEEP: tuple[int | None, ...] = (20, 50, 100, 200, 400, None)
ONE_NEW = Scenario(1_000_000, 1, NEW_ON_DEMAND_WCU, "new on-demand")
ONE_WARM = Scenario(1_000_000, 1, WARM_WCU, "warm 40,000")
TEN_WARM = Scenario(1_000_000, 10, WARM_WCU, "warm 40,000")


def with_setting(design: Design, measured: Measured, name: str, value: int | None) -> Design:
    """The design with one setting changed; a larger chunk gets the CHUNK_MAX_BYTES it needs."""
    change: dict[str, Any] = {name: value}
    changed = replace(design, **change)
    if name == "chunk_max_orders" and value is not None:
        needed = math.ceil(value * measured.bytes_per_order * 1.05)
        changed = replace(changed, chunk_max_bytes=max(design.chunk_max_bytes, needed))
    if name == "max_concurrency" and value and design.validate_reserved is not None:
        changed = replace(changed, validate_reserved=max(design.validate_reserved, value))
    return changed


def print_sweep(design: Design, measured: Measured, platform: Platform) -> None:
    print(
        "\nWhat the design leaves on the table: 1,000,000 orders from one sender, one setting"
        " changed at a time (* the design's value; MaxConcurrency above ValidateOrder's"
        " reserved concurrency raises that too; 'at once' rows change S3_IN_FLIGHT, a constant"
        " of the code, for that function alone)"
    )
    dlq_column = "" if design.paced else f" {'to the DLQ':>11s}"
    print(
        f"  {'setting':18s} {'value':>7s} {'new table':>10s}{dlq_column}"
        f" {'warm table':>11s} {'$ per 1M':>9s}"
    )
    for label, name, values in SWEEP:
        if design.paced and name == "store_max_throttle_retries":
            continue  # paced writers do not burn their retries
        for value in values:
            changed = with_setting(design, measured, name, value)
            on_new = simulate(changed, measured, platform, ONE_NEW)
            on_warm = simulate(changed, measured, platform, ONE_WARM)
            cost = scenario_cost(changed, measured, ONE_WARM, on_warm)["total"]
            mark = "*" if getattr(design, name) == value else " "
            dlq = "" if design.paced else f" {on_new.exhausted_fraction:>11.1%}"
            print(
                f"  {label:18s} {value:>6,}{mark} {duration(on_new.seconds):>10s}{dlq}"
                f" {duration(on_warm.seconds):>11s} {cost:9.4f}"
            )
    _print_reserved_sweep(design, measured, platform)


def _print_reserved_sweep(design: Design, measured: Measured, platform: Platform) -> None:
    print(
        "  ten senders at once, 1,000,000 orders each, warm table, by ValidateOrder's reserved"
        " concurrency: the time, per order against one sender, chunks left to RecordBatch"
    )
    for reserved in RESERVED_SWEEP:
        changed = replace(design, validate_reserved=reserved)
        one = simulate(changed, measured, platform, ONE_WARM)
        many = simulate(changed, measured, platform, TEN_WARM)
        mark = "*" if design.validate_reserved == reserved else " "
        shown = "none" if reserved is None else f"{reserved:,}"
        print(
            f"  {'reserved':18s} {shown:>6s}{mark} {duration(many.seconds):>10s}"
            f" {many.per_order_seconds / one.per_order_seconds:>10.2f}x"
            f" {many.failed_chunks:>11,}"
        )
