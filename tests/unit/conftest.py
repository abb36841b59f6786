"""Single-service fixtures: moto (`mock_aws`) holding only the tables and queues a test names.

A unit test of a class that needs one table or one queue gets that one, created from its own
definition in `infra/stack.yaml` (read by the emulator's one reader of the stack,
`cloudformation.Provisioning.for_stage`: the key schema, indexes and queue attributes are never
restated here), named as the local stage's settings name it. Nothing else is made: no bucket,
no state machine, no functions, no event routing. The emulator's moto patches are not applied
(each makes moto faster, or atomic under threads; these tests run one thread and pass with or
without them, which an emulator test run before in the same process leaves applied). A test of
the whole path uses `local` (tests/conftest.py), the whole emulator.

Fixtures: `moto_stack` (the mock, the local stage's settings and fake credentials in the
environment, fresh clients; `moto_stack.table(...)` / `.queue(...)` create by logical id),
and one per resource: `orders_table`, `batches_table`, `reviews_table`, `senders_table` (the
table's name) and `dlq_url` (the dead-letter queue, after its redrive queue).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID

from chalicelib import aws, wiring
from chalicelib.dynamo import plain_item
from chalicelib.settings import Settings, get_settings
from orderflow_cli.emulator.cloudformation import Provisioning
from orderflow_cli.stage import REGION, stage_environment

STAGE = "local"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class MotoStack:
    """The stack's tables and queues, created one at a time by logical id, as the stack defines
    them, inside a running `mock_aws`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.provisioning = _provisioning()
        self._queue_urls: dict[str, str] = {}

    def table(self, logical_id: str) -> str:
        """Creates the table (e.g. `OrdersTable`); returns its name."""
        table = self.provisioning.table(logical_id)
        aws.dynamodb().create_table(**table.definition)
        return table.name

    def queue(self, logical_id: str) -> str:
        """Creates the queue (e.g. `DeadLetterQueue`), after the queue its redrive policy names;
        returns its URL."""
        if logical_id in self._queue_urls:
            return self._queue_urls[logical_id]
        queue = self.provisioning.queue(logical_id)
        policy = queue.attributes.get("RedrivePolicy")
        if policy:
            target = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1]
            (named,) = [q for q in self.provisioning.queues if q.name == target]
            self.queue(named.logical_id)
        url = aws.sqs().create_queue(QueueName=queue.name, Attributes=queue.attributes)["QueueUrl"]
        self._queue_urls[logical_id] = url
        return url

    def scan(self, table: str) -> list[dict[str, Any]]:
        """Every item of the table, as plain values."""
        pages = aws.dynamodb().get_paginator("scan").paginate(TableName=table)
        return [plain_item(item) for page in pages for item in page["Items"]]

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message waiting in the queue (received and deleted), as parsed bodies."""
        bodies: list[dict[str, Any]] = []
        while (
            messages := aws.sqs()
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            .get("Messages", [])
        ):
            bodies += [json.loads(m["Body"]) for m in messages]
            for message in messages:
                aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies


@functools.cache
def _provisioning() -> Provisioning:
    """The stack's resources named for the local stage, as the emulator names them (read once:
    parsing the YAML is slow)."""
    environment = stage_environment(STAGE)
    return Provisioning.for_stage(STAGE, environment, account=DEFAULT_ACCOUNT_ID, region=REGION)


@functools.cache
def _session() -> boto3.session.Session:
    """One session for every test of the process: a new one parses each service's model again
    (half of a test's set-up). Its credentials are the fake ones, read on first use."""
    return boto3.session.Session(region_name=REGION)


def _forget_clients() -> None:
    get_settings.cache_clear()
    aws.reset()
    wiring.scoped_reads.cache_clear()  # its clients belong to the mock that made them


@pytest.fixture
def moto_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    for name, value in {**FAKE_CREDENTIALS, **stage_environment(STAGE)}.items():
        monkeypatch.setenv(name, value)
    _forget_clients()
    try:
        with mock_aws():  # which sets boto3's default session aside until it stops
            boto3.DEFAULT_SESSION = _session()
            yield MotoStack(get_settings())
    finally:
        _forget_clients()


@pytest.fixture
def orders_table(moto_stack: MotoStack) -> str:
    return moto_stack.table("OrdersTable")


@pytest.fixture
def batches_table(moto_stack: MotoStack) -> str:
    return moto_stack.table("BatchesTable")


@pytest.fixture
def reviews_table(moto_stack: MotoStack) -> str:
    return moto_stack.table("ReviewsTable")


@pytest.fixture
def senders_table(moto_stack: MotoStack) -> str:
    return moto_stack.table("SendersTable")


@pytest.fixture
def dlq_url(moto_stack: MotoStack) -> str:
    return moto_stack.queue("DeadLetterQueue")
