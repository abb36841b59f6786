"""`chalicelib.aws` makes one client of each kind per process, even when the emulator's threads
ask for the first one at once. No resource is needed: moto (`moto_stack`, tests/unit/conftest.py)
only stands behind the clients with the local stage's region and fake credentials."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib import aws


@pytest.mark.usefixtures("moto_stack")
def test_threads_asking_at_once_share_one_client() -> None:
    aws.reset()
    racers = 8
    start = threading.Barrier(racers)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(aws.sfn())

    threads = [threading.Thread(target=ask) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == racers
    assert len({id(client) for client in got}) == 1
    assert aws.sfn() is got[0]  # and it is the one kept
    aws.reset()
    assert aws.sfn() is not got[0]  # reset still forgets it


@pytest.mark.usefixtures("moto_stack")
def test_a_clients_exception_classes_are_built_when_it_is_made() -> None:
    # botocore builds them on first use of `.exceptions`, unlocked: two threads at once each
    # built a set, and one's ExecutionAlreadyExists escaped an `except` naming the other's
    aws.reset()
    clients: list[Any] = [aws.sfn(), aws.s3(), aws.dynamodb(), aws.order_writes(), aws.sqs()]
    for client in clients:
        assert client._exceptions is not None
    aws.reset()


@pytest.mark.usefixtures("moto_stack")
def test_every_client_but_the_orders_tables_retries_with_the_one_policy() -> None:
    retried: list[Any] = [aws.s3(), aws.dynamodb(), aws.sqs(), aws.sfn(), aws.events()]
    retried += [aws.sts(), aws.ssm(), aws.s3_presigner("")]
    for client in retried:
        retries = client.meta.config.retries
        assert (retries["mode"], retries["total_max_attempts"]) == ("standard", 5), client
    writes: Any = aws.order_writes()
    orders = writes.meta.config.retries
    assert orders["total_max_attempts"] == 1  # OrderStore retries its own puts
