"""Builds the pipeline's objects from the stage's settings and the shared clients.

Handlers call these; tests build the same objects with their own clients instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from chalicelib import aws, metering
from chalicelib.api.scope import ReadScope, ScopedReads
from chalicelib.api.service import Deps
from chalicelib.callbacks import parse_secrets
from chalicelib.costs import Requests
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.chunks import ChunkStore
from chalicelib.pipeline.deadletter import DeadLetterQueue
from chalicelib.pipeline.events import CompletionEvents
from chalicelib.pipeline.naming import BatchKeys
from chalicelib.pipeline.pacing import PACER_MAX_SECONDS, Pacer
from chalicelib.pipeline.store import OrderStore, RetryPolicy
from chalicelib.review.archive import Archive
from chalicelib.review.records import ReviewRecords
from chalicelib.review.reviewer import Reviewer
from chalicelib.senders import SenderRegistry
from chalicelib.settings import Settings
from chalicelib.web import pages


@contextmanager
def metered() -> Iterator[Requests]:
    """One invocation's meter: every AWS call made inside (in its threads too) counts in the
    `Requests` it yields, and in no other invocation's (chalicelib.metering)."""
    with metering.metered() as requests:
        yield requests


def batch_keys(settings: Settings, sender: str, batch_id: str) -> BatchKeys:
    return BatchKeys(batch_id, sender, settings.work_prefix, settings.quarantine_prefix)


def chunk_store(settings: Settings, sender: str, batch_id: str) -> ChunkStore:
    return ChunkStore(aws.s3(), settings.bucket, batch_keys(settings, sender, batch_id))


def batch_records(settings: Settings) -> BatchRecords:
    return BatchRecords(aws.dynamodb(), settings.batches_table)


def order_store(settings: Settings) -> OrderStore:
    policy = RetryPolicy(
        max_retries=settings.store_max_retries,
        max_throttle_retries=settings.store_max_throttle_retries,
        base_seconds=settings.store_retry_base_seconds,
        max_seconds=settings.store_retry_max_seconds,
    )
    pacer = Pacer(
        settings.store_writers,
        base_seconds=settings.store_retry_base_seconds,
        max_seconds=PACER_MAX_SECONDS,
    )
    return OrderStore(aws.order_writes(), settings.orders_table, policy, pacer=pacer)


def api_deps(settings: Settings) -> Deps:
    return Deps(
        settings=settings,
        s3=aws.s3(),
        sfn=aws.sfn(),
        dynamodb=aws.dynamodb(),
        presigner=aws.s3_presigner(settings.s3_public_endpoint),
        scoped=scoped_reads(settings),
        idempotency_key=lambda: idempotency_key(settings.idempotency_secret_parameter),
    )


@cache
def upload_origin(settings: Settings) -> str:
    """The origin the API's upload URLs point at (the page's policy allows connecting to it)."""
    return pages.s3_origin(aws.s3_presigner(settings.s3_public_endpoint), settings.bucket)


@cache
def idempotency_key(parameter: str) -> bytes:
    """The key of the batch ids an Idempotency-Key seeds, read once per process."""
    return _secret(parameter).encode()


@cache
def link_key(parameter: str) -> bytes:
    """The key that signs upload links (chalicelib/api/links.py), read once per process."""
    return _secret(parameter).encode()


def link_keys(settings: Settings) -> Callable[[], bytes]:
    """The authorizer's way to the link key: read when a link is first presented."""
    return lambda: link_key(settings.link_secret_parameter)


def _secret(parameter: str) -> str:
    """A stage secret's text: an SSM parameter, or a Secrets Manager secret through SSM's
    `/aws/reference/secretsmanager/` path, as config.json names it."""
    return aws.ssm().get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]


@cache
def scoped_reads(settings: Settings) -> ScopedReads | None:
    """The API's reads held to one sender each, once per process; None without a reader role."""
    if not settings.api_read_role_arn:
        return None
    return ScopedReads(
        aws.sts(),
        settings.api_read_role_arn,
        read_scope(settings),
        region=aws.region(),
        s3_endpoint=settings.s3_public_endpoint,
    )


def read_scope(settings: Settings) -> ReadScope:
    """What the API's reads may touch: the stage's orders, batches and reviews tables, and the
    bucket's work (reports) and archive folders."""
    table = f"arn:aws:dynamodb:{aws.region()}:{aws.account_id()}:table/"
    tables = (settings.batches_table, settings.reviews_table)
    return ReadScope(
        table_arns=tuple(table + name for name in tables),
        sharded_table_arns=(table + settings.orders_table,),
        bucket_arn=f"arn:aws:s3:::{settings.bucket}",
        prefixes=(settings.work_prefix, settings.archive_prefix),
    )


def sender_registry(settings: Settings) -> SenderRegistry:
    return SenderRegistry(aws.dynamodb(), settings.senders_table)


def completion_events(settings: Settings) -> CompletionEvents:
    return CompletionEvents(aws.events(), settings.event_bus)


@cache
def callback_secrets(parameter: str) -> tuple[bytes, ...]:
    """The stage's webhook signing keys, read once per process: the parameter holds one secret,
    or several separated by spaces or new lines while one is rotated (every one signs), each
    `whsec_<base64 key>` or a raw secret whose bytes are the key."""
    return parse_secrets(_secret(parameter))


def reviewer(settings: Settings) -> Reviewer:
    return Reviewer(
        store=order_store(settings),
        archive=archive(settings),
        records=review_records(settings),
    )


def archive(settings: Settings) -> Archive:
    return Archive(aws.s3(), settings.bucket, settings.archive_prefix)


def review_records(settings: Settings) -> ReviewRecords:
    return ReviewRecords(aws.dynamodb(), settings.reviews_table)


def dead_letter_queue(settings: Settings) -> DeadLetterQueue:
    return DeadLetterQueue(aws.sqs(), settings.dlq_url)
