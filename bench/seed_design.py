"""The seed's design, run beside ours in the same bench (never part of the product): a
Distributed Map over the orders themselves, one Express child, one Lambda invocation and one
PutItem (or SendMessage) per order, as the first sketch of orderflow did it.

`seed_run` runs it on the emulator over the same orders and returns its time and what it asked
of each service, so the bench can print both designs' throughput and modelled cost.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib import costs as prices
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator import definition
from orderflow_cli.emulator.runtime import ACCOUNT, EmbeddedAWS

DEFINITION = Path(__file__).with_name("seed.asl.json")
FUNCTION = "SeedValidate"
LAMBDA_MEMORY_GB = 256 / 1024
_serialize = TypeSerializer().serialize


def _validate(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """The seed's per-order Lambda: validate, and hand back the item or the DLQ body."""
    checked = validate_order(event)
    if isinstance(checked, ValidOrder):
        key = order_key("seed", checked.order_id)  # the orders table's key, as ours
        item = {**key, "content_hash": _serialize(checked.content_hash)}
        return {"valid": True, "item": item, "body": ""}
    errors = [e.code for e in checked]
    return {"valid": False, "item": {}, "body": json.dumps({"order": event, "errors": errors})}


def seed_run(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs the seed's design over `orders`; returns seconds, stored, dead-lettered, counts."""
    with EmbeddedAWS() as local:
        assert local.lambdas is not None
        functions = dict(local.lambdas.functions)
        functions[FUNCTION] = _validate
        local.lambdas.functions = functions
        settings = local.settings
        key = "bench/seed-orders.json"
        local.s3.put_object(Bucket=settings.bucket, Key=key, Body=json.dumps(orders).encode())
        rendered = definition.render(
            {
                "ValidateFunctionArn": local.function_arn(FUNCTION),
                "TableName": settings.orders_table,
                "QueueUrl": settings.dlq_url,
            },
            path=DEFINITION,
        )
        arn = local.sfn.create_state_machine(
            name="seed-design",
            # moto's Map worker recurses once per item it takes: keep each under ~500 items
            definition=definition.for_emulator(rendered, max(1, math.ceil(len(orders) / 500))),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/seed-design",
            type="STANDARD",
        )["stateMachineArn"]
        before = dict(local.lambdas.invocations)
        started = time.perf_counter()
        execution = local.sfn.start_execution(
            stateMachineArn=arn,
            name="seed-run",
            input=json.dumps({"bucket": settings.bucket, "key": key}),
        )["executionArn"]
        while local.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        stored = sum(1 for _ in local.scan_table(settings.orders_table))
        dead = len(local.drain_dlq())
        invocations = local.lambdas.invocations.get(FUNCTION, 0) - before.get(FUNCTION, 0)
        busy = local.lambdas.busy_seconds.get(FUNCTION, 0.0)
    return {
        "seconds": seconds,
        "orders": len(orders),
        "stored": stored,
        "dead_lettered": dead,
        "invocations": invocations,
        "lambda_gb_s": busy * LAMBDA_MEMORY_GB,
    }


def seed_cost_per_million(run: dict[str, Any]) -> dict[str, float]:
    """The seed's design at list prices, per million orders: every order is one Express child
    (billed at its 64 MB minimum for the time its Lambda took), one Lambda request, and one
    write unit or one SQS request."""
    scale = 1_000_000 / run["orders"]
    express_gb_s = run["lambda_gb_s"] / LAMBDA_MEMORY_GB * prices.SFN_EXPRESS_MIN_MEMORY_GB
    return {
        "Step Functions express requests": run["orders"] * prices.SFN_EXPRESS_PER_REQUEST * scale,
        "Step Functions express duration": express_gb_s * prices.SFN_EXPRESS_PER_GB_SECOND * scale,
        "Lambda requests": run["invocations"] * prices.LAMBDA_PER_REQUEST * scale,
        "Lambda duration": run["lambda_gb_s"] * prices.LAMBDA_PER_GB_SECOND * scale,
        "DynamoDB write units": run["stored"] * prices.DYNAMODB_PER_WRITE_UNIT * scale,
        "SQS requests": run["dead_lettered"] * prices.SQS_PER_REQUEST * scale,
    }
