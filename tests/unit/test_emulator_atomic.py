"""The emulator's check-then-act steps are atomic, as AWS's are, now that the local server runs
requests at once: of several callers racing to write one S3 key with `If-None-Match: *`, or to
start one execution name, exactly one does it; a scan meeting writes of new keys finishes."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator.runtime import ACCOUNT, EmbeddedAWS

RACERS = 6
ROUNDS = 30


@pytest.fixture
def fine_grained_switching() -> Iterator[None]:
    """Threads switch often, so that a race window of a few bytecodes is hit."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _race(work: Callable[[int, int], None], rounds: int = ROUNDS) -> None:
    """Runs `work(number, round)` in RACERS threads, each round released at once in all of
    them; re-raises the first failure of any thread."""
    start = threading.Barrier(RACERS)
    failures: list[BaseException] = []

    def run(number: int) -> None:
        for round_ in range(rounds):
            start.wait()
            try:
                work(number, round_)
            except BaseException as error:  # noqa: BLE001 - handed to the test's thread
                failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_of_racing_puts_if_none_match_exactly_one_writes(
    local: EmbeddedAWS, fine_grained_switching: None
) -> None:
    bucket = local.settings.bucket  # versioned, as deployed: a second write is a second version
    wins: dict[str, list[int]] = {f"race/{k}.json": [] for k in range(ROUNDS)}
    refusals: list[str] = []

    def writer(number: int, round_: int) -> None:
        key = f"race/{round_}.json"
        try:
            local.s3.put_object(Bucket=bucket, Key=key, Body=b"{}", IfNoneMatch="*")
        except ClientError as error:
            refusals.append(error.response["Error"]["Code"])
        else:
            wins[key].append(number)

    _race(writer)

    assert set(refusals) == {"PreconditionFailed"}
    several = {key: numbers for key, numbers in wins.items() if len(numbers) != 1}
    assert not several, f"keys written by more or fewer than one writer: {several}"
    versions = local.s3.list_object_versions(Bucket=bucket, Prefix="race/")["Versions"]
    assert len(versions) == ROUNDS


def test_s3_requests_at_once_all_find_their_route(
    local: EmbeddedAWS, fine_grained_switching: None
) -> None:
    """Each S3 request reloads moto's URL module; from several threads at once, a lookup used
    to fail now and then (about 1 in 3,000) with "module moto.s3.urls not in sys.modules"."""
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["aws"]

    def route(_: int, __: int) -> None:
        for _lookup in range(3000):
            assert backend.urls  # what moto computes for each S3 request

    _race(route, rounds=1)  # raises what any thread raised


def test_of_racing_starts_of_one_name_exactly_one_execution_runs(
    local: EmbeddedAWS, fine_grained_switching: None
) -> None:
    machine = local.sfn.create_state_machine(
        name="race",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/race",
    )["stateMachineArn"]
    names = [f"start-{k}" for k in range(ROUNDS)]
    refusals: list[str] = []

    def starter(_: int, round_: int) -> None:
        try:
            local.sfn.start_execution(stateMachineArn=machine, name=names[round_], input="{}")
        except local.sfn.exceptions.ExecutionAlreadyExists as error:
            refusals.append(error.response["Error"]["Code"])

    _race(starter)

    executions = local.sfn.list_executions(stateMachineArn=machine, maxResults=1000)
    started = [e["name"] for e in executions["executions"]]
    assert sorted(started) == sorted(names)  # each name once: one execution per name
    assert set(refusals) <= {"ExecutionAlreadyExists"}


def test_scans_finish_while_new_keys_are_written(
    local: EmbeddedAWS, fine_grained_switching: None
) -> None:
    table = local.settings.orders_table
    seeded = 2000
    for first in range(0, seeded, 25):
        puts: list[Any] = [
            {"PutRequest": {"Item": order_key("s", f"seed-{k}")}} for k in range(first, first + 25)
        ]
        local.dynamodb.batch_write_item(RequestItems={table: puts})

    def work(number: int, round_: int) -> None:
        if number % 3:  # writers of new keys
            for k in range(5):
                key = order_key("s", f"new-{number}-{round_}-{k}")
                local.dynamodb.put_item(TableName=table, Item=key)
        else:  # readers that walk the table
            local.dynamodb.scan(TableName=table, Limit=10)
            local.dynamodb.describe_table(TableName=table)

    _race(work, rounds=10)  # raises what any thread raised ("dictionary changed size ...")

    writers = sum(1 for n in range(RACERS) if n % 3)
    assert local.item_count(table) == seeded + writers * 10 * 5
