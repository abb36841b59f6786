"""Read an order file as a stream of `Record`s, whatever its format.

Four formats are accepted, each in UTF-8 (with or without a BOM, LF or CRLF line endings) and
each optionally gzip-compressed (recognised by its magic bytes, not by its name):

* a JSON document ``{"orders": [...]}``: one record per element, `row` = position in the list;
* a JSON array ``[...]``: the same, one record per element;
* JSON Lines: one order per line, `row` = line number; blank lines are skipped;
* CSV with a header row: `row` = the line where the record starts (the header is line 1).

The file is never held in memory as a whole: bytes flow through `_OrderBytes` (gunzip, BOM,
UTF-8 check) in 64 KiB chunks and records are yielded one at a time. JSON of every kind is read
by `jsontext`, the one JSON reader (POST /orders reads its bodies with `read_records` too, so
the API accepts exactly what the pipeline processes).

A record that cannot be parsed (a bad JSON line, a CSV row with the wrong number of fields) or
that holds a value no order may hold (`limits`: nested too deep, a lone surrogate, a number out
of range) is yielded with `error` set and reading goes on; a problem with the file as a whole
raises `UnreadableFile`, possibly after some records were yielded (callers then discard
everything they received).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

from chalicelib.orders.jsontext import JsonSyntaxError, Parsed, Scanner, parse_text
from chalicelib.orders.limits import escape_surrogates
from chalicelib.orders.records import FieldError, Record, UnreadableFile

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["FILE_ERROR_CODES", "FORMATS", "ByteSource", "detect_format", "read_records"]

FILE_ERROR_CODES: Final[dict[str, str]] = {
    "file.empty": "The file contains no orders: it is empty, holds only whitespace, or has an "
    "empty order list (JSON), only a header row (CSV) or only blank lines (JSON Lines).",
    "file.encoding": "The file is not valid UTF-8 (for example Latin-1 or UTF-16).",
    "file.gzip": "The file starts like gzip data but the compressed stream is corrupt or "
    "truncated.",
    "file.invalid_json": "The JSON document or array is not valid JSON (syntax error, truncated, "
    "or extra data after the end).",
    "file.no_orders_array": "The JSON is valid but holds no list of orders: the top-level "
    'object has no "orders" key, "orders" is not an array, or the top level is a scalar.',
    "file.duplicate_orders_key": 'The top-level object has the key "orders" more than once: '
    "JSON readers disagree on which list such a document means, so none is taken.",
    "file.invalid_jsonl": "The file was read as JSON Lines but not a single line is valid JSON.",
    "file.missing_columns": "The CSV header lacks one or more of the required columns "
    "OrderId, item-id, item-desc, qty, name, email.",
    "file.duplicate_columns": "The CSV header names a column more than once (or names a "
    'column "order-info" or "contact-info", which would clash with the order\'s groups).',
    "file.invalid_csv": "The CSV cannot be parsed any further, typically a quoted field that is "
    "never closed and runs past the field size limit.",
}

JSON: Final = "json"
JSONL: Final = "jsonl"
CSV: Final = "csv"
FORMATS: Final[tuple[str, ...]] = (JSON, JSONL, CSV)

_CHUNK: Final = 64 * 1024  # bytes read from the source at a time
_HEAD: Final = 64 * 1024  # bytes peeked for format detection
_MAX_LINE: Final = 1024 * 1024  # longest JSON Lines line read as JSON
_GZIP_MAGIC: Final = b"\x1f\x8b"
_SUFFIXES: Final = ((".csv", CSV), (".jsonl", JSONL), (".ndjson", JSONL), (".json", JSON))

_ORDER_INFO: Final = ("OrderId", "item-id", "item-desc", "qty")
_CONTACT_INFO: Final = ("name", "email")
_REQUIRED_COLUMNS: Final = _ORDER_INFO + _CONTACT_INFO
_GROUPS: Final = ("order-info", "contact-info")


class ByteSource(Protocol):
    """What `read_records` needs from its body: `read(n)` returning bytes (b"" at the end)."""

    def read(self, size: int = ..., /) -> bytes: ...


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def read_records(
    body: ByteSource, key: str, *, fields: dict[str, Parsed] | None = None
) -> Iterator[Record]:
    """Yield one `Record` per order of the file in `body`, in file order.

    `key` (the S3 key or file name) only serves format detection. Raises `UnreadableFile`
    (see `FILE_ERROR_CODES`) when the file as a whole cannot be read, possibly after yielding
    some records. `fields`, when given, receives the top-level members of a JSON document
    other than "orders", each read like an order (a `Parsed` value, or its text and error).
    """
    stream = _OrderBytes(body)
    head = stream.head(_HEAD)
    if stream.at_end(len(head)) and not head.strip():
        raise _empty_file(stream)
    fmt = detect_format(key, head)
    if fmt == CSV:
        yield from _read_csv(stream)
    elif fmt == JSONL:
        yield from _read_jsonl(stream)
    else:
        yield from _read_json(stream, fields)


def detect_format(key: str, head: bytes) -> str:
    """Return "json", "jsonl" or "csv" for a file named `key` that starts with `head`.

    The name decides when it ends in .csv, .jsonl, .ndjson or .json (after any .gz); otherwise
    the first bytes (after decompression) do: `[` is a JSON array, `{` is JSON Lines when the
    first line alone is a complete JSON object without an "orders" key and a JSON document
    otherwise, anything else is CSV.
    """
    name = key.lower().removesuffix(".gz")
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"["):
        return JSON
    if text.startswith(b"{"):
        return JSONL if _is_single_line_object(text.split(b"\n", 1)[0]) else JSON
    return CSV


def _is_single_line_object(line: bytes) -> bool:
    try:
        parsed = parse_text(line.decode("utf-8"))
    except (UnicodeDecodeError, JsonSyntaxError):  # the head may end inside a character
        return False
    return isinstance(parsed.value, dict) and "orders" not in parsed.value


# --------------------------------------------------------------------------------------------
# The byte stream every format reads through
# --------------------------------------------------------------------------------------------


class _Prepended:
    """`rest`, with `first` (bytes already read from it) put back in front."""

    def __init__(self, first: bytes, rest: ByteSource) -> None:
        self._first = first
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if not self._first:
            return self._rest.read(size)
        if size < 0 or size >= len(self._first):
            data, self._first = self._first, b""
        else:
            data, self._first = self._first[:size], self._first[size:]
        return data

    def seek(self, offset: int, /) -> int:  # required by GzipFile's type, never called forward
        raise io.UnsupportedOperation("seek")


class _OrderBytes(io.RawIOBase):
    """The text bytes of an order file: gunzipped if gzip, without a UTF-8 BOM, and checked to
    be UTF-8 as they stream through (`UnreadableFile` otherwise). Offsets and line numbers in
    messages count from the start of the (decompressed) file, BOM included.
    """

    def __init__(self, body: ByteSource) -> None:
        super().__init__()
        magic = _read_up_to(body, len(_GZIP_MAGIC))
        self.compressed = magic == _GZIP_MAGIC
        source = _Prepended(magic, body)
        self._source: ByteSource = (
            gzip.GzipFile(fileobj=source, mode="rb") if self.compressed else source
        )
        self._source_done = False
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._checked = 0  # bytes taken from the source, BOM included
        self._checked_lines = 0  # newlines among them
        self._buffer = b""  # checked bytes not handed out yet, from `_pos` on
        self._pos = 0
        self.bom = 0  # length of the BOM that was dropped
        self._open()

    # io.RawIOBase ----------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self.read(target.nbytes)
            target[: len(data)] = data
        return len(data)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return self.readall()
        if size == 0 or (self._pos >= len(self._buffer) and not self._refill()):
            return b""
        data = self._buffer[self._pos : self._pos + size]
        self._pos += len(data)
        return data

    # peeking ---------------------------------------------------------------------------------

    def head(self, size: int) -> bytes:
        """The next `size` bytes (fewer at the end of the file), left in place to be read."""
        while len(self._buffer) - self._pos < size and not self._source_done:
            rest = self._buffer[self._pos :]
            if not self._refill():
                self._buffer, self._pos = rest, 0
                break
            self._buffer, self._pos = rest + self._buffer, 0
        return self._buffer[self._pos : self._pos + size]

    def at_end(self, buffered: int) -> bool:
        """True when the `buffered` bytes left to read are all there is."""
        return self._source_done and len(self._buffer) - self._pos <= buffered

    # filling ---------------------------------------------------------------------------------

    def _open(self) -> None:
        start = b""
        while len(start) < 4 and not self._source_done:
            start += self._take()
        _reject_utf16(start)
        if start.startswith(codecs.BOM_UTF8):
            self.bom = self._checked = len(codecs.BOM_UTF8)
            start = start[self.bom :]
        self._check(start)
        self._buffer = start

    def _refill(self) -> bool:
        """Replace the buffer with the next checked chunk; False at the end of the file."""
        chunk = b""
        while not chunk and not self._source_done:
            chunk = self._take()
            self._check(chunk)
        self._buffer, self._pos = chunk, 0
        return bool(chunk)

    def _take(self) -> bytes:
        try:
            chunk = self._source.read(_CHUNK)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            if not self.compressed:
                raise
            where = f" after {self._checked} bytes of content" if self._checked else ""
            raise UnreadableFile(
                "file.gzip",
                f"the file is gzip-compressed but cannot be decompressed{where} ({exc}): the "
                "compressed data is corrupt or was cut short during upload",
            ) from exc
        self._source_done = not chunk
        return chunk

    def _check(self, chunk: bytes) -> None:
        """Check that `chunk` continues valid UTF-8 (and ends it, at the end of the source)."""
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(chunk, self._source_done)
        except UnicodeDecodeError as exc:
            in_chunk = max(exc.start - pending, 0)
            line = self._checked_lines + chunk.count(b"\n", 0, in_chunk) + 1
            raise _not_utf8(exc, self._checked - pending + exc.start, line) from exc
        self._checked += len(chunk)
        self._checked_lines += chunk.count(b"\n")

    def describe_blank(self) -> str:
        """Why a file without text has no orders (call once it has been read to its end)."""
        if not self._checked:
            return "the file is empty (0 bytes): it contains no orders"
        what = "a byte-order mark and whitespace" if self.bom else "whitespace"
        return f"the file contains no orders: it holds nothing but {what}"


def _read_up_to(body: ByteSource, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = body.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _reject_utf16(start: bytes) -> None:
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        found = "a UTF-16 byte-order mark (bytes FF FE or FE FF)"
    elif len(start) >= 4 and (
        (start[1] == 0 == start[3] and start[0] and start[2])
        or (start[0] == 0 == start[2] and start[1] and start[3])
    ):
        found = "every other byte is zero, as in UTF-16 text without a byte-order mark"
    else:
        return
    raise UnreadableFile(
        "file.encoding",
        f"the file looks like UTF-16 ({found}) but it must be UTF-8; "
        "save or export it again as UTF-8",
    )


def _not_utf8(exc: UnicodeDecodeError, offset: int, line: int) -> UnreadableFile:
    if exc.reason == "unexpected end of data":  # only at the very end of the file
        detail = f"it ends in the middle of a multi-byte character (byte offset {offset})"
    else:
        byte = exc.object[exc.start]
        detail = f"byte 0x{byte:02X} at line {line} (byte offset {offset}) is not valid UTF-8"
    return UnreadableFile(
        "file.encoding",
        f"the file is not valid UTF-8: {detail}; it was probably saved in another encoding "
        "such as Latin-1 or Windows-1252: save or export it again as UTF-8",
    )


def _empty_file(stream: _OrderBytes) -> UnreadableFile:
    return UnreadableFile("file.empty", stream.describe_blank())


def _no_orders(detail: str) -> UnreadableFile:
    return UnreadableFile("file.empty", f"the file contains no orders: {detail}")


# --------------------------------------------------------------------------------------------
# JSON document or array
# --------------------------------------------------------------------------------------------


def _read_json(stream: _OrderBytes, fields: dict[str, Parsed] | None) -> Iterator[Record]:
    scanner = Scanner(stream.read, offset=stream.bom)
    if scanner.at_end():  # more whitespace than the head showed, and nothing else
        raise _empty_file(stream)
    document = _Document(scanner, {} if fields is None else fields)
    try:
        yield from document.records()
    except JsonSyntaxError as exc:
        raise _invalid_json(exc, scanner, document.rows) from exc


class _Document:
    """A JSON document (`{"orders": [...]}`) or array, read element by element.

    Each element is read on its own (`Scanner.read_value`): an element holding a value no order
    may hold is yielded with its error and its neighbours go on; only text that is not JSON, or
    a document without exactly one list of orders, makes the file unreadable.
    """

    def __init__(self, scanner: Scanner, fields: dict[str, Parsed]) -> None:
        self.scanner = scanner
        self.fields = fields  # the top-level members besides "orders"
        self.rows = 0  # elements read so far

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
                    self.fields[key] = scanner.read_value()
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
            raise _no_orders("the list of orders is empty")
        while True:
            parsed = scanner.read_value()
            self.rows += 1
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
    if set(keys) & set(_GROUPS):
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


# --------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------


def _read_jsonl(stream: _OrderBytes) -> Iterator[Record]:
    lines = io.BufferedReader(stream, _CHUNK)
    tried = parsed = 0
    first_problem = ""
    for row, raw, complete in _lines(lines):
        if not raw.strip():
            continue
        tried += 1
        record = _jsonl_record(row, raw, complete)
        if record.error is None:
            parsed += 1
        elif not first_problem:
            first_problem = record.error.message
        yield record
    if not tried:
        raise _no_orders("every line is blank")
    if not parsed:
        raise UnreadableFile(
            "file.invalid_jsonl",
            f"no line of the file is valid JSON ({tried} non-blank "
            f"line{'' if tried == 1 else 's'}; the first problem: {first_problem}); "
            "expected one JSON object per line",
        )


def _lines(lines: io.BufferedReader[_OrderBytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its line end, whether it was read whole) for every line.

    A line longer than `_MAX_LINE` is cut: its first `_MAX_LINE` bytes come with False, and
    the rest is skipped.
    """
    row = 0
    while line := lines.readline(_MAX_LINE + 1):
        row += 1
        complete = line.endswith(b"\n") or len(line) <= _MAX_LINE
        if not complete:
            while (rest := lines.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass
        yield row, line.rstrip(b"\n").removesuffix(b"\r"), complete


def _jsonl_record(row: int, raw: bytes, complete: bool) -> Record:
    text = raw.decode("utf-8", errors="ignore" if not complete else "strict")
    if not complete:
        problem = f"line {row} is longer than {_MAX_LINE} bytes and was not read"
        return _bad_line(row, text[:200] + "...", problem)
    try:
        parsed = parse_text(text)
    except JsonSyntaxError as exc:
        return _bad_line(
            row, text, f"line {row} is not valid JSON: {exc.message} at column {exc.pos + 1}"
        )
    return Record(row, parsed.value, parsed.error)


def _bad_line(row: int, text: str, message: str) -> Record:
    return Record(row, text, FieldError("row", "row.invalid_json", message, None))


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


class _Columns:
    """Where each column of the header goes in the order dict."""

    def __init__(self, header: list[str], line: int) -> None:
        names = [name.strip() for name in header]
        _check_header(names, line)
        position = {name: index for index, name in enumerate(names)}
        self.width = len(names)
        self._order_info = [(name, position[name]) for name in _ORDER_INFO]
        self._contact_info = [(name, position[name]) for name in _CONTACT_INFO]
        # Columns whose name starts with "_" are annotations (the rejection report's `_row` and
        # `_errors`), so that a fixed report can be uploaded again as it is.
        self._extra = [
            (name, index)
            for index, name in enumerate(names)
            if name not in _REQUIRED_COLUMNS and not name.startswith("_")
        ]

    def order(self, fields: list[str]) -> dict[str, Any]:
        order: dict[str, Any] = {
            "order-info": {name: fields[index] for name, index in self._order_info},
            "contact-info": {name: fields[index] for name, index in self._contact_info},
        }
        for name, index in self._extra:
            order[name] = fields[index]
        return order


def _check_header(names: list[str], line: int) -> None:
    shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
    found = f"header found at line {line}: {shown}"
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if missing:
        lowered = {name.lower() for name in names}
        hint = (
            " (column names are case-sensitive)"
            if any(name.lower() in lowered for name in missing)
            else ""
        )
        raise UnreadableFile(
            "file.missing_columns",
            f"the CSV header lacks the required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}{hint}; expected {', '.join(_REQUIRED_COLUMNS)} "
            f"(in any order); {found}",
        )
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        listed = ", ".join(f'"{name}"' for name in repeated)
        raise UnreadableFile(
            "file.duplicate_columns",
            f"the CSV header names the column{'s' if len(repeated) > 1 else ''} {listed} more "
            f"than once; every column name must be unique; {found}",
        )
    clashing = [name for name in _GROUPS if name in names]
    if clashing:
        raise UnreadableFile(
            "file.duplicate_columns",
            f'the CSV header has a column named "{clashing[0]}", which clashes with the '
            f'"{clashing[0]}" group the order is built with; rename that column; {found}',
        )


def _read_csv(stream: _OrderBytes) -> Iterator[Record]:
    text = io.TextIOWrapper(io.BufferedReader(stream, _CHUNK), encoding="utf-8-sig", newline="")
    rows = csv.reader(text)
    end = 0  # the line the previous record ended on
    try:
        columns: _Columns | None = None
        records = 0
        for fields in rows:
            start, end = end + 1, rows.line_num
            if _is_blank(fields):
                continue
            if columns is None:
                columns = _Columns(fields, start)
                continue
            records += 1
            yield _csv_record(start, fields, columns)
    except csv.Error as exc:
        raise UnreadableFile(
            "file.invalid_csv",
            f"the CSV cannot be parsed past the record that starts at line {end + 1}: {exc} "
            "(is a quoted field never closed?)",
        ) from exc
    if columns is None:
        raise _no_orders("it holds nothing but blank lines")
    if not records:
        raise _no_orders("the CSV has a header row but no data rows")


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _csv_record(row: int, fields: list[str], columns: _Columns) -> Record:
    if len(fields) != columns.width:
        message = f"expected {columns.width} fields, found {len(fields)}"
        return Record(row, fields, FieldError("row", "row.field_count", message, None))
    return Record(row, columns.order(fields))
