"""The whole path under AWS's weather (orderflow_cli/emulator/weather.py): DynamoDB throttling on
every table, S3 slow-downs, SQS, Step Functions, EventBridge and Lambda throttling, all below
botocore's retry handler. Every order still ends in exactly one place and the batch succeeds."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.dynamo import plain_item
from chalicelib.pipeline.store import ORDER_SHARDS, PARTITION_KEY, OrderStore, RetryPolicy
from orderflow_cli.emulator.runtime import DEFAULT_SENDER, EmbeddedAWS
from orderflow_cli.emulator.weather import Weather
from tests.conftest import dlq_orders, order, run, stored_items, write_orders

# The issue's figure (3% DynamoDB on every table, 2% S3 SlowDown) and the other services' own.
WEATHER = "dynamodb=3%,s3=2%,sqs=1%,sfn=1%,events=1%,lambda=1%,ssm=1%,sts=1%"
ORDERS = 3_000
FAST_RETRIES = {"STORE_RETRY_BASE_SECONDS": "0.005", "CHUNK_MAX_ORDERS": "500"}


def orders_with_invalid(count: int, seed: int, share: float = 0.1) -> tuple[list[Any], set[str]]:
    """`count` orders, about `share` of them invalid (qty zero); returns them and the invalid
    ones' ids."""
    chance = random.Random(seed)
    orders, invalid = [], set()
    for i in range(count):
        bad = chance.random() < share
        orders.append(order(f"w{i}", qty="0" if bad else str(1 + i % 5)))
        if bad:
            invalid.add(f"w{i}")
    return orders, invalid


# Three seeds in `make test`; WEATHER_SEEDS=20 tries twenty (as MODEL_EXAMPLES does for the model).
SEEDS = range(1, 1 + int(os.environ.get("WEATHER_SEEDS", "3")))


@pytest.mark.usefixtures("quick_waits")
@pytest.mark.parametrize("seed", SEEDS)
def test_every_order_ends_in_exactly_one_place_under_the_weather(tmp_path: Path, seed: int) -> None:
    weather = Weather.parse(WEATHER).with_seed(seed)
    orders, invalid = orders_with_invalid(ORDERS, seed)
    path = write_orders(tmp_path / "weather.json", orders)

    with EmbeddedAWS(FAST_RETRIES, map_concurrency=4, weather=weather) as local:
        (batch,) = run(local, path)
        stored = stored_items(local)
        dead = dlq_orders(local)

    # the weather did happen, below the retries, on the services the issue names
    assert weather.injected[next(k for k in weather.injected if k.startswith("dynamodb"))] > 0
    assert sum(n for k, n in weather.injected.items() if k.startswith("dynamodb")) > 30
    # and the batch succeeded with every order in exactly one place
    assert batch["status"] == "succeeded"
    assert (batch["total"], batch["stored"], batch["rejected"]) == (
        ORDERS,
        ORDERS - len(invalid),
        len(invalid),
    )
    rejected = [entry["order_id"] for entry in dead]
    assert len(rejected) == len(set(rejected))  # each rejection once
    assert set(rejected) == invalid
    assert set(stored) == {f"w{i}" for i in range(ORDERS)} - invalid
    assert not set(stored) & set(rejected)
    assert all(entry["reason"] == "invalid" for entry in dead)  # none store_failed


def key_attributes(local: EmbeddedAWS) -> list[dict[str, Any]]:
    """Each stored order's sender, partition key and OrderId: a scan of these alone (moto took
    seconds to serialize 4,500 whole items, for attributes this test does not read)."""
    pages = local.dynamodb.get_paginator("scan").paginate(
        TableName=local.settings.orders_table,
        ProjectionExpression="#sender, #shard, OrderId",
        ExpressionAttributeNames={"#sender": "sender", "#shard": PARTITION_KEY},
    )
    return [plain_item(item) for page in pages for item in page["Items"]]


def test_one_senders_orders_spread_over_many_partition_keys_and_are_listed_from_them(
    tmp_path: Path,
) -> None:
    orders, invalid = orders_with_invalid(5_000, seed=9)
    with EmbeddedAWS({"CHUNK_MAX_ORDERS": "1000"}, map_concurrency=4) as local:
        (batch,) = run(local, write_orders(tmp_path / "five.json", orders))
        run(local, write_orders(tmp_path / "other.json", [order("w1"), order("x")]), sender="zed")
        items = key_attributes(local)
        store = OrderStore(aws.dynamodb(), local.settings.orders_table, RetryPolicy())
        listed = list(store.list_orders(DEFAULT_SENDER, page_size=7))
        kept = next(f"w{i}" for i in range(5_000) if f"w{i}" not in invalid)
        one, none = store.get(DEFAULT_SENDER, kept), store.get(DEFAULT_SENDER, "w5000")

    assert batch["stored"] == 5_000 - len(invalid)
    mine = [i for i in items if i["sender"] == DEFAULT_SENDER]
    keys = {i["sender_shard"] for i in mine}
    # the figure: at least 16 partition key values for a file of 5,000 orders (here
    # about 1,000 of the 1,024: 4,500 orders hashed over 1,024 shards)
    assert len(keys) >= 16
    assert len(keys) > 0.9 * ORDER_SHARDS
    assert all(k.startswith(f"{DEFAULT_SENDER}#") for k in keys)
    busiest = max(sum(1 for i in mine if i["sender_shard"] == k) for k in keys)
    assert busiest < 20  # no shard holds a crowd (4.4 a shard on average)
    # a sender's orders are listed from its shards: all of its own, none of another's
    assert sorted(i["OrderId"] for i in listed) == sorted(i["OrderId"] for i in mine)
    assert {i["sender"] for i in listed} == {DEFAULT_SENDER}
    assert one is not None  # one GetItem finds an order, in whichever shard it is
    assert one["OrderId"] == kept
    assert none is None


def test_a_hard_throttle_slows_the_chunk_down_instead_of_dead_lettering_its_orders(
    tmp_path: Path,
) -> None:
    # given DynamoDB taking 150 writes a second in all (every table), far below what the
    # emulator's writers would send, and each chunk writing with 4 puts in flight
    weather = Weather(dynamodb_writes=150, seed=4)
    orders, invalid = orders_with_invalid(1_500, seed=4)
    overrides = {
        "STORE_WRITERS": "4",
        "CHUNK_MAX_ORDERS": "500",
        "STORE_RETRY_BASE_SECONDS": "0.02",
    }
    with EmbeddedAWS(overrides, map_concurrency=2, weather=weather) as local:
        (batch,) = run(local, write_orders(tmp_path / "hard.json", orders))
        dead = dlq_orders(local)

    throttled = sum(n for k, n in weather.injected.items() if k.startswith("dynamodb"))
    assert throttled > 50  # the limit did bite
    # then the writers slowed down: every valid order stored, none dead-lettered store_failed
    assert batch["status"] == "succeeded"
    assert batch["stored"] == 1_500 - len(invalid)
    assert {entry["reason"] for entry in dead} == {"invalid"}
    assert {entry["order_id"] for entry in dead} == invalid


@pytest.mark.usefixtures("quick_waits")
def test_a_throttled_invocation_is_retried_by_the_state_machine(tmp_path: Path) -> None:
    # given Lambda refusing a third of the state machine's invocations (429, before the
    # function runs), as it does when a function is at its concurrency
    weather = Weather(lambda_=0.35, seed=11)
    orders, invalid = orders_with_invalid(40, seed=11)
    with EmbeddedAWS({"CHUNK_MAX_ORDERS": "5"}, map_concurrency=4, weather=weather) as local:
        (batch,) = run(local, write_orders(tmp_path / "lambda.json", orders))
        dead = dlq_orders(local)

    assert weather.injected["lambda:TooManyRequestsException"] >= 2
    # then the definition's Retry of Lambda.TooManyRequestsException (or RecordBatch, for a
    # chunk whose retries ran out) got every order to its one place
    assert batch["status"] == "succeeded"
    assert batch["stored"] == 40 - len(invalid)
    assert {entry["order_id"] for entry in dead} == invalid
