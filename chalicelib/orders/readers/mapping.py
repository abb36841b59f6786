"""A column mapping: what a sender says about its tables, where detection would not do.

`ColumnMapping.from_json` takes `{"columns": {field: header}, "sheet", "delimiter", "encoding",
"header_row" | "skip_rows"}` (every key optional) as JSON text or parsed, and either returns the
mapping or raises `MappingError` (code `mapping.invalid`) listing every problem at once: an
unknown key or field (the fields are `records.ORDER_FIELDS`), a header that is not a non-empty
string, one header for two fields, a bad sheet, delimiter, encoding or header row. How a
mapping's columns are then matched to a header is `columns.Columns`'.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from chalicelib.orders.readers.names import normalise
from chalicelib.orders.records import ORDER_FIELDS

__all__ = ["ENCODINGS", "ColumnMapping", "MappingError"]

_DELIMITER_NAMES: Final = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
#: The encodings a mapping may name for a CSV without a byte-order mark (other spellings of
#: the same accepted), each under the name the file's facts give it.
ENCODINGS: Final = ("utf-8", "windows-1252", "latin-1")
_ENCODING_NAMES: Final = {
    "utf8": "utf-8",
    "windows1252": "windows-1252",
    "cp1252": "windows-1252",
    "latin1": "latin-1",
    "iso88591": "latin-1",
}


class MappingError(ValueError):
    """A column mapping that cannot be used; `message` lists every problem."""

    code = "mapping.invalid"

    def __init__(self, problems: list[str]) -> None:
        self.message = "the column mapping is invalid: " + "; ".join(problems)
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """What a sender says about its tables: which header holds which of our fields, the sheet
    of a workbook to read, the delimiter and encoding of its CSV, and the row its header is
    on. Anything not said is detected."""

    columns: Mapping[str, str] = field(default_factory=dict)  # our field -> their header
    sheet: str | None = None
    delimiter: str | None = None  # one of "," ";" "\t" "|"
    encoding: str | None = None  # a CSV's without a byte-order mark: one of ENCODINGS
    header_row: int | None = None  # the header's row (1-based line or sheet row), not searched

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> ColumnMapping:
        """`{"columns": {"qty": "Menge", ...}, "sheet": "Orders", "delimiter": ";",
        "encoding": "windows-1252", "header_row": 3}`, as text or parsed; every key is optional.
        The delimiter may also be named (`"tab"`), the encoding spelt otherwise (`"cp1252"`,
        `"ISO-8859-1"`), and `"skip_rows": 2` said for `"header_row": 3`."""
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise MappingError([f"it is not JSON ({exc})"]) from exc
        if not isinstance(data, Mapping):
            raise MappingError(['it must be a JSON object such as {"columns": {"qty": "Menge"}}'])
        problems = [
            f'unknown key "{key}" (allowed: {", ".join(_KEYS)})' for key in data if key not in _KEYS
        ]
        columns = _mapped_columns(data.get("columns", {}), problems)
        sheet = data.get("sheet")
        if sheet is not None and not (isinstance(sheet, str) and sheet.strip()):
            problems.append("sheet must be a non-empty string (the name of a worksheet)")
        delimiter = data.get("delimiter")
        if delimiter is not None:
            # any JSON value may come here (a list or an object cannot be looked up by name)
            delimiter = (
                _DELIMITER_NAMES.get(delimiter, delimiter) if isinstance(delimiter, str) else None
            )
            if delimiter not in _DELIMITER_NAMES.values():
                problems.append(
                    'delimiter must be one of ",", ";", "\\t", "|" (or comma, semicolon, tab, '
                    f"pipe), not {json.dumps(data.get('delimiter'))}"
                )
        encoding = data.get("encoding")
        if encoding is not None:
            spelt = (
                "".join(c for c in encoding.casefold() if c.isalnum())
                if isinstance(encoding, str)
                else ""
            )
            encoding = _ENCODING_NAMES.get(spelt, encoding)
            if encoding not in ENCODINGS:
                problems.append(
                    'encoding must be one of "utf-8", "windows-1252", "latin-1", not '
                    f"{json.dumps(data.get('encoding'))}"
                )
        header_row = _header_row(data, problems)
        if problems:
            raise MappingError(problems)
        return cls(columns, sheet, delimiter, encoding, header_row)

    def to_dict(self) -> dict[str, Any]:
        said: dict[str, Any] = {
            "columns": dict(self.columns),
            "sheet": self.sheet,
            "delimiter": self.delimiter,
        }
        if self.encoding is not None:  # only when named, so that older records read the same
            said["encoding"] = self.encoding
        if self.header_row is not None:
            said["header_row"] = self.header_row
        return said


_KEYS: Final = ("columns", "sheet", "delimiter", "encoding", "header_row", "skip_rows")
_MAX_HEADER_ROW: Final = 1_048_576  # a sheet's last row


def _header_row(data: Mapping[str, Any], problems: list[str]) -> int | None:
    """The mapping's `header_row` (1-based), or its `skip_rows` (the rows above the header)."""
    header_row, skip_rows = data.get("header_row"), data.get("skip_rows")
    if header_row is not None and skip_rows is not None:
        problems.append("give header_row or skip_rows, not both")
        return None
    if skip_rows is not None:
        if type(skip_rows) is not int or not 0 <= skip_rows < _MAX_HEADER_ROW:
            problems.append(f"skip_rows must be a whole number from 0, not {json.dumps(skip_rows)}")
            return None
        return skip_rows + 1
    if header_row is not None and (
        type(header_row) is not int or not 1 <= header_row <= _MAX_HEADER_ROW
    ):
        problems.append(
            f"header_row must be a whole number from 1 (the header's line or row), not "
            f"{json.dumps(header_row)}"
        )
        return None
    return header_row


def _mapped_columns(columns: Any, problems: list[str]) -> dict[str, str]:
    if not isinstance(columns, Mapping):
        problems.append("columns must be an object of our field -> your header")
        return {}
    mapped: dict[str, str] = {}
    for name, header in columns.items():
        if name not in ORDER_FIELDS:
            problems.append(
                f'unknown field "{name}" in columns (fields: {", ".join(ORDER_FIELDS)})'
            )
        elif not (isinstance(header, str) and header.strip()):
            problems.append(f"the header for {name} must be a non-empty string")
        else:
            mapped[name] = header.strip()
    twice = [h for h, n in Counter(normalise(h) for h in mapped.values()).items() if n > 1]
    for repeated in twice:
        names = [name for name, header in mapped.items() if normalise(header) == repeated]
        problems.append(f"one header is mapped to several fields: {', '.join(names)}")
    return mapped
