"""The emulator's DynamoDB conditional writes are atomic, as AWS's are: of several writers
racing to create one key with `attribute_not_exists`, exactly one succeeds (found by the
conservation model: two concurrent files both "stored" one OrderId, the second overwriting)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator.runtime import EmbeddedAWS

WRITERS = 6
KEYS = 40


@pytest.fixture
def fine_grained_switching() -> Iterator[None]:
    """Threads switch often, so that a race window of a few bytecodes is hit."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_of_racing_conditional_puts_exactly_one_wins(
    local: EmbeddedAWS, fine_grained_switching: None
) -> None:
    table = local.settings.orders_table
    client = local.dynamodb
    wins: dict[str, list[int]] = {f"race-{k}": [] for k in range(KEYS)}
    start = threading.Barrier(WRITERS)
    refusals: list[str] = []

    def writer(number: int) -> None:
        start.wait()
        for key in wins:
            try:
                client.put_item(
                    TableName=table,
                    Item={**order_key("demo", key), "writer": {"N": str(number)}},
                    ConditionExpression="attribute_not_exists(OrderId)",
                )
            except ClientError as error:
                refusals.append(error.response["Error"]["Code"])
            else:
                wins[key].append(number)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(refusals) == {"ConditionalCheckFailedException"}
    assert len(refusals) == KEYS * (WRITERS - 1)
    several = {key: numbers for key, numbers in wins.items() if len(numbers) != 1}
    assert not several, f"keys written by more or fewer than one writer: {several}"
    for key, (winner,) in wins.items():
        item = client.get_item(TableName=table, Key=order_key("demo", key))["Item"]
        assert item["writer"] == {"N": str(winner)}  # the winner's item was never replaced
