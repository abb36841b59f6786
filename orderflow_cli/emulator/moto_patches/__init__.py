"""The patches the embedded emulator applies to moto (5.2.x), one module per service, and why.

Nothing the product sends or reads changes; each patch makes the emulator behave as AWS does
(atomic conditional writes and starts, the version id in S3 events) or cost what AWS costs (an
SQS send or receive, a DynamoDB Query or item, independent of the queue's or table's size).
Each module's docstring says, patch by patch, what moto does upstream and what the patch does:

- `sqs`: send and receive cost independent of the queue's depth;
- `s3`: `versionId` in event records, atomic conditional PUTs, moto's URL reload serialised;
- `dynamodb`: atomic conditional writes, a linear item size check, a Query of one partition;
- `sfn`: atomic execution starts, a Distributed Map's items in a loop, not by recursion;
- `core`: an account's backends looked up without moto's global lock.

Every patch is idempotent; `apply_all` applies them all (the emulator does, once a mock runs).
"""

from __future__ import annotations

from orderflow_cli.emulator.moto_patches.core import patch_backend_lookup_lock
from orderflow_cli.emulator.moto_patches.dynamodb import (
    patch_dynamodb_atomic_writes,
    patch_dynamodb_item_size,
    patch_dynamodb_query_by_partition,
)
from orderflow_cli.emulator.moto_patches.s3 import (
    patch_s3_atomic_puts,
    patch_s3_event_version_ids,
    patch_s3_url_reload,
)
from orderflow_cli.emulator.moto_patches.sfn import (
    patch_distributed_map_loop,
    patch_sfn_atomic_starts,
)
from orderflow_cli.emulator.moto_patches.sqs import patch_sqs_receive_depth, patch_sqs_send_depth

__all__ = [
    "apply_all",
    "patch_backend_lookup_lock",
    "patch_distributed_map_loop",
    "patch_dynamodb_atomic_writes",
    "patch_dynamodb_item_size",
    "patch_dynamodb_query_by_partition",
    "patch_s3_atomic_puts",
    "patch_s3_event_version_ids",
    "patch_s3_url_reload",
    "patch_sfn_atomic_starts",
    "patch_sqs_receive_depth",
    "patch_sqs_send_depth",
]


def apply_all() -> None:
    """Applies every patch of this package (each once per process)."""
    patch_sqs_send_depth()
    patch_sqs_receive_depth()
    patch_s3_event_version_ids()
    patch_dynamodb_atomic_writes()
    patch_dynamodb_item_size()
    patch_dynamodb_query_by_partition()
    patch_s3_atomic_puts()
    patch_s3_url_reload()
    patch_sfn_atomic_starts()
    patch_backend_lookup_lock()
    patch_distributed_map_loop()
