"""What reading a file found out about it: its format, encoding, delimiter, sheet, columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.orders.readers.columns import ColumnMapping
from chalicelib.orders.readers.detect import DELIMITERS

__all__ = ["FileFacts"]


@dataclass(slots=True)
class FileFacts:
    """What reading found out about a file, for the batch record and the report.

    Filled in as the file is read: `format` once it is detected (before the first record),
    `columns` once a table's header has been read.
    """

    format: str | None = None  # one of FORMATS
    compressed: bool = False  # gzip
    encoding: str | None = None  # "utf-8", "utf-16-le", "utf-16-be" (text formats)
    delimiter: str | None = None  # CSV: "," ";" "\t" or "|"
    sheet: str | None = None  # xlsx: the sheet read
    columns: dict[str, str] = field(default_factory=dict)  # tables: our field -> their header
    mapping: ColumnMapping | None = None  # the explicit mapping given, if any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the delimiter also named (`"semicolon"`)."""
        return {
            "format": self.format,
            "compressed": self.compressed,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "delimiter_name": DELIMITERS.get(self.delimiter or ""),
            "sheet": self.sheet,
            "columns": dict(self.columns),
            "mapping": self.mapping.to_dict() if self.mapping else None,
        }
