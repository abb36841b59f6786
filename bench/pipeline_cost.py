"""The bench's cost model: what a run asked of each service, counted as it was asked
(`CallCounter`, a botocore `before-call` hook on the default session), priced at list prices
(`chalicelib/costs.py`) and scaled to a million orders, beside the floor of the whole path (one
write unit per stored order plus the DLQ's own SQS requests). `bench/pipeline_bench.py` runs
it; the receipt of a batch (`chalicelib/costs.py`) is the product's own count, this one the
bench's independent one.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from chalicelib import costs as prices
from chalicelib.dynamo import item_size
from orderflow_cli.emulator.lambdas import current_function

LAMBDA_MEMORY_GB = 256 / 1024  # .chalice/config.json lambda_memory_size


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


def run_calls(counter: CallCounter) -> dict[str, int]:
    return dict(counter.calls)
