"""What `orders run` shows and writes: one `FileOutcome` per file, the table and the lines
that follow it on stdout, and the files of `--export DIR` (orders, dead letters, batches,
reviews, one line each, and each batch's rejection reports).

Nothing here reads the pipeline's state but `export`; what it prints comes from the outcomes
run.py has gathered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from chalicelib.review.records import ReviewRecords
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.text import shown as printable


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


def print_table(outcomes: list[FileOutcome], items: int, dlq: tuple[int, int], out: TextIO) -> None:
    """The table of files, what each file's notes say, where its orders ended, and the
    table's and the queue's totals. `dlq`: the orders dead-lettered, and the messages
    (rejection groups) that carried them."""
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
        _print_notes(outcome, out)
    for outcome in outcomes:
        _print_endings(outcome, out)
    print(
        f"orders table: {items} item(s); dead-letter queue: {dlq[0]} order(s)"
        f" in {dlq[1]} message(s)",
        file=out,
    )


def _print_notes(outcome: FileOutcome, out: TextIO) -> None:
    """How the file was read, its error, its first rejections."""
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


def _print_endings(outcome: FileOutcome, out: TextIO) -> None:
    """What a dry run would have done, or where each order of the file ended."""
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


def export(
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
