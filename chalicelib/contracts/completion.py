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


@dataclass(frozen=True, slots=True)
class Completion:
    sender: str
    batch_id: str
    file: SourceFile
    status: BatchStatus
    total: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    unprocessed: int = 0
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)
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
            "total": self.total,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "unprocessed": self.unprocessed,
            "rejected_by_reason": dict(self.rejected_by_reason),
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
            total=int(detail.get("total") or 0),
            stored=int(detail.get("stored") or 0),
            unchanged=int(detail.get("unchanged") or 0),
            rejected=int(detail.get("rejected") or 0),
            unprocessed=int(detail.get("unprocessed") or 0),
            rejected_by_reason=dict(detail.get("rejected_by_reason") or {}),
            error=Problem.from_dict(error) if isinstance(error, Mapping) else None,
            report=dict(report) if isinstance(report, Mapping) else None,
            dry_run=bool(detail.get("dry_run")),
            receipt=dict(detail.get("receipt") or {}),
        )
