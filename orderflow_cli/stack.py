"""Clients for a stack the `orders` command reads: a running `orders serve` or a deployed stage."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_EMULATOR_KEY = "testing"  # the emulator accepts any credentials; moto's documented dummy


def clients_for(endpoint: str | None, region: str) -> tuple[S3Client, DynamoDBClient]:
    """S3 and DynamoDB clients: at `endpoint` (the local server's emulated AWS, with the
    emulator's dummy credentials), or AWS itself with the caller's own credentials."""
    if endpoint:
        session = boto3.session.Session(
            region_name=region,
            aws_access_key_id=_EMULATOR_KEY,
            aws_secret_access_key=_EMULATOR_KEY,
        )
        return (
            session.client("s3", endpoint_url=endpoint),
            session.client("dynamodb", endpoint_url=endpoint),
        )
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION", region))
    return session.client("s3"), session.client("dynamodb")
