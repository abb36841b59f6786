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
source mapping). Lambda's polling of an empty queue on AWS is not modelled.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from boto3.dynamodb.types import TypeSerializer

from bench import scale, seed_design
from chalicelib import aws
from chalicelib import costs as prices
from chalicelib.dynamo import item_size
from chalicelib.orders.readers import read_records
from chalicelib.orders.records import Record
from chalicelib.pipeline.chunks import cut
from chalicelib.pipeline.store import ORDER_SHARDS, order_key
from orderflow_cli.emulator.lambdas import InProcessLambda, current_function
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.run import process

LAMBDA_MEMORY_GB = 256 / 1024  # .chalice/config.json lambda_memory_size


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


_SQS_REQUESTS = {"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
                 "DeleteMessageBatch", "ChangeMessageVisibility",
                 "ChangeMessageVisibilityBatch"}  # fmt: skip


class CallCounter:
    """Counts AWS API calls made through the default boto3 session: SQS requests in 64 KB
    units (and those of the DLQ apart), DynamoDB write units by table and item size."""

    def __init__(self, dlq_name: str) -> None:
        self.calls: Counter[str] = Counter()
        self.sqs_units = 0
        self.dlq_units = 0
        self.write_units: Counter[str] = Counter()  # by table, before its indexes
        # the DLQ reviewer's own: its calls, and its write units by table
        self.reviewer_calls: Counter[str] = Counter()
        self.reviewer_write_units: Counter[str] = Counter()
        self._dlq = dlq_name.encode()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        self.calls[f"{service}.{operation}"] += 1
        reviewer = current_function.get() == "ReviewDeadLetters"
        if reviewer:
            self.reviewer_calls[f"{service}.{operation}"] += 1
        if service not in {"sqs", "dynamodb"}:
            return
        body = params.get("body", b"")
        body = body.encode() if isinstance(body, str) else body
        if not isinstance(body, bytes):
            body = b""
        if service == "sqs" and operation in _SQS_REQUESTS:
            units = max(1, math.ceil(len(body) / (64 * 1024)))
            self.sqs_units += units
            if self._dlq + b'"' in body or self._dlq + b"&" in body:  # the DLQ, not its redrive
                self.dlq_units += units
        elif service == "dynamodb" and operation in {"PutItem", "UpdateItem"}:
            request = json.loads(body or b"{}")
            if operation == "PutItem":  # the item's size, in 1 KB units
                units = max(1, math.ceil(item_size(request.get("Item", {})) / 1024))
            else:  # the items updated here are small batch records
                units = 1
            self.write_units[str(request.get("TableName"))] += units
            if reviewer:
                self.reviewer_write_units[str(request.get("TableName"))] += units


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


def cost_per_million(run: dict[str, Any], counter: CallCounter, orders: int) -> dict[str, float]:
    calls = counter.calls
    chunks = run["record"].get("chunks", 0)
    scale = 1_000_000 / orders
    lambda_requests = sum(run["invocations"].values())
    lambda_gb_s = sum(run["busy"].values()) * LAMBDA_MEMORY_GB
    express_gb_s = run["busy"].get("ValidateOrder", 0.0) * prices.SFN_EXPRESS_MIN_MEMORY_GB
    s3_puts = sum(calls[f"s3.{op}"] for op in ("PutObject", "CopyObject", "ListObjectsV2"))
    s3_gets = calls["s3.GetObject"] + calls["s3.HeadObject"]
    writes = write_units(run, counter)
    reads = calls["dynamodb.GetItem"]
    return {
        "Step Functions standard transitions": run["transitions"]
        * prices.SFN_STANDARD_PER_TRANSITION
        * scale,
        "Step Functions express requests": chunks * prices.SFN_EXPRESS_PER_REQUEST * scale,
        "Step Functions express duration": express_gb_s * prices.SFN_EXPRESS_PER_GB_SECOND * scale,
        "Lambda requests": lambda_requests * prices.LAMBDA_PER_REQUEST * scale,
        "Lambda duration": lambda_gb_s * prices.LAMBDA_PER_GB_SECOND * scale,
        "S3 PUT/COPY/LIST": s3_puts * prices.S3_PER_PUT * scale,
        "S3 GET": s3_gets * prices.S3_PER_GET * scale,
        "DynamoDB write units": writes * prices.DYNAMODB_PER_WRITE_UNIT * scale,
        "DynamoDB read units": reads * prices.DYNAMODB_PER_READ_UNIT * scale,
        "SQS requests (64 KB units)": counter.sqs_units * prices.SQS_PER_REQUEST * scale,
    }


def write_units(run: dict[str, Any], counter: CallCounter, *, reviewer: bool = False) -> int:
    """Every write unit of the run (or of the reviewer): each item's units once for the table,
    once more per index."""
    units = counter.reviewer_write_units if reviewer else counter.write_units
    return sum(n * (1 + run["indexes"].get(table, 0)) for table, n in units.items())


def reviewer_per_million(run: dict[str, Any], counter: CallCounter, orders: int) -> float:
    """What the DLQ reviewer's own requests cost per million orders: S3 PUTs, write units
    (those of the orders it stores included), reads."""
    calls = counter.reviewer_calls
    cost = calls["s3.PutObject"] * prices.S3_PER_PUT + calls["s3.GetObject"] * prices.S3_PER_GET
    cost += write_units(run, counter, reviewer=True) * prices.DYNAMODB_PER_WRITE_UNIT
    cost += calls["dynamodb.GetItem"] * prices.DYNAMODB_PER_READ_UNIT
    return cost * 1_000_000 / orders


def floor_per_million(run: dict[str, Any], counter: CallCounter, orders: int) -> float:
    """One write unit per stored order, plus the DLQ's own SQS requests, per million orders."""
    stored = int(run["record"].get("stored", 0))
    floor = stored * prices.DYNAMODB_PER_WRITE_UNIT + counter.dlq_units * prices.SQS_PER_REQUEST
    return floor * 1_000_000 / orders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args()
    if not 0 <= args.invalid <= 1:
        parser.error("--invalid is a fraction between 0 and 1")

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
        pipeline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        seed = (
            seed_design.seed_run(first_orders(big, args.seed_orders)) if args.seed_orders else None
        )

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
    pipeline_rate = args.orders / run["seconds"]
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
    print("\nmemory (peak traced while streaming and chunking the file)")
    print(f"  {args.orders // 10:>9} orders: {peak_small:6.2f} MiB")
    print(f"  {args.orders:>9} orders: {peak_big:6.2f} MiB   ratio {peak_big / peak_small:.2f}")
    print(
        f"  peak RSS of this process after the whole path: {pipeline_rss:,.0f} MiB"
        " (the emulator holding every item, object and message of the run, and the product)"
    )

    costs = cost_per_million(run, counter, args.orders)
    total = sum(costs.values())
    floor_cost = floor_per_million(run, counter, args.orders)
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
    units = ", ".join(
        f"{table.rsplit('-', 1)[-1]} {n * 1_000_000 / args.orders:,.0f}"
        + (f" x{1 + run['indexes'][table]} (indexes)" if run["indexes"].get(table) else "")
        for table, n in sorted(counter.write_units.items())
    )
    print(f"  write units per million orders, by table: {units}")
    reviewer = reviewer_per_million(run, counter, args.orders)
    per_million = 1_000_000 / args.orders
    print(
        f"  the DLQ reviewer's own requests: ${reviewer:.4f} per million orders"
        f" ({counter.reviewer_calls['s3.PutObject'] * per_million:,.0f} S3 PUTs,"
        f" {write_units(run, counter, reviewer=True) * per_million:,.0f} write units,"
        f" {counter.reviewer_calls['dynamodb.GetItem'] * per_million:,.0f} reads)"
    )
    print(
        f"  SQS 64 KB units per million orders: {counter.sqs_units * 1_000_000 / args.orders:,.0f}"
        f" (the DLQ's: {counter.dlq_units * 1_000_000 / args.orders:,.0f})"
    )
    if seed is not None:
        print_seed_comparison(seed, pipeline_rate, total)
    if args.rates:
        print_rates([float(r) for r in args.rates.split(",")])
    if args.scale:
        print_scale()
    print("\nAWS calls made by the run:")
    for name, n in sorted(run_calls(counter).items()):
        print(f"  {name:38s} {n}")
    lost = run["ended"].get("unaccounted", 0)
    return 0 if record.get("status") == "succeeded" and not lost else 1


def first_orders(path: Path, count: int) -> list[Any]:
    """The first `count` orders of the file, as read (the seed's design is fed the same)."""
    with path.open("rb") as body:
        return [r.order for r, _ in zip(read_records(body, path.name), range(count), strict=False)]


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


def run_calls(counter: CallCounter) -> dict[str, int]:
    return dict(counter.calls)


if __name__ == "__main__":
    sys.exit(main())
