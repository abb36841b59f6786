"""The review record: what the DLQ reviewer keeps of each order it reviewed, as it writes it
(`review.reviewer`) and as every reader gets it (`review.records`: GET /reviews, GET /batches'
`reviewed`, `orders dlq review` and redrive, `orders run`).

One record per order, in plain values (`to_dict`, what readers are handed and GET /reviews
answers, fields without a value left out):

    {"review_id": "<batch_id>:<row>", "row", "order_id", "reason", "decision", "ended", "why",
     "changes": [{"rule", "field", "before", "after"}], "archive_key", "redriven_to",
     "sender", "batch_id", "created_at"}

`sender`, `batch_id` and `created_at` are the group's (`GROUP_FIELDS`): the reviews table keeps
them once per rejection group, the rest once per order (`order_fields`). Every field of the
dataclass is written and read: there is no list of fields to keep beside it
(`tests/unit/test_review_outcomes.py` checks that every field comes back as it went in).

`reason` is the DLQ's (`contracts.deadletter.Reason`); `decision` and `ended` are this
module's enums, and an order's place is `<decision>:<ended>` (`outcome`): the key of the
review counts, and of the `outcomes` map a group's item holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from chalicelib.contracts.deadletter import Reason


class Decision(StrEnum):
    """What the reviewer did with an order."""

    RETRY = "retry"  # a transient failure (`store_failed`): stored again
    REPAIR = "repair"  # invalid, and a repair rule mended it: stored
    ARCHIVE = "archive"  # everything else: kept in the group's archive object for a person


class Ended(StrEnum):
    """Where a reviewed order ended."""

    STORED = "stored"
    UNCHANGED = "unchanged"  # stored already with the same content
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class Change:
    """One repair rule's change to one field of an order."""

    rule: str
    field: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "field": self.field, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["rule"]), str(data["field"]), data.get("before"), data.get("after"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewRecord:
    """One order's review, with its group's sender, batch and time (fields in `to_dict`'s
    order)."""

    review_id: str  # `<batch_id>:<row>` (`review_id_of`)
    row: int
    order_id: str | None = None
    reason: Reason  # why it was dead-lettered
    decision: Decision
    ended: Ended
    why: str = ""
    changes: tuple[Change, ...] = ()
    archive_key: str | None = None  # the group's archive object, when archived
    redriven_to: str | None = None  # the redrive file that sent it again (an operator's)
    sender: str
    batch_id: str
    created_at: str | None = None  # when its group was recorded

    # Kept once per group item, not per order.
    GROUP_FIELDS: ClassVar[frozenset[str]] = frozenset({"sender", "batch_id", "created_at"})
    # Never changed once recorded: the group's key, `rows`, `reasons` and `outcomes` hold them.
    FIXED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"review_id", "row", "reason", "decision", "ended"}
    )

    @property
    def outcome(self) -> str:
        """The order's place: `<decision>:<ended>`."""
        return outcome_of(self.decision, self.ended)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (enums as theirs), every field that has one."""
        values: dict[str, Any] = {}
        for name in FIELD_NAMES:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "changes":
                value = [change.to_dict() for change in value]
            values[name] = str(value) if isinstance(value, StrEnum) else value
        return values

    def order_fields(self) -> dict[str, Any]:
        """`to_dict` without the group's fields: what a group's item keeps of the order."""
        return {k: v for k, v in self.to_dict().items() if k not in self.GROUP_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewRecord:
        """A record from plain values (`to_dict`'s); raises KeyError or ValueError."""
        order_id, archive_key = data.get("order_id"), data.get("archive_key")
        redriven_to, created_at = data.get("redriven_to"), data.get("created_at")
        return cls(
            review_id=str(data["review_id"]),
            row=int(data["row"]),
            reason=Reason(data["reason"]),
            decision=Decision(data["decision"]),
            ended=Ended(data["ended"]),
            sender=str(data["sender"]),
            batch_id=str(data["batch_id"]),
            order_id=None if order_id is None else str(order_id),
            why=str(data.get("why") or ""),
            changes=tuple(Change.from_dict(c) for c in data.get("changes") or ()),
            archive_key=None if archive_key is None else str(archive_key),
            redriven_to=None if redriven_to is None else str(redriven_to),
            created_at=None if created_at is None else str(created_at),
        )


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ReviewRecord))
# What an operator may set on a recorded review (`ReviewRecords.mark`).
MARKABLE_FIELDS = frozenset(FIELD_NAMES) - ReviewRecord.GROUP_FIELDS - ReviewRecord.FIXED_FIELDS


def review_id_of(batch_id: str, row: int) -> str:
    """An order's review id: `<batch_id>:<row>`."""
    return f"{batch_id}:{row}"


def outcome_of(decision: Decision, ended: Ended) -> str:
    """An order's place, `<decision>:<ended>`: a key of the review counts and of a group's
    `outcomes`."""
    return f"{decision}:{ended}"


def parse_outcome(text: str) -> tuple[Decision, Ended]:
    """`<decision>:<ended>` back into its parts; raises ValueError."""
    decision, _, ended = text.partition(":")
    return Decision(decision), Ended(ended)
