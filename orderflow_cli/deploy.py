"""Deployment helpers the Makefile calls (they need AWS credentials; nothing here runs in CI).

python -m orderflow_cli.deploy credentials          # the account, or why there is none
python -m orderflow_cli.deploy output STACK KEY      # one output of a CloudFormation stack
python -m orderflow_cli.deploy empty-bucket BUCKET   # every version and delete marker

A missing credential, region or stack is one sentence on stderr and exit code 3 (README, exit
codes of `orders`), never a traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from orderflow_cli.exits import ExitCode

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


class DeployError(Exception):
    """Why a deployment step cannot go on, in one sentence."""


def account() -> str:
    """The account the caller's credentials belong to."""
    return str(boto3.client("sts").get_caller_identity()["Account"])


def output(stack: str, key: str) -> str:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    for item in described["Stacks"][0].get("Outputs", []):
        if item["OutputKey"] == key:
            return str(item["OutputValue"])
    raise DeployError(f"stack {stack} has no output {key}")


def empty_bucket(bucket: str) -> int:
    """Deletes every object version and delete marker, so the stack can delete the bucket."""
    s3 = boto3.client("s3")
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed: list[ObjectIdentifierTypeDef] = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
        deleted += len(doomed)
    return deleted


def main(argv: list[str]) -> int:
    try:
        if argv == ["credentials"]:
            print(f"AWS account {account()}")
            return 0
        if len(argv) == 3 and argv[0] == "output":
            print(output(argv[1], argv[2]))
            return 0
        if len(argv) == 2 and argv[0] == "empty-bucket" and argv[1]:
            print(f"deleted {empty_bucket(argv[1])} object version(s) from {argv[1]}")
            return 0
    except (NoCredentialsError, PartialCredentialsError):
        _say("no AWS credentials: configure them (aws configure, or AWS_PROFILE); see README,"
             " Deployment")  # fmt: skip
    except NoRegionError:
        _say("no AWS region: set AWS_REGION (make passes AWS_DEFAULT_REGION), or aws configure")
    except ClientError as error:
        details = error.response.get("Error", {})
        _say(f"AWS refused {error.operation_name}: {details.get('Message') or details.get('Code')}")
    except (BotoCoreError, DeployError) as error:
        _say(str(error))
    else:
        print(__doc__, file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.UNREACHABLE


def _say(sentence: str) -> None:
    print(f"orderflow deploy: {sentence}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
