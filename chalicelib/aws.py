"""The one place that makes AWS clients: lazily, once per process, never at import time."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

# DynamoDB writes are retried by chalicelib.pipeline.store (3 retries, named errors, full
# jitter), so botocore's own retries are switched off for that client: one policy, not two.
_NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@cache
def s3() -> S3Client:
    return boto3.client("s3")


@cache
def s3_presigner(endpoint_url: str = "") -> S3Client:
    """The client that signs upload URLs for clients (at a public endpoint, when one is set)."""
    if endpoint_url:
        return boto3.client("s3", endpoint_url=endpoint_url)
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_NO_RETRIES)


@cache
def events() -> EventBridgeClient:
    return boto3.client("events")


@cache
def ssm() -> SSMClient:
    return boto3.client("ssm")


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs")


@cache
def sfn() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def sts() -> STSClient:
    return boto3.client("sts")


@cache
def region() -> str:
    """This function's region (its clients')."""
    return str(sts().meta.region_name)


@cache
def account_id() -> str:
    """This function's AWS account (GetCallerIdentity needs no permission)."""
    return str(sts().get_caller_identity()["Account"])


def reset() -> None:
    """Forget every client (the embedded emulator calls this after it starts)."""
    for getter in (s3, s3_presigner, dynamodb, events, ssm, sqs, sfn, sts, region, account_id):
        getter.cache_clear()
