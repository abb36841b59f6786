"""What reading a file found out about it: its format, encoding, delimiter, sheet, columns, and
a table's header row as read with suggestions for the fields it lacks.

`headers` holds at most `HEADERS_SHOWN` names of at most `HEADER_SHOWN_CHARS` characters each,
and every suggestion is one of `headers`: what a file can add to the batch record is bounded
(about 160 KB in the worst case of 4-byte characters, 40,000 characters of headers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.orders.readers.detect import DELIMITERS
from chalicelib.orders.readers.mapping import ColumnMapping

__all__ = ["FileFacts"]


@dataclass(slots=True)
class FileFacts:
    """What reading found out about a file, for the batch record and the report.

    Filled in as the file is read: `format` once it is detected (before the first record),
    `columns` and `headers` once a table's header has been read; for a table refused for its
    header, `headers` of the row tried (the first non-blank one when none matched) and
    `suggestions`: for each field no column matched, up to 3 of `headers` closest to it, best
    first (`names.closest`). JSON formats have neither (`[]`, `{}`).
    """

    format: str | None = None  # one of FORMATS
    compressed: bool = False  # gzip
    encoding: str | None = None  # "utf-8", "utf-16-le", "utf-16-be" (text formats)
    delimiter: str | None = None  # CSV: "," ";" "\t" or "|"
    sheet: str | None = None  # xlsx: the sheet read
    columns: dict[str, str] = field(default_factory=dict)  # tables: our field -> their header
    mapping: ColumnMapping | None = None  # the explicit mapping given, if any
    headers: list[str] = field(default_factory=list)  # tables: the header row's names, capped
    suggestions: dict[str, list[str]] = field(default_factory=dict)  # field -> close headers

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
            "headers": list(self.headers),
            "suggestions": {name: list(close) for name, close in self.suggestions.items()},
        }
