"""The stack an operator's command reads: a running `orders serve` or a deployed stage.

`Stack` bundles the clients and the stage's names every operator's command works with;
`connect` opens one and proves it usable with one cheap request, so that each way it cannot be
used is one sentence (`CliError`, exit code 3).

On a deployed stage the caller's credentials are resolved once, before any client is made, and
the last place botocore looks for them, the EC2 instance metadata service, is given
`METADATA_TIMEOUT` to answer (unless the operator chose a timeout): without credentials, a
command says so in well under a second, even where that address swallows packets. Importing
this module imports neither moto nor the emulator, nor the product's heavier modules (the
reviewer, the readers): a command aimed at AWS starts without them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from chalicelib.aws import RETRIES
from orderflow_cli.exits import CliError, ExitCode
from orderflow_cli.stage import REGION, stage_environment, stages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.review.archive import Archive
    from chalicelib.review.records import ReviewRecords
    from chalicelib.senders import SenderRegistry

_EMULATOR_KEY = "testing"  # the emulator accepts any credentials; moto's documented dummy
# A local endpoint answers at once or not at all: fail in seconds, not after a minute of retries.
_EMULATOR_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2})
# An instance's metadata service answers in a few milliseconds; botocore waits 1 s per request
# (a token, then the role) where nothing answers, as on most laptops, where no credentials
# anywhere is the common case. An operator who relies on an instance's role and finds this too
# short sets AWS_METADATA_SERVICE_TIMEOUT (or the profile's metadata_service_timeout).
METADATA_TIMEOUT = 0.1
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


@dataclass
class Stack:
    """The clients of one stack and its stage's names (the functions' environment). The
    product's objects over them are imported when first asked for: a command that stops at
    `connect` never imports them."""

    s3: S3Client
    dynamodb: DynamoDBClient
    sqs: SQSClient
    names: dict[str, str]
    sfn: SFNClient | None = None  # for `orders batches redrive`
    emulated: bool = False  # the emulated AWS of `orders serve`, not a stage on AWS
    ssm: SSMClient | None = None  # for `orders senders link` (the stage's link secret)

    @property
    def reviews(self) -> ReviewRecords:
        from chalicelib.review.records import ReviewRecords

        return ReviewRecords(self.dynamodb, self.names["REVIEWS_TABLE"])

    @property
    def archive(self) -> Archive:
        from chalicelib.review.archive import Archive

        return Archive(self.s3, self.names["BUCKET_NAME"], self.names["ARCHIVE_PREFIX"])

    @property
    def senders(self) -> SenderRegistry:
        from chalicelib.senders import SenderRegistry

        return SenderRegistry(self.dynamodb, self.names["SENDERS_TABLE"])

    def sender_for(self, named: str | None) -> str:
        """The sender an operator's command is about: the one named, else the installation's
        only sender. Raises SenderError when there are several and none was named."""
        from chalicelib.senders import SenderError

        if named:
            return named
        every = self.senders.every()
        if len(every) == 1:
            return every[0].sender_id
        if not every:
            raise SenderError("there are no senders yet (orders senders add ID --name NAME)")
        raise SenderError(
            f"there are {len(every)} senders: name one with --sender"
            f" ({', '.join(s.sender_id for s in every[:5])}{', ...' if len(every) > 5 else ''})"
        )


def open_stack(endpoint: str | None, stage: str) -> Stack:
    """Clients and resource names: at `endpoint` (the local server's emulated AWS, with the
    emulator's dummy credentials), or AWS itself with the caller's own credentials (raises
    NoCredentialsError at once when there are none)."""
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
            ssm=session.client("ssm", endpoint_url=endpoint, config=_EMULATOR_CONFIG),
            emulated=True,
        )
    session = _aws_session()
    return Stack(  # the product's one retry policy (chalicelib.aws.RETRIES), as its functions
        session.client("s3", config=RETRIES),
        session.client("dynamodb", config=RETRIES),
        session.client("sqs", config=RETRIES),
        names,
        sfn=session.client("stepfunctions", config=RETRIES),
        ssm=session.client("ssm", config=RETRIES),
    )


def _aws_session() -> boto3.session.Session:
    """The caller's session on AWS, its credentials resolved once for every client (botocore
    would look again for each client while it finds none). Its region: AWS_REGION, else
    botocore's (AWS_DEFAULT_REGION, the profile's), else `REGION`."""
    core = botocore.session.get_session()
    if not _operator_set_metadata_timeout(core):  # the store's override keeps a fraction (the
        # session's own setting would round it to whole seconds)
        store = core.get_component("config_store")
        store.set_config_variable("metadata_service_timeout", METADATA_TIMEOUT)
    if core.get_credentials() is None:
        raise NoCredentialsError()
    region = os.environ.get("AWS_REGION") or core.get_config_variable("region") or REGION
    return boto3.session.Session(botocore_session=core, region_name=region)


def _operator_set_metadata_timeout(core: botocore.session.Session) -> bool:
    return bool(
        os.environ.get("AWS_METADATA_SERVICE_TIMEOUT")
        or core.get_scoped_config().get("metadata_service_timeout")
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
    table = stage_environment(stage)["BATCHES_TABLE"]
    try:
        stack = open_stack(endpoint, stage)
        stack.dynamodb.describe_table(TableName=table)
    except ClientError as error:
        raise _refused(error, endpoint, stage, table) from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise CliError(
            f"no --endpoint, and no AWS credentials for stage {stage}: give --endpoint URL"
            f" ({_SERVE_HINT}), or configure credentials (aws configure, AWS_PROFILE)",
            ExitCode.UNREACHABLE,
        ) from error
    except ProfileNotFound as error:
        raise CliError(
            f"{error} (AWS_PROFILE): name one that `aws configure list-profiles` shows",
            ExitCode.UNREACHABLE,
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
