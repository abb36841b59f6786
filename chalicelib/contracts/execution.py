"""The ingest execution's messages: its input, PrepareFile's output, RecordBatch's output and
the state RecordBatch is handed (`pipeline/ingest.asl.json` moves them between the states).

- `Source`: the execution's input (the S3 trigger and the API start it with `to_dict()`):
  `{"sender", "bucket", "key", "version", "etag", "batch_id"}`.
- `Prepared`: PrepareFile's output, kept by the definition at `$.prepared`: `{"status",
  "manifest_key", "chunks", "total", "error": <Problem> | null, "dry_run", "requests"}`.
- `Caught`: what a state's Catch keeps at its ResultPath (`$.error`, `$.record_error`):
  Step Functions' `{"Error", "Cause"}`.
- `Recorded`: RecordBatch's output, kept at `$.batch` (its `status` chooses the execution's end).
- `BatchState`: the execution's state, `Source`'s fields beside `prepared`, `error`,
  `record_error` and `batch`: what RecordBatch is handed (`Payload.$: "$"`).

Frozen dataclasses: one of each per file, parsed once per invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.costs import Requests
from chalicelib.pipeline.naming import UNASSIGNED


@dataclass(frozen=True, slots=True)
class Source:
    """The uploaded object one execution processes (the execution's input)."""

    bucket: str
    key: str
    version: str | None  # the S3 version id; None on an unversioned bucket
    batch_id: str
    etag: str | None = None  # without quotes, as S3 events carry it
    sender: str = UNASSIGNED  # whose file it is (UNASSIGNED: no sender's)

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> Source:
        return cls(
            str(event["bucket"]),
            str(event["key"]),
            event.get("version"),
            str(event["batch_id"]),
            event.get("etag"),
            event.get("sender") or UNASSIGNED,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "bucket": self.bucket,
            "key": self.key,
            "version": self.version,
            "etag": self.etag,
            "batch_id": self.batch_id,
        }

    @property
    def selector(self) -> dict[str, str]:
        """What names this exact object in a GetObject or HeadObject request."""
        if self.version:
            return {"VersionId": self.version}
        return {"IfMatch": f'"{self.etag}"'} if self.etag else {}

    @property
    def copy_source(self) -> dict[str, str]:
        """This exact object as a CopySource."""
        source = {"Bucket": self.bucket, "Key": self.key}
        return {**source, "VersionId": self.version} if self.version else source

    @property
    def copy_condition(self) -> dict[str, str]:
        """What keeps a CopyObject to exactly this object where no version id names it."""
        return {} if self.version or not self.etag else {"CopySourceIfMatch": f'"{self.etag}"'}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file or a batch did not succeed: a stable `code` and a one-line `message`."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, error: Mapping[str, Any]) -> Problem:
        return cls(str(error["code"]), str(error["message"]))


class PrepareStatus(StrEnum):
    READY = "ready"  # chunks and a manifest are written: the Map runs
    QUARANTINED = "quarantined"  # the file was judged unreadable, or replaced
    FAILED = "failed"  # the file was gone before it could be read


@dataclass(frozen=True, slots=True)
class Prepared:
    """PrepareFile's outcome."""

    status: PrepareStatus
    manifest_key: str | None = None
    chunks: int = 0
    total: int = 0
    error: Problem | None = None
    dry_run: bool = False
    requests: Requests = field(default_factory=Requests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "manifest_key": self.manifest_key,
            "chunks": self.chunks,
            "total": self.total,
            "error": self.error.to_dict() if self.error else None,
            "dry_run": self.dry_run,
            "requests": self.requests.to_dict(),
        }

    @classmethod
    def from_dict(cls, output: Mapping[str, Any]) -> Prepared:
        error = output.get("error")
        return cls(
            status=PrepareStatus(output["status"]),
            manifest_key=output.get("manifest_key"),
            chunks=int(output.get("chunks") or 0),
            total=int(output.get("total") or 0),
            error=Problem.from_dict(error) if isinstance(error, Mapping) else None,
            dry_run=bool(output.get("dry_run")),
            requests=Requests().add(output.get("requests")),
        )


@dataclass(frozen=True, slots=True)
class Caught:
    """A state's error as its Catch keeps it (`Error` its name, `Cause` its text: for a
    Lambda function's failure, the function's error payload as JSON)."""

    Error: str
    Cause: Any = None

    @classmethod
    def from_dict(cls, caught: Any) -> Caught:
        if not isinstance(caught, Mapping):
            return cls("", None)
        return cls(str(caught.get("Error") or ""), caught.get("Cause"))


class BatchStatus(StrEnum):
    """How a batch ended (the batch record's final status)."""

    SUCCEEDED = "succeeded"
    QUARANTINED = "quarantined"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Recorded:
    """RecordBatch's output: the batch's status and counts."""

    batch_id: str
    status: BatchStatus
    total: int
    stored: int
    rejected: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": str(self.status),
            "total": self.total,
            "stored": self.stored,
            "rejected": self.rejected,
        }


@dataclass(frozen=True, slots=True)
class BatchState:
    """The execution's state: its input's fields, then what its states kept beside them."""

    sender: str
    batch_id: str
    bucket: str
    key: str
    version: str | None = None
    etag: str | None = None
    prepared: Prepared | None = None  # PrepareFile's outcome; None: PrepareFile failed
    error: Caught | None = None  # PrepareFile's or the Map's error, caught
    record_error: Caught | None = None  # set when RecordBatch's retries are spent
    batch: Recorded | None = None  # RecordBatch's output

    @property
    def source(self) -> Source:
        return Source(self.bucket, self.key, self.version, self.batch_id, self.etag, self.sender)

    @property
    def dry_run(self) -> bool:
        return self.prepared is not None and self.prepared.dry_run

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> BatchState:
        prepared = state.get("prepared")
        return cls(
            sender=str(state.get("sender") or UNASSIGNED),
            batch_id=str(state["batch_id"]),
            bucket=str(state["bucket"]),
            key=str(state["key"]),
            version=state.get("version"),
            etag=state.get("etag"),
            prepared=Prepared.from_dict(prepared) if isinstance(prepared, Mapping) else None,
            error=Caught.from_dict(state["error"]) if state.get("error") else None,
            record_error=(
                Caught.from_dict(state["record_error"]) if state.get("record_error") else None
            ),
        )
