"""What `bench/pipeline_bench.py` prints: the batch's outcome, the speed beside the floor, the
memory, the modelled cost, the seed's design beside ours, and the scale check. Each printer
takes what was measured and prints it; nothing here measures.
"""

from __future__ import annotations

from typing import Any

from bench import seed_design
from bench.pipeline_cost import (
    CallCounter,
    cost_per_million,
    floor_per_million,
    reviewer_per_million,
    write_units,
)
from chalicelib import costs as prices
from chalicelib.pipeline.store import ORDER_SHARDS


def print_outcome(run: dict[str, Any]) -> None:
    """The batch, where its orders ended, and how the stored ones spread over their keys."""
    record = run["record"]
    print(
        f"pipeline: batch {record.get('status')}: total {record.get('total')}, "
        f"stored {record.get('stored')}, rejected {record.get('rejected')}, "
        f"chunks {record.get('chunks')}"
    )
    print("  where the orders ended: " + ", ".join(f"{k} {v}" for k, v in run["ended"].items()))
    keys = run["partition_keys"]
    print(
        f"  the stored orders' partition keys: {len(keys):,} of {ORDER_SHARDS:,} (one sender;"
        f" at least 16 wanted), {sum(keys.values()) / max(1, len(keys)):.1f} orders a key on"
        f" average, {max(keys.values(), default=0)} on the busiest"
    )


def print_speed(run: dict[str, Any], orders: int, alone: tuple[int, float]) -> float:
    """The whole path beside its floor; returns the whole path's orders a second."""
    pipeline_rate = orders / float(run["seconds"])
    puts, floor_seconds = run["floor_puts"], run["floor_seconds"]
    floor_rate = puts / floor_seconds
    print("\nspeed (same process, same run; the floor timed between the pipeline's chunks)")
    print(
        f"  whole path, reviewer included:  {run['seconds']:8.1f} s  {pipeline_rate:8.0f} orders/s"
        f"   (the execution alone: {run['execution_seconds']:.1f} s)"
    )
    print(f"  floor, {puts} conditional puts:  {floor_seconds:8.1f} s  {floor_rate:8.0f} puts/s")
    print(
        f"    (the floor alone in a fresh emulator before the run: {alone[0] / alone[1]:.0f}"
        f" puts/s over {alone[0]:,} puts)"
    )
    print(f"  ratio whole path / floor (time): {run['seconds'] / floor_seconds:.2f}")
    print(f"  whole path's speed / floor's speed: {floor_seconds / run['seconds']:.2f} (aim: 0.8)")
    busy = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run["busy"].items())
    print(f"  time inside the Lambda functions: {busy}")
    return pipeline_rate


def print_memory(orders: int, small: float, big: float, rss_mib: float) -> None:
    """The streaming read's peak for the file and for one a tenth its size, and the RSS."""
    print("\nmemory (peak traced while streaming and chunking the file)")
    print(f"  {orders // 10:>9} orders: {small:6.2f} MiB")
    print(f"  {orders:>9} orders: {big:6.2f} MiB   ratio {big / small:.2f}")
    print(
        f"  peak RSS of this process after the whole path: {rss_mib:,.0f} MiB"
        " (the emulator holding every item, object and message of the run, and the product)"
    )


def print_cost(run: dict[str, Any], counter: CallCounter, orders: int) -> float:
    """The modelled cost of a million orders, service by service, beside the floor; returns
    the total."""
    costs = cost_per_million(run, counter, orders)
    total = sum(costs.values())
    floor_cost = floor_per_million(run, counter, orders)
    print(
        f"\nmodelled cost of 1,000,000 orders on AWS ({prices.REGION}, prices of "
        f"{prices.PRICES_AS_OF}, chalicelib/costs.py)"
    )
    for name, value in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"  {name:38s} ${value:9.4f}")
    print(
        f"  {'total':38s} ${total:9.4f}   = {total / floor_cost:.2f} x the floor "
        f"(${floor_cost:.4f}: a write unit per stored order and the DLQ's SQS requests)"
    )
    per_million = 1_000_000 / orders
    units = ", ".join(
        f"{table.rsplit('-', 1)[-1]} {n * per_million:,.0f}"
        + (f" x{1 + run['indexes'][table]} (indexes)" if run["indexes"].get(table) else "")
        for table, n in sorted(counter.write_units.items())
    )
    print(f"  write units per million orders, by table: {units}")
    reviewer = reviewer_per_million(run, counter, orders)
    print(
        f"  the DLQ reviewer's own requests: ${reviewer:.4f} per million orders"
        f" ({counter.reviewer_calls['s3.PutObject'] * per_million:,.0f} S3 PUTs,"
        f" {write_units(run, counter, reviewer=True) * per_million:,.0f} write units,"
        f" {counter.reviewer_calls['dynamodb.GetItem'] * per_million:,.0f} reads)"
    )
    print(
        f"  SQS 64 KB units per million orders: {counter.sqs_units * per_million:,.0f}"
        f" (the DLQ's: {counter.dlq_units * per_million:,.0f})"
    )
    return total


def print_seed_comparison(seed: dict[str, Any], our_rate: float, our_cost: float) -> None:
    costs = seed_design.seed_cost_per_million(seed)
    seed_cost, seed_rate = sum(costs.values()), seed["orders"] / seed["seconds"]
    print("\nthe seed's design (bench/seed.asl.json: a Map item, a Lambda, a put per order)")
    print(
        f"  on the first {seed['orders']} orders: {seed['seconds']:.1f} s, {seed_rate:.0f} orders/s"
        f" (ours: {our_rate:.0f} orders/s, {our_rate / seed_rate:.1f}x)"
    )
    for name, value in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"  {name:38s} ${value:9.4f}")
    print(
        f"  {'total per million orders':38s} ${seed_cost:9.4f}"
        f"   (ours: ${our_cost:.4f}, {seed_cost / our_cost:.1f}x cheaper)"
    )
