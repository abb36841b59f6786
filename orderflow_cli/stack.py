"""The stack the `orders` command reads: a running `orders serve` or a deployed stage."""

from __future__ import annotations

import os

import boto3

from orderflow_cli.dlq import Stack
from orderflow_cli.emulator.runtime import REGION, stage_environment

_EMULATOR_KEY = "testing"  # the emulator accepts any credentials; moto's documented dummy


def open_stack(endpoint: str | None, stage: str) -> Stack:
    """Clients and resource names: at `endpoint` (the local server's emulated AWS, with the
    emulator's dummy credentials), or AWS itself with the caller's own credentials."""
    names = stage_environment(stage)
    if endpoint:
        session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=_EMULATOR_KEY,
            aws_secret_access_key=_EMULATOR_KEY,
        )
        return Stack(
            session.client("s3", endpoint_url=endpoint),
            session.client("dynamodb", endpoint_url=endpoint),
            session.client("sqs", endpoint_url=endpoint),
            names,
        )
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION", REGION))
    return Stack(session.client("s3"), session.client("dynamodb"), session.client("sqs"), names)
