"""A JSON document (`{"orders": [...]}`) or a JSON array of orders, `row` = position in the list.

Read by `jsontext`, the one JSON reader, element by element: an element holding a value no order
may hold is yielded with its error and its neighbours go on; only text that is not JSON, or a
document without exactly one list of orders, makes the file unreadable.

The reader's buffer holds the value being read: it may not grow past four times the budget's
`row_bytes` (an order, or a run of whitespace, larger than that is `file.row_too_large`), the
list's elements count against `rows`, and the document's top-level members against `columns`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Final

from chalicelib.orders.jsontext import JsonSyntaxError, Parsed, Scanner
from chalicelib.orders.limits import escape_surrogates
from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.stream import TextBytes
from chalicelib.orders.records import ORDER_GROUPS, Record, UnreadableFile

__all__ = ["read_json"]


def read_json(
    stream: TextBytes, fields: dict[str, Parsed] | None, meter: Meter
) -> Iterator[Record]:
    """The records of the JSON document or array in `stream`; `fields`, when given, receives
    the document's top-level members other than "orders"."""
    read = _Bounded(stream.read, meter)
    scanner = read.scanner = Scanner(read, offset=stream.offset)
    if scanner.at_end():  # more whitespace than the head showed, and nothing else
        raise UnreadableFile("file.empty", stream.describe_blank())
    document = _Document(scanner, {} if fields is None else fields, meter)
    try:
        yield from document.records()
    except JsonSyntaxError as exc:
        raise _invalid_json(exc, scanner, document.rows) from exc


class _Bounded:
    """`read` for the scanner, refusing once its buffer holds more than four times the budget's
    `row_bytes` (it holds the value being read, and whitespace until a value starts)."""

    def __init__(self, read: Callable[[int], bytes], meter: Meter) -> None:
        self._read = read
        self._meter = meter
        self._limit = 4 * meter.budget.row_bytes
        self.scanner: Scanner | None = None

    def __call__(self, size: int) -> bytes:
        scanner = self.scanner
        if scanner is not None and len(scanner.text) > self._limit:
            where = f"the JSON around line {scanner.line(scanner.pos)} (one order, or the space"
            raise self._meter.row_too_large(f"{where} between two)")
        return self._read(size)


class _Document:
    """A JSON document (`{"orders": [...]}`) or array, read element by element.

    Each element is read on its own (`Scanner.read_value`): an element holding a value no order
    may hold is yielded with its error and its neighbours go on; only text that is not JSON, or
    a document without exactly one list of orders, makes the file unreadable.
    """

    def __init__(self, scanner: Scanner, fields: dict[str, Parsed], meter: Meter) -> None:
        self.scanner = scanner
        self.fields = fields  # the top-level members besides "orders"
        self.rows = 0  # elements read so far
        self.meter = meter

    def records(self) -> Iterator[Record]:
        scanner = self.scanner
        start = scanner.peek()
        if start == "[":
            scanner.pos += 1
            yield from self._elements()
        elif start == "{":
            scanner.pos += 1
            yield from self._members()
        else:
            scanner.read_value()  # raises JsonSyntaxError when it is not JSON at all
            raise UnreadableFile(
                "file.no_orders_array",
                f"the file holds a single JSON value ({_kind(start)}), expected an object with "
                'an "orders" array, or an array of orders',
            )
        if not scanner.at_end():
            raise JsonSyntaxError(
                "there is more data after the end of the JSON document (if the file holds one "
                "JSON object per line, name it .jsonl)",
                scanner.pos,
            )

    def _members(self) -> Iterator[Record]:
        scanner = self.scanner
        keys: list[str] = []
        found = False
        scanner.skip_ws()
        if scanner.peek() == "}":
            scanner.pos += 1
        else:
            while True:
                key = self._key()
                if key == "orders":
                    if found:
                        raise _duplicate_orders_key(self.rows)
                    found = True
                    yield from self._orders()
                else:
                    keys.append(key)
                    if len(keys) >= self.meter.budget.columns:
                        raise self.meter.too_many_columns("the JSON document's top level")
                    self.fields[key] = scanner.read_value()
                    scanner.release()
                scanner.skip_ws()
                if scanner.peek() == "}":
                    scanner.pos += 1
                    break
                scanner.expect(",", "',' or '}'")
        if not found:
            raise _no_orders_key(keys)

    def _key(self) -> str:
        scanner = self.scanner
        scanner.skip_ws()
        if scanner.peek() != '"':
            raise scanner.expected("a key (a string in double quotes)")
        key: str = json.loads(scanner.read_string())  # "\u006frders" is "orders" too
        scanner.expect(":", "':' after a key")
        return key

    def _orders(self) -> Iterator[Record]:
        scanner = self.scanner
        scanner.skip_ws()
        start = scanner.peek()
        if start != "[":
            if start not in _KINDS:
                scanner.read_value()  # raises JsonSyntaxError: not JSON
            raise UnreadableFile(
                "file.no_orders_array",
                f'the "orders" key holds {_kind(start)}, expected an array of orders',
            )
        scanner.pos += 1
        yield from self._elements()

    def _elements(self) -> Iterator[Record]:
        """One record per element of the array whose "[" was just read."""
        scanner = self.scanner
        scanner.skip_ws()
        if scanner.peek() == "]":
            raise UnreadableFile(
                "file.empty", "the file contains no orders: the list of orders is empty"
            )
        max_rows = self.meter.budget.rows
        while True:
            parsed = scanner.read_value()
            self.rows += 1
            if self.rows > max_rows:
                raise self.meter.too_many_rows()
            yield Record(self.rows, parsed.value, parsed.error)
            if not scanner.next_element():
                return
            scanner.release()


_KINDS: Final = {
    "{": "an object",
    "[": "an array",
    '"': "a string",
    "t": "a boolean",
    "f": "a boolean",
    "n": "null",
    "-": "a number",
    **{digit: "a number" for digit in "0123456789"},
}


def _kind(start: str) -> str:
    return _KINDS.get(start, "a value")


def _no_orders_key(keys: list[str]) -> UnreadableFile:
    found = ", ".join(f'"{escape_surrogates(key)}"' for key in keys[:10])
    found += ", ..." if len(keys) > 10 else ""
    message = 'the JSON object has no "orders" key, expected {"orders": [...]} ' + (
        f"(keys found: {found})" if keys else "(the object is empty)"
    )
    if set(keys) & set(ORDER_GROUPS):
        message += (
            "; it looks like a single order: a file with one order per line must be named "
            '.jsonl, and a JSON file must list its orders under "orders"'
        )
    return UnreadableFile("file.no_orders_array", message)


def _duplicate_orders_key(rows: int) -> UnreadableFile:
    return UnreadableFile(
        "file.duplicate_orders_key",
        f'the JSON object has the key "orders" more than once (the first list held {rows} '
        f"order{'' if rows == 1 else 's'}); JSON readers disagree on which list such a document "
        'means, so none is taken: send one "orders" list',
    )


def _invalid_json(exc: JsonSyntaxError, scanner: Scanner, records: int) -> UnreadableFile:
    read = f"{records} order{' was' if records == 1 else 's were'} read before the error"
    if exc.at_end:
        end = len(scanner.text)
        return UnreadableFile(
            "file.invalid_json",
            f"the JSON document is incomplete: the file ends at byte {scanner.byte_offset(end)} "
            f"(line {scanner.line(end)}) before the document is closed; the file was probably "
            f"cut short ({read})",
        )
    return UnreadableFile(
        "file.invalid_json",
        f"the file is not valid JSON: {exc.message} at line {scanner.line(exc.pos)}, near byte "
        f"offset {scanner.byte_offset(exc.pos)}: `{scanner.excerpt(exc.pos)}` ({read})",
    )
