"""`orders run`: upload files to the embedded emulator, let the pipeline and the DLQ reviewer
work, and report where every order ended (what it shows and writes: run_output.py).

A run's mapping and dry run reach PrepareFile as an upload's do: promised on each file's batch
record (`api.promise.Promise`, the API's own) under the batch id the S3 handler will derive for
the object (`trigger.source_for`, the handler's own), before its event is delivered.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from chalicelib.api.promise import Promise
from chalicelib.contracts.deadletter import DeadLetterMessage
from chalicelib.contracts.review import Decision, Ended, review_id_of
from chalicelib.orders.readers.columns import ColumnMapping
from chalicelib.pipeline.naming import sender_file_key
from chalicelib.pipeline.trigger import source_for
from chalicelib.review.records import ReviewRecords
from orderflow_cli.emulator.runtime import DEFAULT_SENDER, EmbeddedAWS, Execution
from orderflow_cli.progress import PLAIN_SECONDS, Progress, Snapshot, progress_for
from orderflow_cli.run_output import FileOutcome, print_table
from orderflow_cli.run_output import export as _export

__all__ = ["FileOutcome", "dead_letter_messages", "dead_lettered_orders", "process", "run_files"]
VIA = "orders run"  # the batch record's `via`

_DONE_STATUSES = {"succeeded", "quarantined"}
_COUNT_SECONDS = 0.5  # how often the counts are read for the progress shown
_FIRST_POLL_SECONDS, _LAST_POLL_SECONDS = 0.05, 0.5  # how often the executions are asked
_SHOWN_REJECTIONS = 5


def run_files(
    paths: Sequence[Path],
    *,
    as_json: bool = False,
    export: Path | None = None,
    sender: str = DEFAULT_SENDER,
    mapping: ColumnMapping | None = None,
    dry_run: bool = False,
) -> int:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"orders: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    with EmbeddedAWS(poll_dead_letters=True) as local:
        outcomes = process(
            local, paths, progress=sys.stderr, sender=sender, mapping=mapping, dry_run=dry_run
        )
        table_items = local.item_count(local.settings.orders_table)  # not a scan: nothing held
        # the reviewer took every message it saw; any left in the queue count too
        bodies = [*local.dlq_received.values(), *local.drain_dlq_bodies()]
        dlq = dead_lettered_orders(dead_letter_messages(bodies))
        if export is not None:
            _export(local, export, local.scan_table(local.settings.orders_table), dlq, outcomes)
        weather = local.weather
    if weather is not None:  # what AWS's emulated weather did, beside what the run did
        injected = ", ".join(f"{n} {what}" for what, n in sorted(weather.injected.items()))
        print(f"weather: {weather.describe()}: {injected or 'nothing refused'}", file=sys.stderr)
    if as_json:
        document = {
            "batches": [o.to_dict() for o in outcomes],
            "table_items": table_items,
            "dlq_messages": len(bodies),
            "dlq_orders": len(dlq),
        }
        if weather is not None:
            document["weather"] = {"as": weather.describe(), "injected": dict(weather.injected)}
        print(json.dumps(document, indent=2))
    else:
        print_table(outcomes, table_items, (len(dlq), len(bodies)), sys.stdout)
    failed = [o for o in outcomes if o.status not in _DONE_STATUSES]
    for outcome in failed:
        print(
            f"orders: the pipeline failed on {outcome.file} (batch {outcome.batch_id}): "
            f"{outcome.error or outcome.status}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def process(
    local: EmbeddedAWS,
    paths: Sequence[Path],
    progress: TextIO | None,
    progress_seconds: float = PLAIN_SECONDS,
    *,
    sender: str = DEFAULT_SENDER,
    mapping: ColumnMapping | None = None,
    dry_run: bool = False,
) -> list[FileOutcome]:
    """Uploads every file, lets the S3 events start the executions, waits for them all and for
    the DLQ reviewer to have had its turns, and reads where every order ended (emptying the
    redrive queue to count what waits there). Shows progress on `progress` (bars on a
    terminal, else a plain line at most every `progress_seconds`). A column `mapping` goes to
    PrepareFile as an upload's does: on each file's batch record, before its event is sent;
    so does `dry_run` (validate and count every order, store and dead-letter none)."""
    promise = Promise(VIA, mapping=mapping, dry_run=dry_run)
    keys = _upload_all(local, paths, sender, promise)
    started = dict(local.deliver_s3_events())
    batch_ids = [started[k] for k in keys]
    with progress_for(progress, progress_seconds) as shown:
        executions = _wait_all(local, sender, batch_ids, shown)
        local.deliver_app_events()  # the functions that follow a batch's end (webhooks)
        _settle(local, sender, batch_ids, shown)  # the reviewer has had every message the DLQ holds
    waiting = _waiting_by_batch(local.drain_redrive_queue())
    records = local.batches()
    return [
        _outcome(
            local, str(path), sender, execution, records.get(sender, execution.batch_id), waiting
        )
        for path, execution in zip(paths, executions, strict=True)
    ]


def _upload_all(
    local: EmbeddedAWS, paths: Sequence[Path], sender: str, promise: Promise
) -> list[str]:
    """Uploads each file into the sender's folder (a name seen before gets its position in
    front); promises each its batch when the run has a mapping or is a dry run."""
    local.ensure_sender(sender)
    keys: list[str] = []
    for index, path in enumerate(paths):
        seen = {p.name for p in paths[:index]}
        name = path.name if path.name not in seen else f"{index}-{path.name}"
        key = local.upload(path, sender_file_key(local.settings.incoming_prefix, sender, name))
        keys.append(key)
        if promise.mapping is not None or promise.dry_run:
            _promise_batch(local, key, promise)
    return keys


def _promise_batch(local: EmbeddedAWS, key: str, promise: Promise) -> None:
    """Puts the run's mapping and dry run on the batch record the uploaded object will become,
    as the API does for an upload it grants (PrepareFile reads them there)."""
    bucket = local.settings.bucket
    head = local.s3.head_object(Bucket=bucket, Key=key)
    source = source_for(  # the S3 handler's own naming of the object
        bucket,
        key,
        head.get("VersionId"),
        head["ETag"],
        incoming_prefix=local.settings.incoming_prefix,
        senders=local.senders(),
        batches=local.batches(),
    )
    promise.record(local.batches(), source.sender, source.batch_id, bucket=bucket, key=key)


def _outcome(
    local: EmbeddedAWS,
    file: str,
    sender: str,
    execution: Execution,
    record: dict[str, Any] | None,
    waiting: dict[str, set[str]],
) -> FileOutcome:
    """Where one file's batch ended: its record's counts, error, reports and receipt, and
    where each of its orders ended (none for a dry run)."""
    record = record or {}
    error = record.get("error")
    dry = bool(record.get("dry_run"))
    return FileOutcome(
        file=file,
        sender=sender,
        batch_id=execution.batch_id,
        status=record.get("status", f"execution {execution.status.lower()}"),
        total=record.get("total", 0),
        stored=record.get("stored", 0),
        rejected=record.get("rejected", 0),
        seconds=execution.seconds,
        error=error["message"] if isinstance(error, dict) else execution.error,
        error_code=error.get("code") if isinstance(error, dict) else None,
        report_keys=record.get("report_keys"),
        first_rejections=_first_rejections(local, record.get("report_keys")),
        ended={}
        if dry
        else _where_orders_ended(local, record, waiting.get(execution.batch_id, set())),
        file_read=record.get("file"),
        receipt=record.get("receipt"),
        dry_run=dry,
    )


def _where_orders_ended(
    local: EmbeddedAWS, record: dict[str, Any], in_redrive_queue: set[str]
) -> dict[str, int]:
    """stored by the pipeline, retried / repaired and stored by the reviewer, archived for a
    person, or waiting: its group's message is in the DLQ's redrive queue (`in_redrive_queue`,
    review ids) and it was never reviewed. A failed batch adds `unprocessed`; whatever else
    does not add up to the file's total is reported as `unaccounted`, never folded into
    another count."""
    reviews = ReviewRecords(local.dynamodb, local.settings.reviews_table)
    batch_id = str(record.get("batch_id") or "")
    found = reviews.outcomes(sender=record["sender"], batch_id=batch_id) if batch_id else {}
    ended = {"stored": int(record.get("stored", 0)), "retried": 0, "repaired": 0, "archived": 0}
    for decision, where in found.values():
        if decision in {Decision.RETRY, Decision.REPAIR} and where is not Ended.ARCHIVED:
            ended["retried" if decision is Decision.RETRY else "repaired"] += 1
        else:
            ended["archived"] += 1
    reviewed = {review_id_of(batch_id, row) for row in found}
    ended["waiting"] = len(in_redrive_queue - reviewed)
    if unprocessed := int(record.get("unprocessed", 0)):
        ended["unprocessed"] = unprocessed
    if unaccounted := int(record.get("total", 0)) - sum(ended.values()):
        ended["unaccounted"] = unaccounted
    return ended


def dead_letter_messages(bodies: Iterable[str]) -> list[DeadLetterMessage]:
    """The DLQ messages among SQS bodies; a body that is not a rejection group (not JSON,
    another shape) belongs to no order and is left out."""
    messages = []
    for body in bodies:
        try:
            messages.append(DeadLetterMessage.from_json(body))
        except ValueError:
            continue
    return messages


def dead_lettered_orders(messages: Iterable[DeadLetterMessage]) -> list[dict[str, Any]]:
    """One line per order of the DLQ's group messages: the order's entry with its group's
    `message_id`, `batch_id`, `group` and `source`, and its `review_id`."""
    return [
        {
            **rejection.to_dict(),
            "review_id": review_id_of(message.batch_id, rejection.row),
            "message_id": message.message_id,
            "batch_id": message.batch_id,
            "group": message.group,
            "source": message.source.to_dict(),
        }
        for message in messages
        for rejection in message.rejections
    ]


def _waiting_by_batch(bodies: Iterable[str]) -> dict[str, set[str]]:
    """The review ids (`<batch_id>:<row>`) of the orders in the redrive queue's messages, by
    batch (a copy delivered twice is one order; a body that is not a rejection group belongs
    to no file)."""
    waiting: dict[str, set[str]] = defaultdict(set)
    for order in dead_lettered_orders(dead_letter_messages(bodies)):
        waiting[order["batch_id"]].add(order["review_id"])
    return waiting


def _first_rejections(
    local: EmbeddedAWS, keys: dict[str, str] | None, limit: int = _SHOWN_REJECTIONS
) -> list[dict[str, Any]]:
    if not keys:
        return []
    body = local.s3.get_object(Bucket=local.settings.bucket, Key=keys["jsonl"])["Body"]
    lines: list[dict[str, Any]] = []
    for line in body.iter_lines():
        if len(lines) == limit:
            break
        rejection = json.loads(line)
        codes = ", ".join(e["code"] for e in rejection["errors"])
        lines.append({"row": rejection["row"], "order_id": rejection["order_id"], "codes": codes})
    return lines


def _wait_all(
    local: EmbeddedAWS, sender: str, batch_ids: list[str], progress: Progress
) -> list[Execution]:
    """Waits for every execution, showing the orders done so far and the reviewer's work."""
    finished: dict[str, Execution] = {}
    next_count = time.monotonic()
    pause = _FIRST_POLL_SECONDS  # grows: a long run is not asked 20 times a second
    while len(finished) < len(batch_ids):
        for batch_id in batch_ids:
            if batch_id not in finished and (execution := local.poll(batch_id)) is not None:
                finished[batch_id] = execution
        due = time.monotonic() >= next_count and progress.wants_counts()
        if due or len(finished) == len(batch_ids):
            next_count = time.monotonic() + _COUNT_SECONDS
            progress.show(_snapshot(local, sender, batch_ids, finished.keys()))
        time.sleep(pause)
        pause = min(pause * 1.5, _LAST_POLL_SECONDS)
    return [finished[b] for b in batch_ids]


def _settle(
    local: EmbeddedAWS,
    sender: str,
    batch_ids: list[str],
    progress: Progress,
    timeout: float = 3600,
) -> None:
    """Waits until the reviewer has had every message the DLQ holds (`settle`, half a second
    at a time), showing how many it was handed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            local.dead_letters.settle(timeout=_COUNT_SECONDS)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
            progress.show(_snapshot(local, sender, batch_ids, batch_ids))
            continue
        progress.show(_snapshot(local, sender, batch_ids, batch_ids))
        return


def _snapshot(
    local: EmbeddedAWS, sender: str, batch_ids: list[str], finished: Collection[str]
) -> Snapshot:
    """Orders done and in all (from the batch records: `done` grows chunk by chunk, `total`
    is known once a file has been read) and dead letters handed to the reviewer."""
    records = local.batches()
    done, total, unknown = 0, 0, False
    for batch_id in batch_ids:
        record = records.get(sender, batch_id) or {}
        done += int(record.get("done", 0))
        if "total" in record or batch_id in finished:
            total += int(record.get("total", 0))
        else:
            unknown = True
    return Snapshot(done, None if unknown else total, local.dead_letters.handed)
