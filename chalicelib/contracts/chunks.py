"""A chunk's messages: its manifest item, its Distributed Map item and its outcome.

- `ChunkRef`, one item of the manifest PrepareFile writes (a JSON array of them), which the
  Map's ItemReader reads: `{"index", "key", "count"}`.
- `ChunkTask`, one Map item as the definition's ItemSelector builds it, ValidateOrder's input
  (and RecordBatch's, reprocessing a chunk without an outcome):
  `{"sender", "batch_id", "bucket", "key", "dry_run", "chunk": <ChunkRef>}`.
- `ChunkOutcome`, what ValidateOrder writes to S3 for RecordBatch to count: `{"index",
  "status", "total", "stored", "unchanged", "rejected", "rejected_by_reason", "rejections":
  [<Rejection>], "requests": <costs.Requests>}`. Its `brief()` is ValidateOrder's own output
  (`index`, `status`), which the definition's ResultSelector keeps.

Frozen dataclasses: one outcome per chunk of up to a thousand orders; no per-order model here
but the rejections (`contracts.deadletter.Rejection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.contracts.deadletter import Reason, Rejection
from chalicelib.costs import Requests


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """One manifest item: which chunk, where, and how many records it holds."""

    index: int
    key: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "count": self.count}

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> ChunkRef:
        return cls(int(item["index"]), str(item["key"]), int(item["count"]))


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One Distributed Map item: the chunk, the batch it belongs to and the batch's sender."""

    sender: str
    batch_id: str
    bucket: str
    key: str
    chunk: ChunkRef
    dry_run: bool = False  # validate and count only: store nothing, dead-letter nothing

    @property
    def index(self) -> int:
        return self.chunk.index

    @property
    def chunk_key(self) -> str:
        return self.chunk.key

    def to_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "batch_id": self.batch_id,
            "bucket": self.bucket,
            "key": self.key,
            "dry_run": self.dry_run,
            "chunk": self.chunk.to_dict(),
        }

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> ChunkTask:
        return cls(
            sender=str(event["sender"]),
            batch_id=str(event["batch_id"]),
            bucket=str(event["bucket"]),
            key=str(event["key"]),
            chunk=ChunkRef.from_dict(event["chunk"]),
            dry_run=bool(event.get("dry_run", False)),
        )


class ChunkStatus(StrEnum):
    """How a chunk's processing ended (the Map's result for it)."""

    DONE = "done"  # its outcome is written
    FAILED = "failed"  # no outcome: the definition's ChunkFailed (RecordBatch reconciles it)


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """Every order of one chunk counted where it ended, with the rejections and the requests
    the chunk made."""

    index: int
    total: int
    stored: int  # newly stored or already stored with the same content
    unchanged: int  # of `stored`, those already stored with the same content
    rejections: tuple[Rejection, ...]
    requests: Requests = field(default_factory=Requests)
    status: ChunkStatus = ChunkStatus.DONE

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def rejected_by_reason(self) -> dict[Reason, int]:
        counted: dict[Reason, int] = {}
        for rejection in self.rejections:
            counted[rejection.reason] = counted.get(rejection.reason, 0) + 1
        return counted

    def brief(self) -> dict[str, Any]:
        """ValidateOrder's output: which chunk, and that it is done."""
        return {"index": self.index, "status": str(self.status)}

    def counts(self) -> dict[str, Any]:
        """The counts alone, as `Counts.add` takes them."""
        return {
            "total": self.total,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejected_by_reason": {str(k): v for k, v in self.rejected_by_reason.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.brief(),
            **self.counts(),
            "rejections": [r.to_dict() for r in self.rejections],
            "requests": self.requests.to_dict(),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ChunkOutcome:
        return cls(
            index=int(document["index"]),
            total=int(document["total"]),
            stored=int(document["stored"]),
            unchanged=int(document.get("unchanged", 0)),
            rejections=tuple(Rejection.from_dict(r) for r in document.get("rejections") or ()),
            requests=Requests().add(document.get("requests")),
            status=ChunkStatus(document.get("status", ChunkStatus.DONE)),
        )
