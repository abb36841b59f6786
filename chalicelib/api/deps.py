"""What a route works with: the clients and settings it is given (`Deps`), and the stores it
reads for one sender (`Reads`), made from clients held to that sender where a reader role is
set (scope.py). Routes never make a client of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.api.scope import ReadClients, ScopedReads
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.store import OrderStore, RetryPolicy
from chalicelib.review.records import ReviewRecords
from chalicelib.senders import SenderRegistry
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@dataclass(frozen=True)
class Deps:
    """The clients and settings a route needs."""

    settings: Settings
    s3: S3Client
    sfn: SFNClient
    dynamodb: DynamoDBClient
    presigner: S3Client
    review_page_size: int | None = None  # items per DynamoDB request over reviews (tests: small)
    scoped: ScopedReads | None = None  # reads held to the caller's sender (scope.py), if set
    idempotency_key: Callable[[], bytes] = lambda: b""  # the key of seeded batch ids

    @property
    def batches(self) -> BatchRecords:
        """The batch records, for the API's writes (a batch it promises)."""
        return BatchRecords(self.dynamodb, self.settings.batches_table)

    @property
    def senders(self) -> SenderRegistry:
        """The senders table, for the caller's own profile (read and written by its id)."""
        return SenderRegistry(self.dynamodb, self.settings.senders_table)

    def reads(self, sender: str) -> Reads:
        """What a route reads for `sender`, with clients held to that sender where a reader
        role is set."""
        clients = (
            self.scoped.clients(sender)
            if self.scoped is not None
            else ReadClients(self.dynamodb, self.presigner)
        )
        return Reads(
            batches=BatchRecords(clients.dynamodb, self.settings.batches_table),
            orders=OrderStore(clients.dynamodb, self.settings.orders_table, RetryPolicy()),
            reviews=ReviewRecords(
                clients.dynamodb, self.settings.reviews_table, page_size=self.review_page_size
            ),
            presigner=clients.presigner,
        )


@dataclass(frozen=True)
class Reads:
    """The stores a route reads, all made from one sender's clients."""

    batches: BatchRecords
    orders: OrderStore
    reviews: ReviewRecords
    presigner: S3Client
