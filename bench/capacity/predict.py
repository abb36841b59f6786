"""Predictions: each scenario's time, the limit that binds it, and its cost.

The binding limit is found by lifting each limit on its own (raised a hundredfold, or a stage
made nearly free) and simulating again: the one whose lifting shortens the time most binds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from bench.capacity.design import Design
from bench.capacity.limits import PARTITION_WCU, Platform, Scenario
from bench.capacity.outcome import Outcome
from bench.capacity.partitions import partitions_for, usable_write_rate
from bench.capacity.simulate import simulate
from bench.capacity.stages import (
    chunk_sizes,
    effective_chunk_orders,
    reviewer_group_seconds,
    vcpu_share,
)
from bench.capacity.workload import Measured
from chalicelib.costs import Requests

LIFT = 100.0  # how far a limit is raised to see what it costs ("lifted")
NO_BINDING = "none dominant: round trips and fixed delays"


@dataclass(frozen=True, slots=True)
class Prediction:
    scenario: Scenario
    outcome: Outcome
    binding: str
    binding_gain: float  # how much shorter the time is with that limit doubled
    cost: dict[str, float]  # per million orders, by service and "total"


@dataclass(frozen=True, slots=True)
class Relaxation:
    """One limit lifted: the design, platform and simulation arguments without it."""

    name: str
    design: Design
    platform: Platform
    relaxed: dict[str, Any]
    single: bool = True  # False: two limits lifted together (they may tie)


def table_limit_name(design: Design, platform: Platform, scenario: Scenario) -> str:
    """The orders table's binding part: its capacity, or its partition keys when the hottest
    partition saturates below the capacity."""
    keys = scenario.senders * design.order_shards
    capacity = scenario.table_wcu
    usable = usable_write_rate(capacity, keys, platform.partition_wcu)
    if usable >= capacity - 1e-6:
        return f"table capacity ({capacity:,.0f} WCU/s)"
    partitions = partitions_for(capacity, platform.partition_wcu or PARTITION_WCU)
    return f"partition keys ({keys:,} keys on {partitions} partitions: {usable:,.0f} WCU/s)"


def at_a_time(what: str, count: int) -> str:
    """ "uploads one at a time", "reads 8 at a time"."""
    return f"{what} {'one' if count <= 1 else count} at a time"


def _stage_labels(
    design: Design, measured: Measured, platform: Platform, scenario: Scenario
) -> tuple[str, str]:
    """What binds PrepareFile and RecordBatch: their S3 requests or their CPU."""
    chunks = len(chunk_sizes(scenario.orders, effective_chunk_orders(design, measured)))
    prepare_cpu = (
        scenario.orders * measured.prepare_cpu_per_order / vcpu_share(design.prepare_memory_mb)
    )
    prepare_uploads = chunks * platform.s3_request / max(design.prepare_uploads, 1)
    prepare = (
        at_a_time("uploads", design.prepare_uploads)
        if prepare_uploads > prepare_cpu
        else f"CPU at {design.prepare_memory_mb} MB"
    )
    record_cpu = chunks * measured.record_cpu_per_chunk / vcpu_share(design.record_memory_mb)
    record = (
        at_a_time("reads", design.record_reads)
        if 2 * chunks * platform.s3_request / max(design.record_reads, 1) > record_cpu
        else f"CPU at {design.record_memory_mb} MB"
    )
    return prepare, record


def relaxations(
    design: Design, measured: Measured, platform: Platform, scenario: Scenario
) -> list[Relaxation]:
    """Each limit the time may be bound by, lifted on its own (a stage made nearly free), and
    the pairs that can tie lifted together."""
    keys = scenario.senders * design.order_shards
    usable = usable_write_rate(scenario.table_wcu, keys, platform.partition_wcu)
    prepare, record = _stage_labels(design, measured, platform, scenario)
    lifted = round(LIFT)
    table = table_limit_name(design, platform, scenario)
    return [
        Relaxation(table, design, platform, {"usable_wcu": LIFT * usable}),
        Relaxation(
            f"Lambda CPU (ValidateOrder at {design.validate_memory_mb} MB)",
            design,
            platform,
            {"cpu_scale": LIFT},
        ),
        Relaxation(
            f"writes in flight (STORE_WRITERS {design.store_writers})",
            replace(design, store_writers=lifted * design.store_writers),
            platform,
            {},
        ),
        Relaxation(f"PrepareFile ({prepare})", design, platform, {"prepare_scale": 1 / LIFT}),
        Relaxation(f"RecordBatch ({record})", design, platform, {"record_scale": 1 / LIFT}),
        Relaxation(
            f"Lambda account concurrency ({platform.account_concurrency:,})",
            design,
            replace(platform, account_concurrency=lifted * platform.account_concurrency),
            {},
        ),
        *_concurrency_relaxations(design, platform),
    ]


def _concurrency_relaxations(design: Design, platform: Platform) -> list[Relaxation]:
    """The Map's MaxConcurrency and ValidateOrder's reserved concurrency, each lifted, and
    both together (the same value ties them)."""
    lifted = round(LIFT)
    options: list[Relaxation] = []
    wider = replace(design, max_concurrency=lifted * design.max_concurrency)
    if design.max_concurrency:
        options.append(
            Relaxation(f"MaxConcurrency ({design.max_concurrency})", wider, platform, {})
        )
    if design.validate_reserved is not None:
        reserved = lifted * design.validate_reserved
        options.append(
            Relaxation(
                f"ValidateOrder reserved concurrency ({design.validate_reserved})",
                replace(design, validate_reserved=reserved),
                platform,
                {},
            )
        )
        if design.max_concurrency:
            both = (
                f"MaxConcurrency and ValidateOrder reserved concurrency"
                f" ({design.max_concurrency}, {design.validate_reserved})"
            )
            options.append(
                Relaxation(both, replace(wider, validate_reserved=reserved), platform, {}, False)
            )
    return options


def binding_limit(
    design: Design, measured: Measured, platform: Platform, scenario: Scenario, seconds: float
) -> tuple[str, float]:
    """The limit whose lifting shortens the predicted time most (down to the next limit), and
    by what share. Two limits that tie are named together; a single one within a point of
    the pair's gain is named alone."""
    gains = [
        (
            1
            - simulate(option.design, measured, option.platform, scenario, **option.relaxed).seconds
            / seconds,
            option,
        )
        for option in relaxations(design, measured, platform, scenario)
    ]
    best_gain, best = max(gains, key=lambda pair: pair[0])
    if not best.single:
        single = [(gain, option) for gain, option in gains if option.single]
        gain, option = max(single, key=lambda pair: pair[0])
        if gain >= best_gain - 0.01:
            best_gain, best = gain, option
    return (best.name, best_gain) if best_gain >= 0.02 else (NO_BINDING, max(best_gain, 0.0))


def scenario_cost(
    design: Design, measured: Measured, scenario: Scenario, outcome: Outcome
) -> dict[str, float]:
    """The modelled cost per million orders at list prices (chalicelib.costs): the receipt's
    counts for these orders, chunks and files, and the GB-seconds the simulation predicts
    (Lambda bills the whole duration of an invocation, its waits included)."""
    files = scenario.senders
    orders = scenario.orders * files
    counts = measured.rates.total(orders, outcome.chunks, files)
    requests = Requests(**{name: round(value) for name, value in counts.items()})
    requests.lambda_gb_seconds = (
        outcome.validate_gb_seconds + outcome.prepare_gb_seconds + outcome.record_gb_seconds
    )
    requests.sfn_express_gb_seconds = outcome.express_gb_seconds
    return {name: value * 1_000_000 / orders for name, value in requests.cost_usd().items()}


def reviewer_cost_per_million(design: Design, measured: Measured, platform: Platform) -> float:
    """The DLQ reviewer's own requests and duration per million orders (not in a receipt)."""
    per_chunk = effective_chunk_orders(design, measured)
    groups = 1_000_000 / per_chunk * measured.groups_per_chunk
    rejected = 1_000_000 * measured.invalid_fraction
    requests = measured.reviewer_requests_per_group
    seconds = groups * reviewer_group_seconds(
        design, measured, platform, per_chunk * measured.invalid_fraction
    )
    review = Requests(
        s3_put=round(groups * requests.get("s3_put", 1.0)),
        s3_get=round(groups * requests.get("s3_get", 0.0)),
        dynamodb_write_units=round(rejected * measured.reviews_wcu_per_rejection),
        dynamodb_read_units=round(groups * requests.get("dynamodb_reads", 1.0)),
        lambda_invocations=math.ceil(groups / design.reviewer_batch_size),
        lambda_gb_seconds=seconds * design.reviewer_memory_mb / 1024,
    )
    return review.cost_usd()["total"]


def predict(
    design: Design,
    measured: Measured,
    platform: Platform,
    scenario: Scenario,
    *,
    with_binding: bool = True,
) -> Prediction:
    outcome = simulate(design, measured, platform, scenario)
    binding, gain = (
        binding_limit(design, measured, platform, scenario, outcome.seconds)
        if with_binding
        else ("", 0.0)
    )
    cost = scenario_cost(design, measured, scenario, outcome)
    return Prediction(scenario, outcome, binding, gain, cost)
