"""The values that travel from the file readers through validation to the DLQ and the reports,
and the order's own fields.

A `Record` is one order as the sender wrote it, with its position in the file (`row`), so that
every rejection can be traced back to a line or a list position.

`ORDER_GROUPS` is the one definition of the order's fields: validation's models, the readers'
columns and synonyms and the rejection report's columns are derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain
from types import MappingProxyType
from typing import Any, Final

__all__ = ["ORDER_FIELDS", "ORDER_GROUPS", "FieldError", "Record", "UnreadableFile"]

#: The order's own fields as a sender writes them, under the group that holds them, in the order
#: a table lists them (the columns the readers look for, the rejection report's first columns):
#: `{"order-info": {"OrderId", ...}, "contact-info": {"name", "email"}}`.
ORDER_GROUPS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "order-info": ("OrderId", "item-id", "item-desc", "qty"),
        "contact-info": ("name", "email"),
    }
)
#: Every field of every group, in that order (a table's columns, flat).
ORDER_FIELDS: Final[tuple[str, ...]] = tuple(chain.from_iterable(ORDER_GROUPS.values()))


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one order: where (`field`), what (`code`, stable), and what was sent."""

    field: str
    code: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldError:
        return cls(data["field"], data["code"], data["message"], data.get("value"))


@dataclass(frozen=True, slots=True)
class Record:
    """One order as received.

    `row` is 1-based: for CSV and JSON Lines the line where the record starts (the CSV header is
    line 1); for a JSON document or array the position of the order in its list. `order` is the
    order exactly as parsed (a dict for a well-formed record; for a record that could not be
    parsed, the raw text or fields). `error` is set when the record could not be parsed at all.
    """

    row: int
    order: Any
    error: FieldError | None = None


class UnreadableFile(Exception):
    """The file as a whole cannot be read (not JSON, truncated, wrong encoding, empty, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
