"""Which column of a table (CSV or spreadsheet) holds which field of an order.

A header is matched to the order's fields in this order, and never by a guess:

1. an explicit `ColumnMapping` (our field -> their header), when one is given;
2. the field's own name, compared after normalising case, spaces and punctuation
   (`Order ID`, `order_id` and `ORDERID` are all `OrderId`);
3. one of the field's `SYNONYMS`, normalised the same way (`Quantity` is `qty`).

The order's fields are `records.ORDER_FIELDS`; their names and synonyms are `names`', a
mapping's parsing `mapping`'s (both re-exported here).

Two columns that both match one field at the same step are refused (`file.duplicate_columns`),
and so is a field no column matches (`file.missing_columns`, naming the closest headers
present). Columns that match no field are kept under their own name, except those whose name
starts with "_" (the annotations of our rejection report) and those without a name (empty or
whitespace only, such as a trailing `,,`): those are ignored while they hold nothing, and a row
with a value under one is refused by its reader (`row.value_without_header`).

What the batch shows of a header (`FileFacts`, told by `HeaderSearch`): its `headers` (the
named columns, at most `HEADERS_SHOWN`, each cut at `HEADER_SHOWN_CHARS` characters, as no
message names a longer one either) and, for a header refused (`HeaderRefused`) for what it
lacks, `suggestions`: per field, the closest headers its message names (`names.closest`), or,
for a field whose mapped header is not there, those closest to that header or to the field's
own names; every suggestion is one of `headers`.

A table whose header has the report's `_errors` column is one of our rejection reports sent
back: the report prefixes `'` to every cell, header included, that starts with `=`, `+`, `-`,
`@`, a tab, a carriage return or `'` itself (so that a spreadsheet never runs it as a formula,
and so that the prefix is never confused with a quote the sender wrote), and here that one `'`
is removed again from every cell, so every value comes back exactly as the sender wrote it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from chalicelib.orders.readers.mapping import ColumnMapping, MappingError
from chalicelib.orders.readers.names import (
    BY_NAME,
    BY_SYNONYM,
    SYNONYMS,
    closest,
    near,
    normalise,
)
from chalicelib.orders.records import ORDER_FIELDS, ORDER_GROUPS, FieldError, Record, UnreadableFile

if TYPE_CHECKING:  # facts.py imports this package's detect, which imports this module
    from chalicelib.orders.readers.facts import FileFacts

__all__ = [
    "HEADERS_SHOWN",
    "HEADER_SEARCH_ROWS",
    "HEADER_SHOWN_CHARS",
    "REPORT_MARKER",
    "SYNONYMS",
    "ColumnMapping",
    "Columns",
    "HeaderRefused",
    "HeaderSearch",
    "MappingError",
    "is_report",
    "mark_totals",
    "normalise",
]

REPORT_MARKER: Final = "_errors"  # a header with this column is one of our rejection reports
#: A table's header is the first row within this many (lines, sheet rows) that matches the
#: order's fields: title rows above it ("Orders, March 2024") are skipped.
HEADER_SEARCH_ROWS: Final = 10
ESCAPE: Final = "'"  # what the report puts before a cell a spreadsheet would run as a formula
#: What the batch's `file.headers` (and `file.suggestions`, and a refusal's message) show of a
#: header row: its first columns, each name cut, so a hostile header cannot bloat the record.
HEADERS_SHOWN: Final = 200
HEADER_SHOWN_CHARS: Final = 200


def is_report(head: bytes) -> bool:
    """Whether the table whose text starts with `head` is one of our rejection reports (its
    comma-delimited header line has the `_errors` column): read with our own column names and
    commas, never with a sender's mapping."""
    line = next((line for line in head.decode("utf-8", "ignore").splitlines() if line.strip()), "")
    return REPORT_MARKER in (cell.strip().strip('"') for cell in line.split(","))


class Columns:
    """Where each field of the order is in a table's rows (see the module's rules)."""

    def __init__(self, header: Sequence[str], where: str, mapping: ColumnMapping | None) -> None:
        self._unescape = REPORT_MARKER in (name.strip() for name in header)
        names = [self._value(name).strip() for name in header]
        self.width = len(names)
        shown = [_cut(name) for name in names[:30]]
        self._where = f"{where}: " + ", ".join(shown) + (", ..." if len(names) > 30 else "")
        self._names = names
        # the header's names as the batch shows them (`file.headers`): blanks left out, the
        # first HEADERS_SHOWN of the others, each cut
        self._shown = [name for name in names if name][:HEADERS_SHOWN]
        self.headers = [_cut(name) for name in self._shown]
        # a column without a header (a trailing `,,`) is ignored while it holds nothing
        self.unnamed = [index for index, name in enumerate(names) if not name]
        _check_names([name for name in names if name], self._where, self.headers)
        self.found: dict[str, str] = {}  # field -> the header it is read from
        # our report sent back (also saved as a workbook) has our names: no mapping applies
        position = self._match(mapping.columns if mapping and not self._unescape else {})
        self._groups = [
            (group, [(name, position[name]) for name in names])
            for group, names in ORDER_GROUPS.items()
        ]
        taken = set(position.values())
        self._extra = [
            (name, index)
            for index, name in enumerate(names)
            if index not in taken and name and not name.startswith("_")
        ]

    def order(self, values: Sequence[str]) -> dict[str, Any]:
        """The order a row of `width` values stands for."""
        if self._unescape:
            values = [self._value(value) for value in values]
        order: dict[str, Any] = {
            group: {name: values[index] for name, index in fields} for group, fields in self._groups
        }
        for name, index in self._extra:
            order[name] = values[index]
        return order

    def value_without_header(self, values: Sequence[str]) -> tuple[int, str] | None:
        """The first column without a header that holds a value in `values` (its index and
        the value), or None: such a value belongs to no field, so its row is refused."""
        for index in self.unnamed:
            if index < len(values) and values[index].strip():
                return index, values[index]
        return None

    def _value(self, value: str) -> str:
        return value[1:] if self._unescape and value.startswith(ESCAPE) else value

    # matching ---------------------------------------------------------------------------------

    def _match(self, mapped: Mapping[str, str]) -> dict[str, int]:
        position: dict[str, int] = {}
        unmapped: dict[str, str] = {}  # field -> the header its mapping names
        for name, header in mapped.items():
            exact = [i for i, found in enumerate(self._names) if found == header]
            wanted = normalise(header)
            loose = exact or [i for i, n in enumerate(self._names) if normalise(n) == wanted]
            if loose:
                self._one(name, loose, f'the mapping\'s "{header}"')
                position[name] = loose[0]
            else:
                unmapped[name] = header
        missing: list[str] = []
        for name in ORDER_FIELDS:
            if name in mapped:
                continue
            free = [  # annotations ("_row", "_errors", ...) are never a field
                i
                for i in range(self.width)
                if i not in position.values() and not self._names[i].startswith("_")
            ]
            for table, how in ((BY_NAME, "its own name"), (BY_SYNONYM, "a synonym")):
                found = [i for i in free if table.get(normalise(self._names[i])) == name]
                if found:
                    self._one(name, found, how)
                    position[name] = found[0]
                    break
            else:
                missing.append(name)
        if unmapped or missing:
            raise self._missing(unmapped, missing, set(position.values()))
        self.found = {name: self._names[index] for name, index in position.items()}
        return position

    def _missing(
        self, unmapped: dict[str, str], missing: list[str], taken: set[int]
    ) -> HeaderRefused:
        free = [name for index, name in enumerate(self._names) if index not in taken]
        close = {name: closest(free, name, *SYNONYMS[name]) for name in missing}
        said = [
            f'{name} (the mapping names the column "{header}", which is not there; '
            f"{near([_cut(n) for n in closest(free, header)])})"
            for name, header in unmapped.items()
        ]
        said += [f"{name} ({near([_cut(n) for n in close[name]])})" for name in missing]
        # a field whose mapped header is not there: the headers close to that header or to
        # the field's own names; every suggestion is one of `headers`, for a page to offer
        for name, header in unmapped.items():
            close[name] = closest(free, header, name, *SYNONYMS[name])
        shown = set(self._shown)
        suggestions = {
            name: [_cut(header) for header in close[name] if header in shown]
            for name in ORDER_FIELDS
            if name in close
        }
        return HeaderRefused(
            "file.missing_columns",
            f"the header lacks the required column{'s' if len(said) > 1 else ''} "
            f"{', '.join(said)}; expected {', '.join(ORDER_FIELDS)} in any order (names are "
            "matched ignoring case, spaces and punctuation, and by the synonyms docs/formats.md "
            f"lists; a column mapping can name any other header); {self._where}",
            self.headers,
            suggestions,
        )

    def _one(self, name: str, found: list[int], how: str) -> None:
        if len(found) > 1:
            listed = " and ".join(f'"{_cut(self._names[i])}"' for i in found)
            raise HeaderRefused(
                "file.duplicate_columns",
                f"the columns {listed} both match {name} (by {how}): which one holds {name} "
                f"is not guessed; rename or remove one, or send a column mapping; {self._where}",
                self.headers,
            )


# totals rows ------------------------------------------------------------------------------------

_TOTAL_WORDS: Final = frozenset({"total", "totals", "sum", "grandtotal", "subtotal"})
_NUMBER: Final = re.compile(r"[-+]?\(?[-+]?[$€£¥]?\s?\d[\d.,' ]*\)?\s?[$€£¥%]?")


def mark_totals(records: Iterator[Record]) -> Iterator[Record]:
    """`records` of a table, the last one refused as `row.totals` when it is a totals row (its
    OrderId empty or "Total", "Totals", "Sum", its other values mostly numbers) rather than
    an order; one record is held back to know which is the last."""
    last: Record | None = None
    for record in records:
        if last is not None:
            yield last
        last = record
    if last is not None:
        yield _totals(last) if last.error is None and _is_totals(last.order) else last


def _is_totals(order: Any) -> bool:
    info = order.get("order-info") if isinstance(order, dict) else None
    if not isinstance(info, dict) or normalise(str(info.get("OrderId", ""))) not in (
        _TOTAL_WORDS | {""}
    ):
        return False
    values = [value for name, value in info.items() if name != "OrderId"]
    contact = order.get("contact-info")
    values += list(contact.values()) if isinstance(contact, dict) else []
    values += [value for name, value in order.items() if name not in ORDER_GROUPS]
    texts = [text for text in (str(value).strip() for value in values) if text]
    texts = [text for text in texts if normalise(text) not in _TOTAL_WORDS]  # labels
    numbers = sum(1 for text in texts if _NUMBER.fullmatch(text))
    return numbers > 0 and 2 * numbers > len(texts)


def _totals(record: Record) -> Record:
    message = (
        f'row {record.row} is a totals row (no OrderId, or one such as "Total", and numbers '
        "for the rest), not an order: it is left out; if it is an order, give it its OrderId "
        "and its other values"
    )
    return Record(record.row, record.order, FieldError("row", "row.totals", message, None))


def _check_names(names: list[str], where: str, headers: list[str]) -> None:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        listed = ", ".join(f'"{_cut(name)}"' for name in repeated[:30])
        listed += ", ..." if len(repeated) > 30 else ""
        raise HeaderRefused(
            "file.duplicate_columns",
            f"the header names the column{'s' if len(repeated) > 1 else ''} {listed} more "
            f"than once; every column name must be unique; {where}",
            headers,
        )
    clashing = [name for name in ORDER_GROUPS if name in names]
    if clashing:
        raise HeaderRefused(
            "file.duplicate_columns",
            f'the header has a column named "{clashing[0]}", which clashes with the '
            f'"{clashing[0]}" group the order is built with; rename that column; {where}',
            headers,
        )


def _cut(name: str) -> str:
    return name[:HEADER_SHOWN_CHARS]


class HeaderRefused(UnreadableFile):
    """A row refused as the table's header (`file.missing_columns`, `file.duplicate_columns`),
    with what the batch shows of it: `headers` (`Columns.headers`) and, for missing columns,
    `suggestions` (field -> up to 3 of `headers` closest to it, best first, by `closest`)."""

    def __init__(
        self,
        code: str,
        message: str,
        headers: list[str],
        suggestions: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.headers = headers
        self.suggestions = suggestions or {}


class HeaderSearch:
    """Which row of a table (CSV or sheet) is its header, one rule for both: the mapping's
    `header_row` when it names one (rows above it are skipped, the row itself must match),
    else the first row within `HEADER_SEARCH_ROWS` that matches the order's fields. A title
    row above the header is skipped; when none matches in time, the first row's refusal is
    raised (`file.missing_columns` naming what that row lacks).

    What it decides is told to `facts`: the header's `columns` matched and its `headers`, or,
    for a refusal, the `headers` of the row refused and the `suggestions` for what it lacks
    (`HeaderRefused`); a title row skipped leaves no trace there."""

    def __init__(self, mapping: ColumnMapping | None, facts: FileFacts) -> None:
        self._given = mapping.header_row if mapping else None  # given: not searched
        self._facts = facts
        self.title: UnreadableFile | None = None  # why the first row is not the header

    def look(self, row: int, header: Callable[[], Columns]) -> Columns | None:
        """The header when row `row` is it (`header()` builds it), None for a row above it."""
        if self._given is not None and row < self._given:
            return None
        try:
            columns = header()
        except UnreadableFile as exc:
            if (
                self._given is not None
                or exc.code != "file.missing_columns"
                or row >= HEADER_SEARCH_ROWS
            ):
                raise self.refused(exc) from None
            self.title = self.title or exc  # a title row: the header is looked for further down
            return None
        self._facts.columns.update({name: _cut(found) for name, found in columns.found.items()})
        self._facts.headers = columns.headers
        return columns

    def refused(self, exc: UnreadableFile) -> UnreadableFile:
        """What is raised when no row is the header (the first row's refusal, else `exc`),
        its headers and suggestions told to the facts."""
        raised = self.title or exc
        if isinstance(raised, HeaderRefused):
            self._facts.headers = raised.headers
            self._facts.suggestions = raised.suggestions
        return raised
