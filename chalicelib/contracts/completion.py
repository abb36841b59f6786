"""The completion event's detail: one per batch that ends, published by RecordBatch on the
stage's bus (`pipeline/events.py`: source "orderflow", detail-type "Batch Completed"), read by
the webhook deliverer and by users' own rules.

    {"sender", "batch_id", "file": {"bucket", "key"}, "status", "total", "stored",
     "unchanged", "rejected", "unprocessed", "rejected_by_reason", "error": {"code",
     "message"} | null, "report": {"jsonl", "csv"} | null, "dry_run",
     "receipt": {"requests", "cost_usd", "prices"} (costs.receipt)}

`dry_run` is true for a dry run (nothing was stored or dead-lettered; the counts are what a
real run would have given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.contracts.deadletter import SourceFile
from chalicelib.contracts.execution import BatchStatus, Problem


@dataclass(slots=True)
class Counts:
    """A batch's counts: the orders read, stored, unchanged (stored before with the same
    content), rejected (by reason) and unprocessed; on its record, in `$.batch` and in the
    completion event alike."""

    total: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    unprocessed: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, other: Mapping[str, Any]) -> None:
        self.total += int(other.get("total", 0))
        self.stored += int(other.get("stored", 0))
        self.unchanged += int(other.get("unchanged", 0))
        self.rejected += int(other.get("rejected", 0))
        for reason, n in other.get("rejected_by_reason", {}).items():
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + int(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "unprocessed": self.unprocessed,
            "rejected_by_reason": dict(self.rejected_by_reason),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Counts:
        counts = cls(unprocessed=int(values.get("unprocessed") or 0))
        counts.add(values)
        return counts


@dataclass(frozen=True, slots=True)
class Completion:
    sender: str
    batch_id: str
    file: SourceFile
    status: BatchStatus
    counts: Counts = field(default_factory=Counts)  # flat on the wire, as above
    error: Problem | None = None
    report: Mapping[str, str] | None = None  # the rejection report's keys, by format
    dry_run: bool = False
    receipt: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "batch_id": self.batch_id,
            "file": self.file.to_dict(),
            "status": str(self.status),
            **self.counts.to_dict(),
            "error": self.error.to_dict() if self.error else None,
            "report": dict(self.report) if self.report is not None else None,
            "dry_run": self.dry_run,
            "receipt": dict(self.receipt),
        }

    @classmethod
    def from_dict(cls, detail: Mapping[str, Any]) -> Completion:
        file = detail.get("file") or {}
        error = detail.get("error")
        report = detail.get("report")
        return cls(
            sender=str(detail["sender"]),
            batch_id=str(detail["batch_id"]),
            file=SourceFile(str(file.get("bucket", "")), str(file.get("key", ""))),
            status=BatchStatus(detail["status"]),
            counts=Counts.from_dict(detail),
            error=Problem.from_dict(error) if isinstance(error, Mapping) else None,
            report=dict(report) if isinstance(report, Mapping) else None,
            dry_run=bool(detail.get("dry_run")),
            receipt=dict(detail.get("receipt") or {}),
        )
