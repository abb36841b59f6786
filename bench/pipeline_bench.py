"""Speed, memory and modelled AWS cost of the pipeline, measured in one run beside its floor.

    python bench/pipeline_bench.py --orders 100000 --invalid 0.10

Speed: the whole path of a file on the embedded emulator, as `orders run` takes it (upload, S3
event, state machine, in-process Lambdas, conditional puts, DLQ, and the DLQ reviewer fed by its
event source mapping until the DLQ is empty), against the floor: one conditional put straight
into an emulated table for every order of the file, valid or not, in the same process and run.
The ratio is the figure that counts, and seconds on these machines are noisy: a shared machine
runs the same puts a quarter faster or slower from one quarter of an hour to the next. So the
floor is timed in slices between the pipeline's chunks (`InterleavedFloor`): after each
ValidateOrder invocation, one conditional put per order the chunk held, straight into a table
of the orders table's shape in the same emulator, timed as the CPU time of the thread that
makes them. The floor then runs in the same minutes, and the same process state, as the
pipeline it is compared with. The whole path's time is the run's wall time less that floor
time: anything the emulator's other threads did meanwhile stays charged to the pipeline.
The floor alone, in a fresh emulator before the run (--floor-orders puts, 20,000), is printed
beside it for reference.

Memory: peak traced memory of the streaming read and chunking (PrepareFile's work) over the
generated file and over a file a tenth of its size: the two peaks should be about equal.
(The emulator itself keeps every object, item and message in memory, as the cloud would on
its disks: that is not the product's memory and is not counted.)

Cost: what the run asked of each service, scaled to one million orders, at list prices, the
DLQ reviewer's requests included: S3 PUTs, DynamoDB write units by item size (1 KB each; an
item written to a table with indexes is written again for each index), SQS requests in 64 KB
units. Beside it, the floor of the whole path: one write unit per stored order, plus the DLQ's
own SQS requests (its batched sends, and the receives and deletes of the reviewer's event
source mapping). Lambda's polling of an empty queue on AWS is not modelled. The cost model is
`bench/pipeline_cost.py`; what is printed, `bench/pipeline_report.py`.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from boto3.dynamodb.types import TypeSerializer

from bench import scale, seed_design
from bench.pipeline_cost import CallCounter, cost_per_million, floor_per_million, run_calls
from bench.pipeline_report import (
    print_cost,
    print_memory,
    print_outcome,
    print_seed_comparison,
    print_speed,
)
from chalicelib import aws
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import Record
from chalicelib.pipeline.chunks import cut
from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator.lambdas import InProcessLambda
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.run import process


def generate(path: Path, count: int, invalid: float, seed: int = 7) -> int:
    """Writes a JSON document of `count` orders, the fraction `invalid` of them with a quantity
    of 0 (no repair rule applies: the reviewer archives them), streaming; returns how many are
    invalid."""
    rng = random.Random(seed)
    bad_orders = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as out:
        out.write('{"orders": [\n')
        for i in range(count):
            bad = rng.random() < invalid
            bad_orders += bad
            order = {
                "order-info": {
                    "OrderId": f"B-{i:08d}",
                    "item-id": str(100 + i % 900),
                    "item-desc": f"Item {i % 97}",
                    "qty": "0" if bad else str(1 + i % 9),
                },
                "contact-info": {"name": f"Customer {i}", "email": f"customer{i}@example.com"},
            }
            out.write(("," if i else "") + json.dumps(order) + "\n")
        out.write("]}\n")
    return bad_orders


def floor_item(record: Record, serialize: Callable[[Any], Any]) -> dict[str, Any]:
    """A floor put's item: the order as read, keyed by its row (valid or not)."""
    return {**order_key("floor", f"row-{record.row}"), "order": serialize(record.order)}


class InterleavedFloor:
    """The floor, timed in slices between the pipeline's chunks: after each ValidateOrder
    invocation, one conditional put per order of its chunk, the file's next orders in turn,
    straight into a table of the orders table's shape. `seconds` is their CPU time in the
    thread that makes them; the items are built outside it."""

    TABLE = "floor-orders"

    def __init__(self, local: EmbeddedAWS, path: Path) -> None:
        shape = local.dynamodb.describe_table(TableName=local.settings.orders_table)["Table"]
        local.dynamodb.create_table(
            TableName=self.TABLE,
            KeySchema=shape["KeySchema"],
            AttributeDefinitions=shape["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        # a client of the product's kind, outside the default session: not counted as the run's
        self._client = boto3.session.Session().client("dynamodb", config=aws.NO_RETRIES)
        self._body = path.open("rb")
        self._records = read_records(self._body, path.name)
        self._serialize = TypeSerializer().serialize
        self.puts = 0
        self.seconds = 0.0

    def install(self, lambdas: InProcessLambda) -> None:
        """Runs a slice after every ValidateOrder invocation."""
        call = lambdas.call

        def then_floor(name: str, event: Any) -> Any:
            answer = call(name, event)
            if name == "ValidateOrder":  # the chunk's reference carries its count of orders
                self.slice(int(event.get("chunk", {}).get("count", 0)))
            return answer

        lambdas.call = then_floor  # type: ignore[method-assign]

    def slice(self, count: int) -> None:
        items = [
            floor_item(record, self._serialize) for record in itertools.islice(self._records, count)
        ]
        started = time.thread_time()
        for item in items:
            self._client.put_item(
                TableName=self.TABLE, Item=item, ConditionExpression="attribute_not_exists(OrderId)"
            )
        self.seconds += time.thread_time() - started
        self.puts += len(items)

    def close(self) -> None:
        self._body.close()


def pipeline_run(path: Path) -> tuple[dict[str, Any], CallCounter]:
    """The file's whole path, as `orders run` takes it: until the DLQ reviewer has had every
    rejection (its event source mapping polls while the pipeline runs), with the floor timed
    between its chunks."""
    with EmbeddedAWS(poll_dead_letters=True) as local:
        counter = CallCounter(local.settings.dlq_url.rsplit("/", 1)[-1])
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call", counter)
        aws.reset()  # clients made from here on carry the counter
        assert local.lambdas is not None
        floor = InterleavedFloor(local, path)
        floor.install(local.lambdas)
        started = time.perf_counter()
        # progress on stderr (plain lines, at most every 30 s): a long run shows how far it is
        (outcome,) = process(local, [path], progress=sys.stderr, progress_seconds=30)
        seconds = time.perf_counter() - started - floor.seconds
        floor.close()
        record = local.batches().get(outcome.sender, outcome.batch_id) or {}
        history = local.sfn.get_execution_history(
            executionArn=local.execution_arn(outcome.batch_id), maxResults=1000
        )["events"]
        transitions = sum(1 for e in history if e["type"].endswith("StateEntered"))
        keys = partition_keys(local)
        assert local.lambdas is not None
        indexes = {
            name: len(local.dynamodb.describe_table(TableName=name)["Table"].get(
                "GlobalSecondaryIndexes", []
            ))
            for name in counter.write_units
        }  # fmt: skip
        return {
            "indexes": indexes,
            "partition_keys": keys,
            "record": record,
            "ended": outcome.ended,
            "seconds": seconds,
            "execution_seconds": outcome.seconds - floor.seconds,
            "floor_puts": floor.puts,
            "floor_seconds": floor.seconds,
            "transitions": transitions,
            "invocations": dict(local.lambdas.invocations),
            "busy": dict(local.lambdas.busy_seconds),
        }, counter


def partition_keys(local: EmbeddedAWS) -> Counter[str]:
    """How many of the run's stored orders each partition key of the orders table holds (a
    scan of the emulated table: issue 20's check that one sender's orders spread)."""
    counts: Counter[str] = Counter()
    request: dict[str, Any] = {
        "TableName": local.settings.orders_table,
        "ProjectionExpression": "sender_shard",
    }
    while True:
        page = local.dynamodb.scan(**request)
        counts.update(item["sender_shard"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return counts
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def floor_run(path: Path, limit: int) -> tuple[int, float]:
    """One conditional put per order of the file (the first `limit` of them), valid or not
    (each as read, keyed by its row), straight into an emulated table: what storing the file
    costs at the least. Returns the puts made and their seconds."""
    with EmbeddedAWS() as local:
        serialize = TypeSerializer().serialize
        with path.open("rb") as body:
            items = [
                floor_item(record, serialize)
                for record in itertools.islice(read_records(body, path.name), limit)
            ]
        client, table = aws.dynamodb(), local.settings.orders_table
        started = time.perf_counter()
        for item in items:
            client.put_item(
                TableName=table, Item=item, ConditionExpression="attribute_not_exists(OrderId)"
            )
        return len(items), time.perf_counter() - started


def streaming_peak(path: Path) -> float:
    """Peak traced MiB while reading and chunking the whole file (PrepareFile's work)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    with path.open("rb") as body:
        for _chunk in cut(read_records(body, path.name), 1000, 1_000_000):
            pass
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument(
        "--invalid", type=float, default=0.10, help="fraction of invalid orders (default 0.10)"
    )
    parser.add_argument(
        "--format", choices=["csv.gz", "json"], default="csv.gz", help="the generated file's"
    )
    parser.add_argument(
        "--floor-orders",
        type=int,
        default=20_000,
        help="the floor alone, for reference: this many puts in a fresh emulator (default 20,000)",
    )
    parser.add_argument(
        "--seed-orders",
        type=int,
        default=0,
        help="also run the seed's design (one Map item per order) on this many of the orders",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also check linearity (4k vs 16k) and memory (5k vs 50k)",
    )
    parser.add_argument(
        "--rates",
        default="",
        help="also model the cost at these invalid fractions, e.g. 0.01,0.1,0.3 (10,000 each)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.invalid <= 1:
        parser.error("--invalid is a fraction between 0 and 1")
    return args


@dataclass(frozen=True)
class Measurement:
    """What one bench run measured, before anything is printed."""

    run: dict[str, Any]
    counter: CallCounter
    peak_small: float  # MiB traced while streaming a file a tenth the size
    peak_big: float  # ... and the file itself
    alone: tuple[int, float]  # the floor alone in a fresh emulator: puts, seconds
    rss_mib: float  # peak RSS of this process after the whole path
    seed: dict[str, Any] | None  # the seed's design over the first orders, when asked


def measure(args: argparse.Namespace) -> Measurement:
    """Generate the file (and one a tenth its size), then measure the streaming read, the floor
    alone, the whole path beside its interleaved floor, and the seed's design when asked."""
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / f"bench-orders.{args.format}"
        small = Path(tmp) / f"bench-orders-small.{args.format}"
        write = scale.generate_csv if args.format == "csv.gz" else generate
        invalid = write(big, args.orders, args.invalid)
        write(small, max(1, args.orders // 10), args.invalid)
        print(
            f"file: {args.orders} orders ({invalid} invalid), {big.stat().st_size / 2**20:.1f} MiB"
        )
        peak_small, peak_big = streaming_peak(small), streaming_peak(big)
        alone = floor_run(big, args.floor_orders)  # for reference: a fresh emulator
        run, counter = pipeline_run(big)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        seed = (
            seed_design.seed_run(first_orders(big, args.seed_orders)) if args.seed_orders else None
        )
    return Measurement(run, counter, peak_small, peak_big, alone, rss_mib, seed)


def main(argv: list[str] | None = None) -> int:
    """Measure, print every figure, and exit 0 when the batch succeeded with every order
    accounted for."""
    args = parse_args(argv)
    measured = measure(args)
    run, counter = measured.run, measured.counter
    print_outcome(run)
    pipeline_rate = print_speed(run, args.orders, measured.alone)
    print_memory(args.orders, measured.peak_small, measured.peak_big, measured.rss_mib)
    total = print_cost(run, counter, args.orders)
    if measured.seed is not None:
        print_seed_comparison(measured.seed, pipeline_rate, total)
    if args.rates:
        print_rates([float(r) for r in args.rates.split(",")])
    if args.scale:
        print_scale()
    print("\nAWS calls made by the run:")
    for name, n in sorted(run_calls(counter).items()):
        print(f"  {name:38s} {n}")
    lost = run["ended"].get("unaccounted", 0)
    return 0 if run["record"].get("status") == "succeeded" and not lost else 1


def first_orders(path: Path, count: int) -> list[Any]:
    """The first `count` orders of the file, as read (the seed's design is fed the same)."""
    with path.open("rb") as body:
        return [r.order for r, _ in zip(read_records(body, path.name), range(count), strict=False)]


def print_rates(rates: list[float], orders: int = 10_000) -> None:
    """The modelled cost at several rejection rates (whole path, reviewer included)."""
    print(f"\ncost per million orders by rejection rate ({orders} orders each)")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            path = Path(tmp) / f"rate-{rate}.csv.gz"
            scale.generate_csv(path, orders, rate)
            run, counter = pipeline_run(path)
            total = sum(cost_per_million(run, counter, orders).values())
            floor = floor_per_million(run, counter, orders)
            print(
                f"  {rate:5.0%} invalid: ${total:.4f}, floor ${floor:.4f}, {total / floor:.2f}x"
                f" the floor; {orders / run['seconds']:.0f} orders/s"
            )


def print_scale() -> None:
    """Linear time (4k vs 16k orders) and flat memory (5k vs 50k) of `orders run` itself, each
    in a child process, at 10% invalid, as gzip CSV."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for count in (4_000, 16_000, 5_000, 50_000):
            path = Path(tmp) / f"scale-{count}.csv.gz"
            scale.generate_csv(path, count, 0.10)
            runs[count] = scale.orders_run(path)
            runs[count]["holding"] = scale.emulator_holding(path) if count in (5_000, 50_000) else 0
            total, known = scale.accounted(runs[count]["document"])
            if (total, known) != (count, count):
                print(f"  {count} orders: only {known} of {total} accounted for")
    small, large = runs[4_000]["seconds"], runs[16_000]["seconds"]
    print("\nlinear (orders run, 10% invalid, gzip CSV)")
    print(f"  4,000: {small:.1f} s; 16,000: {large:.1f} s; ratio {large / small:.2f} (at most 4.5)")
    grown = runs[50_000]["rss_mib"] - runs[5_000]["rss_mib"]
    held = runs[50_000]["holding"] - runs[5_000]["holding"]
    print("memory (peak RSS of orders run, and of a process that only holds the same items)")
    print(
        f"  orders run: {runs[5_000]['rss_mib']:.0f} -> {runs[50_000]['rss_mib']:.0f} MiB"
        f" (+{grown:.0f}); emulator holding the items: {runs[5_000]['holding']:.0f} ->"
        f" {runs[50_000]['holding']:.0f} MiB (+{held:.0f}); allowed: +{2 * held + 30:.0f} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
