"""The DLQ message: one chunk's rejection group, as the pipeline sends it and the reviewer,
the CLI and the operator's tools read it.

On the wire (an SQS message body, ASCII JSON, in this key order; the same bytes the pipeline
sent before this model existed, so messages already waiting in a queue read the same):

    {"message_id": "<batch_id>:<chunk>[:<part>]", "sender", "batch_id", "chunk",
     "group": "<chunk:06d>[-<part:03d>]", "source": {"bucket", "key"},
     ["part", "parts",]            (a split group only)
     "rejections": [{"row", "order_id", "reason", "errors": [{field, code, message, value}],
                     "order", ["order_truncated": true]}, ...]}

`Rejection` is also a rejection as a chunk's outcome keeps it (`contracts.chunks`), without
`order_truncated`. `Reason` is why an order was not stored; its values are the wire's.

Frozen dataclasses, not pydantic: one `Rejection` is made per rejected order (a million-order
file may reject many), and a dataclass is built and dumped in a few microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from chalicelib.orders.records import FieldError


class Reason(StrEnum):
    """Why an order ended in the DLQ."""

    INVALID = "invalid"  # failed validation, or can never be stored (too large, unstorable)
    CONFLICT = "conflict"  # its OrderId is stored with other content
    STORE_FAILED = "store_failed"  # the write kept failing: a transient reason, retried


@dataclass(frozen=True, slots=True)
class Rejection:
    """One order that did not end stored, and why (positional order kept from the pipeline's
    first `Rejection`: row, order, order_id, reason, errors)."""

    row: int
    order: Any
    order_id: str | None
    reason: Reason
    errors: tuple[FieldError, ...]
    order_truncated: bool = False  # `order` (and each error's value) is an excerpt

    def summary(self) -> dict[str, Any]:
        """The rejection without the order itself: what reports and batch results keep."""
        return {
            "row": self.row,
            "order_id": self.order_id,
            "reason": str(self.reason),
            "errors": [e.to_dict() for e in self.errors],
        }

    def to_dict(self) -> dict[str, Any]:
        entry = self.summary()
        entry["order"] = self.order
        if self.order_truncated:
            entry["order_truncated"] = True
        return entry

    def to_json(self) -> str:
        """ASCII JSON (SQS refuses some characters that JSON escapes carry, and lone
        surrogates); values JSON cannot hold are written as their text."""
        return json.dumps(self.to_dict(), default=str)

    def truncated(self, excerpt: Any) -> Rejection:
        """This rejection with the order and every error's value cut by `excerpt`."""
        errors = tuple(replace(e, value=excerpt(e.value)) for e in self.errors)
        return replace(self, order=excerpt(self.order), errors=errors, order_truncated=True)

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> Rejection:
        """Raises KeyError, ValueError or TypeError for an entry of another shape."""
        order_id = entry.get("order_id")
        return cls(
            row=int(entry["row"]),
            order=entry.get("order"),
            order_id=None if order_id is None else str(order_id),
            reason=Reason(entry["reason"]),
            errors=tuple(FieldError.from_dict(e) for e in entry.get("errors") or ()),
            order_truncated=bool(entry.get("order_truncated", False)),
        )


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The uploaded object an order came from."""

    bucket: str
    key: str

    def to_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "key": self.key}


@dataclass(frozen=True, slots=True)
class DeadLetterMessage:
    """One DLQ message: a chunk's rejection group, or one part of a group split to fit."""

    message_id: str
    sender: str
    batch_id: str
    chunk: int
    group: str
    source: SourceFile
    rejections: tuple[Rejection, ...]
    part: int | None = None
    parts: int | None = None

    def head(self) -> dict[str, Any]:
        """Every field but `rejections`, in the wire's order."""
        head: dict[str, Any] = {
            "message_id": self.message_id,
            "sender": self.sender,
            "batch_id": self.batch_id,
            "chunk": self.chunk,
            "group": self.group,
            "source": self.source.to_dict(),
        }
        if self.part is not None:
            head["part"], head["parts"] = self.part, self.parts
        return head

    def to_dict(self) -> dict[str, Any]:
        return {**self.head(), "rejections": [r.to_dict() for r in self.rejections]}

    def to_json(self, encoded: Sequence[str] | None = None) -> str:
        """The message body. `encoded`, when given, is each rejection's `to_json()` already
        made (the sender measured them to split the group): they are not encoded twice."""
        entries = encoded if encoded is not None else [r.to_json() for r in self.rejections]
        return json.dumps(self.head())[:-1] + f', "rejections": [{", ".join(entries)}]}}'

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> DeadLetterMessage:
        """Raises KeyError, ValueError or TypeError for a body of another shape."""
        source = body.get("source") or {}
        part = body.get("part")
        return cls(
            message_id=str(body["message_id"]),
            sender=str(body["sender"]),
            batch_id=str(body["batch_id"]),
            chunk=int(body["chunk"]),
            group=str(body["group"]),
            source=SourceFile(str(source.get("bucket", "")), str(source.get("key", ""))),
            rejections=tuple(Rejection.from_dict(r) for r in body["rejections"]),
            part=None if part is None else int(part),
            parts=None if body.get("parts") is None else int(body["parts"]),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> DeadLetterMessage:
        """The message of an SQS body; raises ValueError (JSON's, or a shape's) for another."""
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("a DLQ message is a JSON object")
        try:
            return cls.from_dict(body)
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a DLQ message: {type(error).__name__}: {error}") from error


def group_message_id(batch_id: str, chunk: int, part: int | None = None) -> str:
    """`<batch_id>:<chunk>`, `:<part>` added when the group is split: stable on every send."""
    return f"{batch_id}:{chunk}" + (f":{part}" if part is not None else "")


def group_id(chunk: int, part: int | None = None) -> str:
    """A group's name within its batch, zero-padded so that groups sort in row order."""
    return f"{chunk:06d}" + (f"-{part:03d}" if part is not None else "")
