"""Shared fixtures: the embedded emulator, order builders, fault injection."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from chalicelib import aws, wiring
from chalicelib.pipeline.deadletter import DeadLetterQueue
from chalicelib.pipeline.pacing import PACER_MAX_SECONDS
from chalicelib.settings import Settings
from orderflow_cli.emulator.runtime import DEFAULT_SENDER, EmbeddedAWS
from tests.driver import route_completion_events

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"

# Small chunks so that a handful of orders already spans several Map items, short backoffs so
# that retries do not slow the suite, and several writers in flight in each chunk, as deployed
# (the local stage writes one at a time: on the emulator a put is CPU, not a network wait);
# everything else is the local stage's.
FAST = {"CHUNK_MAX_ORDERS": "3", "STORE_RETRY_BASE_SECONDS": "0.001", "STORE_WRITERS": "4"}


class _Hundredth:
    """`time` as moto's state machine interpreter sees it in these tests: sleeps a hundredth."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds / 100)


@pytest.fixture
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every retry waits a hundredth of its time; what is retried, how often and in what
    order stay the same. Without it the waits were most of these tests' time: the state
    machine's Retry (IntervalSeconds 1, BackoffRate 2: up to 1 + 2 + 4 s in each of
    ValidateOrder and RecordBatch, slept by moto's interpreter), the DLQ's resend pauses (0.1,
    0.2, 0.4 s in each of the nine invocations a refusing DLQ sees), botocore's backoff, and
    the pacer's pauses after throttles (doubling up to 5 s)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    monkeypatch.setattr(retrier_decl, "time", _Hundredth)
    built = wiring.dead_letter_queue

    def dead_letter_queue(stage: Settings) -> DeadLetterQueue:
        dlq = built(stage)
        dlq._sleep = _Hundredth.sleep
        return dlq

    monkeypatch.setattr(wiring, "dead_letter_queue", dead_letter_queue)
    monkeypatch.setattr(wiring, "PACER_MAX_SECONDS", PACER_MAX_SECONDS / 100)
    delay = ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: delay(self, context) / 100
    )


@pytest.fixture
def local() -> Iterator[EmbeddedAWS]:
    # Chunks of one file run concurrently too, as on AWS (the emulator's default is 1).
    with EmbeddedAWS(FAST, map_concurrency=4) as emulator:
        route_completion_events(emulator)  # as a user would route them (tests/driver.py)
        yield emulator


def order(
    order_id: str, qty: Any = "1", email: str = "foo@example.com", **extra: Any
) -> dict[str, Any]:
    return {
        "order-info": {"OrderId": order_id, "item-id": "101", "item-desc": "Item", "qty": qty},
        "contact-info": {"name": "Foo Bar", "email": email},
        **extra,
    }


def write_orders(path: Path, orders: list[Any]) -> Path:
    path.write_text(json.dumps({"orders": orders}))
    return path


def run(local: EmbeddedAWS, *paths: Path, sender: str = DEFAULT_SENDER) -> list[dict[str, Any]]:
    """Uploads the files into the sender's folder, delivers the S3 events, waits; returns the
    batch records in order."""
    keys = [local.upload(p, sender=sender) for p in paths]
    started = dict(local.deliver_s3_events())
    records = []
    for key in keys:
        local.wait(started[key], timeout=120)
        record = local.batches().get(sender, started[key])
        assert record is not None
        records.append(record)
    return records


def stored_items(local: EmbeddedAWS) -> dict[str, dict[str, Any]]:
    return {i["OrderId"]: i for i in local.scan_table(local.settings.orders_table)}


FaultRule = Callable[[int], str | None]


def inject_faults(client: Any, operation: str, rule: FaultRule) -> list[int]:
    """Makes `operation` on `client` fail with the error code `rule(call_number)` returns
    (None lets the call through). Returns the list of call numbers seen, for assertions."""
    calls: list[int] = []

    def before_call(**_: Any) -> Any:
        calls.append(len(calls) + 1)
        code = rule(len(calls))
        if code is None:
            return None
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        error = {"Error": {"Code": code, "Message": f"injected {code}"}}
        parsed = {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://injected", 400, HTTPHeaders(), None), parsed

    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-call.{service}.{operation}", before_call)
    return calls


@pytest.fixture
def dynamodb_client(local: EmbeddedAWS) -> Any:
    return aws.dynamodb()


def dlq_orders(local: EmbeddedAWS) -> list[dict[str, Any]]:
    """Every order of the messages waiting in the DLQ (received and deleted), one entry each
    (its group's `message_id`, `batch_id` and `source`, and its `review_id`)."""
    from orderflow_cli.run import dead_letter_messages, dead_lettered_orders

    return dead_lettered_orders(dead_letter_messages(local.drain_dlq_bodies()))
