"""The stack the `orders` command reads: a running `orders serve` or a deployed stage."""

from __future__ import annotations

import os

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from chalicelib.aws import RETRIES
from orderflow_cli.dlq import Stack
from orderflow_cli.exits import CliError, ExitCode
from orderflow_cli.stage import REGION, stage_environment, stages

_EMULATOR_KEY = "testing"  # the emulator accepts any credentials; moto's documented dummy
# A local endpoint answers at once or not at all: fail in seconds, not after a minute of retries.
_EMULATOR_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2})
_SERVE_HINT = "the 'emulated S3' address that `orders serve` printed"
# What AWS answers for credentials it does not accept.
_REFUSED_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
    "AccessDeniedException",
}


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
            session.client("s3", endpoint_url=endpoint, config=_EMULATOR_CONFIG),
            session.client("dynamodb", endpoint_url=endpoint, config=_EMULATOR_CONFIG),
            session.client("sqs", endpoint_url=endpoint, config=_EMULATOR_CONFIG),
            names,
            sfn=session.client("stepfunctions", endpoint_url=endpoint, config=_EMULATOR_CONFIG),
            emulated=True,
        )
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION", REGION))
    return Stack(  # the product's one retry policy (chalicelib.aws.RETRIES), as its functions
        session.client("s3", config=RETRIES),
        session.client("dynamodb", config=RETRIES),
        session.client("sqs", config=RETRIES),
        names,
        sfn=session.client("stepfunctions", config=RETRIES),
    )


def connect(endpoint: str | None, stage: str) -> Stack:
    """`open_stack`, checked with one cheap request (DescribeTable of the batches table) so that
    every way it cannot work is one sentence (`CliError`, exit code 3) before the command
    starts: nothing answers at the endpoint, something answers that is not the emulated AWS
    (the API's own port), no credentials or refused ones, a stage that is not deployed."""
    if stage not in stages():
        raise CliError(
            f"there is no stage {stage!r} (.chalice/config.json has {', '.join(stages())})",
            ExitCode.USAGE,
        )
    stack = open_stack(endpoint, stage)
    table = stack.names["BATCHES_TABLE"]
    try:
        stack.dynamodb.describe_table(TableName=table)
    except ClientError as error:
        raise _refused(error, endpoint, stage, table) from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise CliError(
            f"no --endpoint, and no AWS credentials for stage {stage}: give --endpoint URL"
            f" ({_SERVE_HINT}), or configure credentials (aws configure, AWS_PROFILE)",
            ExitCode.UNREACHABLE,
        ) from error
    except NoRegionError as error:
        raise CliError(
            "no AWS region: set AWS_REGION (or aws configure set region ...)", ExitCode.UNREACHABLE
        ) from error
    except (EndpointUnreachable, HTTPClientError) as error:  # refused, timed out, closed, DNS
        where = endpoint or f"AWS (stage {stage})"
        hint = f": give --endpoint {_SERVE_HINT}" if endpoint else ""
        raise CliError(f"nothing answers at {where}{hint}", ExitCode.UNREACHABLE) from error
    except BotoCoreError as error:  # an answer botocore cannot read: not DynamoDB's protocol
        raise CliError(_not_the_emulator(endpoint, stage), ExitCode.UNREACHABLE) from error
    return stack


def _refused(error: ClientError, endpoint: str | None, stage: str, table: str) -> CliError:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code == "ResourceNotFoundException":
        where = f"the emulated AWS at {endpoint}" if endpoint else f"AWS (stage {stage})"
        why = (
            f"is it {_SERVE_HINT}, and is --stage right?"
            if endpoint
            else "deploy it first (make deploy STAGE=...)"
        )
        return CliError(f"{where} has no table {table}: {why}", ExitCode.UNREACHABLE)
    if not endpoint and code in _REFUSED_CREDENTIALS:
        message = str(error.response.get("Error", {}).get("Message", code))
        return CliError(
            f"AWS refused the credentials for stage {stage}: {message}", ExitCode.UNREACHABLE
        )
    return CliError(_not_the_emulator(endpoint, stage), ExitCode.UNREACHABLE)


def _not_the_emulator(endpoint: str | None, stage: str) -> str:
    if endpoint:
        return (
            f"{endpoint} answers, but not as the emulated AWS (is it the API's address?):"
            f" give --endpoint {_SERVE_HINT}"
        )
    return f"AWS did not answer as DynamoDB does for stage {stage}"
