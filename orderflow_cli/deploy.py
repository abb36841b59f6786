"""Deployment helpers the Makefile calls (they need AWS credentials; nothing here runs in CI).

python -m orderflow_cli.deploy output STACK KEY      # one output of a CloudFormation stack
python -m orderflow_cli.deploy empty-bucket BUCKET   # every version and delete marker
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


def output(stack: str, key: str) -> str:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    for item in described["Stacks"][0].get("Outputs", []):
        if item["OutputKey"] == key:
            return str(item["OutputValue"])
    raise SystemExit(f"stack {stack} has no output {key}")


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
    if len(argv) == 3 and argv[0] == "output":
        print(output(argv[1], argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "empty-bucket":
        print(f"deleted {empty_bucket(argv[1])} object version(s) from {argv[1]}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
