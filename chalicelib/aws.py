"""The one place that makes AWS clients: lazily, once per process, never at import time.

Once per process even when threads ask at once (the embedded emulator runs functions in
threads): `functools.cache` alone lets two first callers each make a client, and a caller that
catches `client.exceptions.X` from one client misses the X that the other raised. For the same
reason each client's exception classes are built when it is made, not on first use.

Every client whose calls AWS bills per request (S3, DynamoDB, SQS, EventBridge) is metered
(`chalicelib.metering.attach`): its calls count in the invocation's cost receipt."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3
from botocore.config import Config

from chalicelib.metering import attach

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

# One retry policy for every AWS call the product makes (docs/operations.md, "Retries: one
# policy for every AWS call"): botocore's standard mode, 5 attempts in all (4 retries) of
# throttling (`Throttling*`, `ProvisionedThroughputExceededException`, `SlowDown`,
# `RequestLimitExceeded`, ...) and
# transient errors (HTTP 500/502/503/504, timeouts, dropped connections), each after a delay
# drawn uniformly from [0, 2**retry) seconds (at most 20 s), within the client's retry quota.
# A call whose retries run out raises the last error to its caller.
MAX_ATTEMPTS = 5
RETRIES = Config(retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"})
# The one exception: the orders table's conditional puts, which `chalicelib.pipeline.store`
# retries itself (a per-order budget, counted write units, and back-pressure shared by the
# chunk's writers), so botocore's retries are off for that client: retries never stack.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})

_T = TypeVar("_T")


class _Once(Generic[_T]):
    """`functools.cache` whose first call, from however many threads at once, runs once."""

    def __init__(self, factory: Callable[..., _T]) -> None:
        self._cached = cache(factory)
        self._lock = threading.Lock()
        functools.update_wrapper(self, factory)

    def __call__(self, *args: Hashable) -> _T:
        with self._lock:
            made = self._cached(*args)
            # A client builds its exception classes on first use of `.exceptions`, unlocked:
            # two threads at once each built a set, and an ExecutionAlreadyExists raised from
            # one set escaped `except client.exceptions.ExecutionAlreadyExists` naming the
            # other (the racing-starts test, in CI). Built here, once, under the lock.
            getattr(made, "exceptions", None)
            return made

    def cache_clear(self) -> None:
        with self._lock:
            self._cached.cache_clear()


@_Once
def s3() -> S3Client:
    return attach(boto3.client("s3", config=RETRIES))


@_Once
def s3_presigner(endpoint_url: str = "") -> S3Client:
    """The client that signs upload URLs for clients (at a public endpoint, when one is set)."""
    return boto3.client("s3", **presigner_options(endpoint_url))


def presigner_options(endpoint_url: str = "") -> dict[str, Any]:
    """A signing S3 client's options, for this process's session or a sender's: at a public
    endpoint when one is set (the local server's), else AWS's SigV4."""
    if endpoint_url:
        return {"endpoint_url": endpoint_url, "config": RETRIES}
    return {"config": RETRIES.merge(Config(signature_version="s3v4"))}


@_Once
def dynamodb() -> DynamoDBClient:
    """Every table's reads and writes but the orders table's (batches, senders, reviews)."""
    return attach(boto3.client("dynamodb", config=RETRIES))


@_Once
def order_writes() -> DynamoDBClient:
    """The orders table's client: `OrderStore` retries its calls itself (NO_RETRIES)."""
    return attach(boto3.client("dynamodb", config=NO_RETRIES))


@_Once
def events() -> EventBridgeClient:
    return attach(boto3.client("events", config=RETRIES))


@_Once
def ssm() -> SSMClient:
    return boto3.client("ssm", config=RETRIES)


@_Once
def sqs() -> SQSClient:
    return attach(boto3.client("sqs", config=RETRIES))


@_Once
def sfn() -> SFNClient:
    return boto3.client("stepfunctions", config=RETRIES)


@_Once
def sts() -> STSClient:
    return boto3.client("sts", config=RETRIES)


@_Once
def region() -> str:
    """This function's region (its clients')."""
    return str(sts().meta.region_name)


@_Once
def account_id() -> str:
    """This function's AWS account (GetCallerIdentity needs no permission)."""
    return str(sts().get_caller_identity()["Account"])


def reset() -> None:
    """Forget every client (the embedded emulator calls this after it starts)."""
    for getter in (
        s3,
        s3_presigner,
        dynamodb,
        order_writes,
        events,
        ssm,
        sqs,
        sfn,
        sts,
        region,
        account_id,
    ):
        getter.cache_clear()
