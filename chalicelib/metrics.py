"""CloudWatch metrics in the Embedded Metric Format (EMF): one JSON document per line.

On Lambda a function's output goes to CloudWatch Logs, which turns every line that is an EMF
document into metrics of the namespace `orderflow` (no PutMetricData call, no permission, no
latency on the order path). Each document names its metrics and dimension sets in
`_aws.CloudWatchMetrics`, and carries the values, the dimensions' values and a few properties
(a batch id, never an order's content) as top-level members. Every metric has the dimension
`Stage`; the functions below add the others: `Reason`, `Status`, `Decision`, `Ended`,
`Outcome`, and `Sender` where the caller knows the sender (API routes today; the pipeline
once the sender travels with it).

The output is injectable (`set_output`, `capture`): Lambda writes to stdout, the embedded
emulator keeps the lines in memory (its stdout is the `orders` command's), and tests read
them. Metrics are best effort: a failure to write one is logged and never fails the work it
measures.

Why not Powertools for AWS Lambda: measured on 2026-11-26 (see the commit that added this
module), its Metrics and Tracer add about 1.3 MB zipped (6.2 MB unpacked with aws-xray-sdk and
wrapt) to a 3.2 MB bundle, and about 60 ms (Metrics) plus 300-450 ms (Tracer: importing
aws-xray-sdk and patching) to every cold start; EMF itself is this page of code.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal

from chalicelib.log import get_logger

NAMESPACE = "orderflow"
Unit = Literal["Count", "Milliseconds", "Seconds"]
Output = Callable[[str], None]

# Metric names (docs/operations.md lists each; infra/stack.yaml's dashboard graphs them)
ORDERS_SUBMITTED = "OrdersSubmitted"
UPLOADS_GRANTED = "UploadsGranted"
API_KEYS_REFUSED = "ApiKeysRefused"
FILES_ANNOUNCED = "FilesAnnounced"
FILES_PREPARED = "FilesPrepared"
PREPARE_DURATION = "PrepareDuration"
CHUNK_DURATION = "ChunkDuration"
CHUNK_ORDERS = "ChunkOrders"
ORDERS_RECEIVED = "OrdersReceived"
ORDERS_STORED = "OrdersStored"
ORDERS_UNCHANGED = "OrdersUnchanged"
ORDERS_REJECTED = "OrdersRejected"
ORDERS_UNPROCESSED = "OrdersUnprocessed"
BATCHES_RECORDED = "BatchesRecorded"
BATCH_DURATION = "BatchDuration"
ORDERS_REVIEWED = "OrdersReviewed"
REVIEW_MESSAGES = "ReviewMessages"
REVIEW_MESSAGES_FAILED = "ReviewMessagesFailed"
WEBHOOK_DELIVERIES = "WebhookDeliveries"
WEBHOOK_ATTEMPTS = "WebhookAttempts"

_MAX_DIMENSION_VALUE = 1024  # CloudWatch's limit on a dimension value

_log = get_logger("metrics")


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


_state: dict[str, object] = {"stage": "unknown", "output": _stdout}


def configure(stage: str) -> None:
    """The stage every metric is recorded under (the `Stage` dimension)."""
    _state["stage"] = stage


def set_output(output: Output | None) -> Output:
    """Sends each EMF line to `output` (None: stdout); returns the output it replaces."""
    previous = _output()
    _state["output"] = output or _stdout
    return previous


@contextmanager
def capture() -> Iterator[list[str]]:
    """The EMF lines written inside the block, instead of stdout."""
    lines: list[str] = []
    previous = set_output(lines.append)
    try:
        yield lines
    finally:
        set_output(previous)


def _output() -> Output:
    output = _state["output"]
    assert callable(output)
    return output


def emit(
    values: Mapping[str, tuple[float, Unit]],
    *,
    dimensions: Mapping[str, str | None] | None = None,
    sets: Sequence[Sequence[str]] = ((),),
    properties: Mapping[str, object] | None = None,
) -> None:
    """Writes one EMF document: `values` (name -> (value, unit)) recorded under each of `sets`
    (dimension names besides `Stage`, whose values are in `dimensions`). A set that names a
    dimension without a value (a sender not known) is left out."""
    try:
        named = {"Stage": str(_state["stage"])}
        for name, value in (dimensions or {}).items():
            if value is not None and value.strip():
                named[name] = value[:_MAX_DIMENSION_VALUE]
        dimension_sets = [
            ["Stage", *extra] for extra in sets if all(name in named for name in extra)
        ]
        used = {name for dimension_set in dimension_sets for name in dimension_set}
        definitions = [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()]
        document: dict[str, object] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": dimension_sets,
                        "Metrics": definitions,
                    }
                ],
            },
            **(properties or {}),
            **{name: value for name, value in named.items() if name in used},
            **{name: value for name, (value, _) in values.items()},
        }
        _output()(json.dumps(document, separators=(",", ":"), default=str))
    except Exception as error:  # noqa: BLE001 - a metric never fails the work it measures
        _log.warning("metric not written", extra={"error": type(error).__name__})


# -- what each function records ----------------------------------------------------------------


def orders_submitted(orders: int, *, sender: str | None) -> None:
    """POST /orders accepted a document of `orders` orders (api_handler)."""
    emit({ORDERS_SUBMITTED: (orders, "Count")}, dimensions={"Sender": sender},
         sets=((), ("Sender",)))  # fmt: skip


def upload_granted(*, sender: str | None) -> None:
    """POST /uploads handed out a presigned upload (api_handler)."""
    emit({UPLOADS_GRANTED: (1, "Count")}, dimensions={"Sender": sender}, sets=((), ("Sender",)))


def api_key_checked(allowed: bool) -> None:
    """The authorizer resolved a key (sender_key): a refused key counts 1, an allowed one 0."""
    emit({API_KEYS_REFUSED: (0 if allowed else 1, "Count")})


def file_announced(started: bool) -> None:
    """An S3 event named an object (on_file_uploaded): its execution started, or it was a
    repeat of an event already handled."""
    outcome = "started" if started else "repeated"
    emit({FILES_ANNOUNCED: (1, "Count")}, dimensions={"Outcome": outcome}, sets=(("Outcome",),))


def file_prepared(status: str, *, seconds: float, batch_id: str) -> None:
    """PrepareFile judged a file: `ready`, `quarantined` or `failed`."""
    emit(
        {FILES_PREPARED: (1, "Count"), PREPARE_DURATION: (seconds * 1000, "Milliseconds")},
        dimensions={"Status": status},
        sets=(("Status",),),
        properties={"batch_id": batch_id},
    )


def chunk_processed(
    *, orders: int, seconds: float, batch_id: str, sender: str | None = None
) -> None:
    """ValidateOrder settled one chunk of `orders` orders in `seconds`."""
    emit(
        {CHUNK_DURATION: (seconds * 1000, "Milliseconds"), CHUNK_ORDERS: (orders, "Count")},
        dimensions={"Sender": sender},
        sets=((), ("Sender",)),
        properties={"batch_id": batch_id},
    )


def batch_recorded(
    status: str,
    counts: Mapping[str, object],
    *,
    seconds: float | None,
    batch_id: str,
    sender: str | None = None,
) -> None:
    """RecordBatch recorded how a batch ended: its orders received, stored (of which
    unchanged), rejected (also by reason) and unprocessed, its duration from the start of
    PrepareFile, and the batch itself by status. `counts` is `Counts.to_dict()`."""
    properties = {"batch_id": batch_id}
    values: dict[str, tuple[float, Unit]] = {
        ORDERS_RECEIVED: (_number(counts.get("total")), "Count"),
        ORDERS_STORED: (_number(counts.get("stored")), "Count"),
        ORDERS_UNCHANGED: (_number(counts.get("unchanged")), "Count"),
        ORDERS_REJECTED: (_number(counts.get("rejected")), "Count"),
        ORDERS_UNPROCESSED: (_number(counts.get("unprocessed")), "Count"),
    }
    if seconds is not None:
        values[BATCH_DURATION] = (seconds, "Seconds")
    sender_sets = ((), ("Sender",))
    emit(values, dimensions={"Sender": sender}, sets=sender_sets, properties=properties)
    emit(
        {BATCHES_RECORDED: (1, "Count")},
        dimensions={"Status": status, "Sender": sender},
        sets=(("Status",), ("Status", "Sender")),
        properties=properties,
    )
    by_reason = counts.get("rejected_by_reason")
    for reason, rejected in (by_reason if isinstance(by_reason, Mapping) else {}).items():
        emit(
            {ORDERS_REJECTED: (_number(rejected), "Count")},
            dimensions={"Reason": str(reason)},
            sets=(("Reason",),),
            properties=properties,
        )


def orders_reviewed(decisions: Iterable[tuple[str, str]]) -> None:
    """The DLQ reviewer decided a rejection group: `(decision, ended)` for each of its orders,
    counted by decision (retry, repair, archive) and by where the order ended."""
    counted: dict[tuple[str, str], int] = {}
    for decision, ended in decisions:
        counted[(decision, ended)] = counted.get((decision, ended), 0) + 1
    for (decision, ended), orders in sorted(counted.items()):
        emit(
            {ORDERS_REVIEWED: (orders, "Count")},
            dimensions={"Decision": decision, "Ended": ended},
            sets=(("Decision",), ("Ended",)),
        )


def review_messages(received: int, failed: int) -> None:
    """One call of the reviewer: the messages it was handed and those it sent back."""
    emit({REVIEW_MESSAGES: (received, "Count"), REVIEW_MESSAGES_FAILED: (failed, "Count")})


def webhook_delivered(outcome: str, *, attempts: int, batch_id: str) -> None:
    """A webhook delivery ended `delivered`, `gone` or `failed` after `attempts` attempts."""
    emit(
        {WEBHOOK_DELIVERIES: (1, "Count"), WEBHOOK_ATTEMPTS: (attempts, "Count")},
        dimensions={"Outcome": outcome},
        sets=(("Outcome",),),
        properties={"batch_id": batch_id},
    )


def _number(value: object) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0
