"""Credentials held to one sender: defence in depth for the API's reads.

Every read a route makes is already keyed by the caller's sender (the stores take it). So
that a mistake in a query still cannot return another sender's data, the API reads orders,
batches, reviews and reports with credentials of their own: it assumes the stage's reader role
(`API_READ_ROLE_ARN`, infra/stack.yaml) with a session policy that allows only

- `GetItem` and `Query` on the orders, batches and reviews tables, for items whose partition
  key is the sender's (`dynamodb:LeadingKeys`: the sender itself on the batches and reviews
  tables, `<sender>#*` on the orders table, whose keys are the sender's shards), `Query` on
  the batches and reviews tables' indexes under the same condition (their partition key is
  the sender too: GET /batches reads `by_created`), and
- `GetObject` under the sender's own folders of the bucket (its work files, which hold its
  reports, and its archive).

A session's permissions are the intersection of the role's and the session policy's, so the
narrow one decides. Credentials are kept per sender for most of their life (15 minutes), so a
busy sender costs one AssumeRole call per warm function every few minutes, not one per request.

Where no reader role is set (the embedded emulator's default), the function's own clients are
used: moto does not evaluate IAM, so there the session policy could only be asked for, not
enforced; tests ask for it and check the policy asked for.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from chalicelib import aws
from chalicelib.pipeline.naming import sender_folder
from chalicelib.pipeline.store import leading_keys_pattern
from chalicelib.senders import SENDER_ID

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

SESSION_SECONDS = 900  # AssumeRole's shortest session
_RENEW_BEFORE_SECONDS = 120  # a presigned report URL lives on for a while after it is made
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What a sender's reads may touch: the tables' ARNs and the bucket's."""

    table_arns: tuple[str, ...]  # keyed by the sender itself (batches, reviews)
    bucket_arn: str
    prefixes: tuple[str, ...]  # the bucket's prefixes that hold a sender's folders (work/, ...)
    sharded_table_arns: tuple[str, ...] = ()  # keyed by `<sender>#<shard>` (orders)


def session_policy(sender: str, scope: ReadScope) -> dict[str, Any]:
    """The session policy of one sender's reads: its items and its objects, nothing else."""
    if not SENDER_ID.fullmatch(sender):  # `*`, `?` or `#` would widen the patterns below
        raise ValueError(f"not a sender id: {sender!r}")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnItems",
                "Effect": "Allow",
                "Action": list(READ_ACTIONS),
                "Resource": list(scope.table_arns),
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [sender]}},
            },
            {
                "Sid": "OwnShardedItems",
                "Effect": "Allow",
                "Action": list(READ_ACTIONS),
                "Resource": list(scope.sharded_table_arns),
                "Condition": {
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [leading_keys_pattern(sender)]
                    }
                },
            },
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [
                    f"{scope.bucket_arn}/{sender_folder(prefix, sender)}*"
                    for prefix in scope.prefixes
                ],
            },
            {
                # the indexes of the tables keyed by the sender (GET /batches reads the batches
                # table's `by_created`): queries only, still of the sender's items alone,
                # whatever the index (dynamodb:LeadingKeys is the partition key value a query
                # names); the reader role allows only the indexes the API reads (stack.yaml)
                "Sid": "OwnIndexedItems",
                "Effect": "Allow",
                "Action": ["dynamodb:Query"],
                "Resource": [f"{arn}/index/*" for arn in scope.table_arns],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [sender]}},
            },
        ],
    }


@dataclass(frozen=True, slots=True)
class ReadClients:
    dynamodb: DynamoDBClient
    presigner: S3Client


class ScopedReads:
    """Clients held to one sender each, made from the reader role and kept until shortly
    before their credentials expire."""

    def __init__(
        self,
        sts: STSClient,
        role_arn: str,
        scope: ReadScope,
        *,
        region: str,
        s3_endpoint: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sts = sts
        self._region = region
        self._role_arn = role_arn
        self._scope = scope
        self._s3_endpoint = s3_endpoint
        self._clock = clock
        self._kept: dict[str, tuple[float, ReadClients]] = {}
        self._lock = threading.Lock()

    def clients(self, sender: str) -> ReadClients:
        with self._lock:
            kept = self._kept.get(sender)
            if kept is not None and kept[0] - _RENEW_BEFORE_SECONDS > self._clock():
                return kept[1]
        answer = self._sts.assume_role(
            RoleArn=self._role_arn,
            RoleSessionName=f"sender-{sender}"[:64],
            Policy=json.dumps(session_policy(sender, self._scope)),
            DurationSeconds=SESSION_SECONDS,
        )
        credentials = answer["Credentials"]
        session = boto3.session.Session(
            region_name=self._region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        clients = ReadClients(
            dynamodb=session.client("dynamodb", config=aws.RETRIES),
            presigner=session.client("s3", **aws.presigner_options(self._s3_endpoint)),
        )
        expires = credentials["Expiration"].timestamp()
        with self._lock:
            self._kept[sender] = (expires, clients)
        return clients
