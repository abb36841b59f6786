"""`orders run`: upload files to the embedded emulator, let the pipeline and the DLQ reviewer
work, and report where every order ended."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from chalicelib.orders.readers.columns import ColumnMapping
from chalicelib.pipeline.naming import batch_id_for
from chalicelib.review.records import ReviewRecords, review_id_of
from orderflow_cli.emulator.runtime import DEFAULT_SENDER, EmbeddedAWS, Execution
from orderflow_cli.progress import PLAIN_SECONDS, Progress, Snapshot, progress_for
from orderflow_cli.text import shown as printable

_DONE_STATUSES = {"succeeded", "quarantined"}
_COUNT_SECONDS = 0.5  # how often the counts are read for the progress shown
_FIRST_POLL_SECONDS, _LAST_POLL_SECONDS = 0.05, 0.5  # how often the executions are asked
_SHOWN_REJECTIONS = 5


@dataclass
class FileOutcome:
    file: str
    sender: str
    batch_id: str
    status: str
    total: int
    stored: int
    rejected: int
    seconds: float
    error: str | None
    error_code: str | None = None  # the batch's error code (file.*, pipeline.*), beside `error`
    report_keys: dict[str, str] | None = None
    first_rejections: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[str, int] = field(default_factory=dict)  # where each order ended, by place
    file_read: dict[str, Any] | None = None  # the batch's `file`: format, delimiter, mapping
    receipt: dict[str, Any] | None = None  # the batch's requests and their modelled cost
    dry_run: bool = False  # validated and counted only: nothing was stored or dead-lettered

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sender": self.sender,
            "batch_id": self.batch_id,
            "status": self.status,
            "total": self.total,
            "stored": self.stored,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "error_code": self.error_code,
            "ended": self.ended,
            "read": self.file_read,
            "receipt": self.receipt,
            "dry_run": self.dry_run,
        }


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
        seen = [json.loads(body) for body in local.dlq_received.values()]
        messages = seen + local.drain_dlq()  # the reviewer took every message; any left count
        dlq = dead_lettered_orders(messages)
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
            "dlq_messages": len(messages),
            "dlq_orders": len(dlq),
        }
        if weather is not None:
            document["weather"] = {"as": weather.describe(), "injected": dict(weather.injected)}
        print(json.dumps(document, indent=2))
    else:
        _print_table(outcomes, table_items, (len(dlq), len(messages)), sys.stdout)
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
    keys: list[str] = []
    local.ensure_sender(sender)
    for index, path in enumerate(paths):
        name = (
            path.name
            if path.name not in {p.name for p in paths[:index]}
            else f"{index}-{path.name}"
        )
        keys.append(local.upload(path, local.sender_key(name, sender)))
        if mapping is not None or dry_run:
            _promise_batch(local, keys[-1], sender, mapping, dry_run=dry_run)
    started = dict(local.deliver_s3_events())
    batch_ids = [started[k] for k in keys]
    with progress_for(progress, progress_seconds) as shown:
        executions = _wait_all(local, sender, batch_ids, shown)
        local.deliver_app_events()  # the functions that follow a batch's end (webhooks)
        _settle(local, sender, batch_ids, shown)  # the reviewer has had every message the DLQ holds
    waiting = _waiting_by_batch(local.drain_redrive_queue())
    records = local.batches()
    outcomes = []
    for path, execution in zip(paths, executions, strict=True):
        record = records.get(sender, execution.batch_id) or {}
        error = record.get("error")
        outcomes.append(
            FileOutcome(
                file=str(path),
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
                ended=(
                    {}  # a dry run: no order went anywhere
                    if record.get("dry_run")
                    else _where_orders_ended(local, record, waiting.get(execution.batch_id, set()))
                ),
                file_read=record.get("file"),
                receipt=record.get("receipt"),
                dry_run=bool(record.get("dry_run")),
            )
        )
    return outcomes


def _promise_batch(
    local: EmbeddedAWS, key: str, sender: str, mapping: ColumnMapping | None, *, dry_run: bool
) -> None:
    """Puts the run's mapping and dry run on the batch record the uploaded object will become,
    as the API does for an upload it grants (PrepareFile reads them there)."""
    bucket = local.settings.bucket
    head = local.s3.head_object(Bucket=bucket, Key=key)
    identity = head.get("VersionId") or head["ETag"].strip('"')
    local.batches().create_pending(
        sender,
        batch_id_for(bucket, key, identity),
        bucket=bucket,
        key=key,
        via="orders run",
        mapping=mapping.to_dict() if mapping is not None else None,
        dry_run=dry_run,
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
        if decision in {"retry", "repair"} and where != "archived":
            ended["retried" if decision == "retry" else "repaired"] += 1
        else:
            ended["archived"] += 1
    reviewed = {review_id_of(batch_id, row) for row in found}
    ended["waiting"] = len(in_redrive_queue - reviewed)
    if unprocessed := int(record.get("unprocessed", 0)):
        ended["unprocessed"] = unprocessed
    if unaccounted := int(record.get("total", 0)) - sum(ended.values()):
        ended["unaccounted"] = unaccounted
    return ended


def dead_lettered_orders(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """One line per order of the DLQ's group messages: the order's entry with its group's
    `message_id`, `batch_id`, `group` and `source`, and its `review_id`. A body that is not a
    rejection group (not JSON, another shape) belongs to no order and is left out."""
    orders = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("rejections"), list):
            continue
        batch_id = str(message.get("batch_id"))
        for entry in message["rejections"]:
            if isinstance(entry, dict) and isinstance(entry.get("row"), int):
                orders.append(
                    {
                        **entry,
                        "review_id": review_id_of(batch_id, entry["row"]),
                        "message_id": message.get("message_id"),
                        "batch_id": batch_id,
                        "group": message.get("group"),
                        "source": message.get("source"),
                    }
                )
    return orders


def _waiting_by_batch(bodies: Iterable[str]) -> dict[str, set[str]]:
    """The review ids (`<batch_id>:<row>`) of the orders in the redrive queue's messages, by
    batch (a copy delivered twice is one order; a body that is not a rejection group belongs
    to no file)."""
    messages = []
    for body in bodies:
        try:
            messages.append(json.loads(body))
        except ValueError:
            continue
    waiting: dict[str, set[str]] = defaultdict(set)
    for order in dead_lettered_orders(messages):
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


def _print_table(
    outcomes: list[FileOutcome], items: int, dlq: tuple[int, int], out: TextIO
) -> None:
    """`dlq`: the orders dead-lettered, and the messages (rejection groups) that carried them."""
    headers = ("file", "batch id", "status", "total", "stored", "rejected", "time")
    rows = [
        (
            o.file,
            o.batch_id,
            o.status,
            str(o.total),
            str(o.stored),
            str(o.rejected),
            f"{o.seconds:.2f}s",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)), file=out
        )
    for outcome in outcomes:
        if outcome.file_read:
            print(f"{outcome.file}: {read_as(outcome.file_read)}", file=out)
        if outcome.error:
            print(f"{outcome.file}: {outcome.status}: {outcome.error}", file=out)
        if outcome.first_rejections:
            more = outcome.rejected - len(outcome.first_rejections)
            tail = f" (and {more} more: orders run --export DIR writes them all)" if more else ""
            print(f"{outcome.file}: first rejections{tail}", file=out)
            for rejection in outcome.first_rejections:
                order_id = printable(rejection["order_id"] or "-")
                print(f"  row {rejection['row']:>6}  {order_id:<20} {rejection['codes']}", file=out)
    for outcome in outcomes:
        if outcome.dry_run:
            print(
                f"{outcome.file}: dry run: {outcome.total} orders: {outcome.stored} would be"
                f" stored, {outcome.rejected} would be rejected; nothing was stored or"
                " dead-lettered",
                file=out,
            )
        if outcome.ended and outcome.total:
            e = outcome.ended
            rest = "".join(
                f", {e[name]} {name}" for name in ("unprocessed", "unaccounted") if name in e
            )
            print(
                f"{outcome.file}: {outcome.total} orders: {e['stored']} stored, "
                f"{e['retried']} retried and stored, {e['repaired']} repaired and stored, "
                f"{e['archived']} archived for review, "
                f"{e['waiting']} waiting in the redrive queue{rest}",
                file=out,
            )
    print(
        f"orders table: {items} item(s); dead-letter queue: {dlq[0]} order(s)"
        f" in {dlq[1]} message(s)",
        file=out,
    )


def read_as(read: dict[str, Any]) -> str:
    """`read as csv (delimiter semicolon, utf-8), mapping from profile`: the batch's `file`."""
    details = [
        f"delimiter {read['delimiter_name']}" if read.get("delimiter_name") else "",
        f"sheet {read['sheet']!r}" if read.get("sheet") else "",
        str(read.get("encoding") or ""),
        "gzip" if read.get("compressed") else "",
    ]
    said = ", ".join(d for d in details if d)
    shown = f"read as {read.get('format') or 'unknown'}" + (f" ({said})" if said else "")
    return f"{shown}, mapping from {read.get('mapping_from', 'none')}"


def _jsonl_file(path: Path) -> TextIO:
    """A UTF-8 file for JSON Lines that never fails on text: the only characters UTF-8 cannot
    encode are lone surrogates, which JSON allows only inside strings, where "backslashreplace"
    writes each one as its own JSON escape (`\\udfff`). The line reads back as the same value,
    and all other text stays readable (no ensure_ascii)."""
    return path.open("w", encoding="utf-8", errors="backslashreplace")


def _export(
    local: EmbeddedAWS,
    directory: Path,
    items: Iterable[dict[str, Any]],
    dlq: list[dict[str, Any]],
    outcomes: list[FileOutcome],
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    records = local.batches()
    batches = [records.get(o.sender, o.batch_id) or {"batch_id": o.batch_id} for o in outcomes]
    rows: Iterable[dict[str, Any]]
    for name, rows in (("orders.jsonl", items), ("dlq.jsonl", dlq), ("batches.jsonl", batches)):
        with _jsonl_file(directory / name) as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    reviews = ReviewRecords(local.dynamodb, local.settings.reviews_table)
    reviewed = {
        r["review_id"]: r
        for o in outcomes
        for r in reviews.query(sender=o.sender, batch_id=o.batch_id)
    }
    with _jsonl_file(directory / "reviews.jsonl") as out:
        for message in dlq:  # one per order
            review = reviewed.get(str(message["review_id"]), {})
            line = {
                "review_id": message["review_id"],
                "message_id": message.get("message_id"),
                "OrderId": review.get("order_id") or message.get("order_id"),
                "reason": message.get("reason"),
                "decision": review.get("decision"),
                "ended": review.get("ended", "waiting in the redrive queue"),
                "archive_key": review.get("archive_key"),
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    reports = directory / "reports"
    for outcome in outcomes:
        for form, key in (outcome.report_keys or {}).items():
            reports.mkdir(exist_ok=True)
            target = reports / f"{outcome.batch_id}.{form}"
            local.s3.download_file(local.settings.bucket, key, str(target))
