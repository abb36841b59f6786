"""Read an order file as a stream of `Record`s, whatever its format.

Four formats are accepted, each in UTF-8 (with or without a BOM, LF or CRLF line endings) and
each optionally gzip-compressed (recognised by its magic bytes, not by its name):

* a JSON document ``{"orders": [...]}``: one record per element, `row` = position in the list;
* a JSON array ``[...]``: the same, one record per element;
* JSON Lines: one order per line, `row` = line number; blank lines are skipped;
* CSV with a header row: `row` = the line where the record starts (the header is line 1).

The file is never held in memory as a whole: bytes flow through `_OrderBytes` (gunzip, BOM,
UTF-8 check) in 64 KiB chunks and records are yielded one at a time. A record that cannot be
parsed (a bad JSON line, a CSV row with the wrong number of fields) is yielded with `error` set
and reading goes on; a problem with the file as a whole raises `UnreadableFile`, possibly after
some records were yielded (callers then discard everything they received).
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

import ijson

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
_LINE_ENDS: Final = bytes.maketrans(b"\r\n", b"  ")  # how yajl shows line ends in its errors

_ORDER_INFO: Final = ("OrderId", "item-id", "item-desc", "qty")
_CONTACT_INFO: Final = ("name", "email")
_REQUIRED_COLUMNS: Final = _ORDER_INFO + _CONTACT_INFO
_GROUPS: Final = ("order-info", "contact-info")

_OPENING: Final = frozenset({"start_map", "start_array"})
_CLOSING: Final = frozenset({"end_map", "end_array"})
_KINDS: Final = {
    "start_map": "an object",
    "start_array": "an array",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


class ByteSource(Protocol):
    """What `read_records` needs from its body: `read(n)` returning bytes (b"" at the end)."""

    def read(self, size: int = ..., /) -> bytes: ...


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def read_records(body: ByteSource, key: str) -> Iterator[Record]:
    """Yield one `Record` per order of the file in `body`, in file order.

    `key` (the S3 key or file name) only serves format detection. Raises `UnreadableFile`
    (see `FILE_ERROR_CODES`) when the file as a whole cannot be read, possibly after yielding
    some records.
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
        yield from _read_json(stream, head)


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
        value = json.loads(line)
    except ValueError:  # also UnicodeDecodeError, when the head ends inside a character
        return False
    return isinstance(value, dict) and "orders" not in value


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
        self.has_text = False  # whether any of them is not whitespace
        self._checked_lines = 0  # newlines among them
        self._buffer = b""  # checked bytes not handed out yet, from `_pos` on
        self._pos = 0
        self.bom = 0  # length of the BOM that was dropped
        self.delivered = 0  # bytes handed out, BOM included
        self.delivered_lines = 0  # newlines among them
        self.last_read = b""  # what the last `read` returned ...
        self.last_read_at = 0  # ... the file offset where it starts ...
        self.last_read_line = 1  # ... and the line it starts on
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
        self.last_read, self.last_read_at = data, self.delivered
        self.last_read_line = self.delivered_lines + 1
        self.delivered += len(data)
        self.delivered_lines += data.count(b"\n")
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
            self.bom = self.delivered = self._checked = len(codecs.BOM_UTF8)
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
        if not self.has_text and chunk.strip():
            self.has_text = True

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


def _read_json(stream: _OrderBytes, head: bytes) -> Iterator[Record]:
    rows = _Tally()
    try:
        start = head.lstrip()[:1]
        if start == b"[":
            yield from rows.count(_items(stream, "item"))
        elif start == b"{" and _orders_array_comes_first(head):
            yield from rows.count(_items(stream, "orders.item"))
        else:
            yield from rows.count(_records_from_events(ijson.parse(stream, use_float=True)))
    except ijson.JSONError as exc:
        raise _invalid_json(exc, stream, rows.value) from exc


class _Tally:
    """Counts the records passed through `count` (so that errors can say how many were read)."""

    def __init__(self) -> None:
        self.value = 0

    def count(self, records: Iterator[Record]) -> Iterator[Record]:
        for record in records:
            self.value += 1
            yield record


def _items(stream: _OrderBytes, prefix: str) -> Iterator[Record]:
    """The fast path: ijson's C `items` builds every element at `prefix`."""
    row = 0
    for row, item in enumerate(ijson.items(stream, prefix, use_float=True), start=1):
        yield Record(row, item)
    if row == 0:
        raise _no_orders("the list of orders is empty")


def _orders_array_comes_first(head: bytes) -> bool:
    """True if `head` shows a top-level object whose "orders" value is an array, with no key
    before it that ijson's dotted prefixes could mistake for it ("orders.item").

    Only then can `ijson.items(..., "orders.item")` be trusted; every other document goes
    through `_records_from_events`, which follows the structure exactly (but is ~5x slower).
    """
    events = ijson.parse(io.BytesIO(head))
    depth = 0
    try:
        for _, event, value in events:
            if depth == 1 and event == "map_key":
                if value == "orders":
                    return bool(next(events)[1] == "start_array")
                if value.startswith("orders."):
                    return False
            depth += _depth_change(event)
            if depth == 0:
                return False
    except (ijson.JSONError, StopIteration):  # the head ends mid-document, or is not JSON
        return False
    return False


def _depth_change(event: str) -> int:
    if event in _OPENING:
        return 1
    if event in _CLOSING:
        return -1
    return 0


def _records_from_events(events: Iterator[tuple[str, str, Any]]) -> Iterator[Record]:
    """The exact path: walk the parse events, build each order with an ObjectBuilder."""
    first = next(events, None)
    if first is None:  # ijson raises before this; kept for safety
        raise _no_orders("the file holds no JSON value")
    event = first[1]
    if event == "start_array":
        yield from _array_elements(events)
    elif event == "start_map":
        yield from _orders_of_object(events)
    else:
        raise UnreadableFile(
            "file.no_orders_array",
            f"the file holds a single JSON value ({_KINDS.get(event, event)}), expected an "
            'object with an "orders" array, or an array of orders',
        )
    for _ in events:  # read to the end so that a broken or extra tail is reported
        pass


def _orders_of_object(events: Iterator[tuple[str, str, Any]]) -> Iterator[Record]:
    keys: list[str] = []
    depth = 1
    for _, event, value in events:
        if depth == 1 and event == "map_key":
            if value == "orders":
                kind = next(events, ("", "end of file", None))[1]
                if kind != "start_array":
                    raise UnreadableFile(
                        "file.no_orders_array",
                        f'the "orders" key holds {_KINDS.get(kind, kind)}, expected an array '
                        "of orders",
                    )
                yield from _array_elements(events)
                return
            keys.append(value)
        depth += _depth_change(event)
        if depth == 0:
            break
    found = ", ".join(f'"{key}"' for key in keys[:10]) + (", ..." if len(keys) > 10 else "")
    message = 'the JSON object has no "orders" key, expected {"orders": [...]} ' + (
        f"(keys found: {found})" if keys else "(the object is empty)"
    )
    if set(keys) & set(_GROUPS):
        message += (
            "; it looks like a single order: a file with one order per line must be named "
            '.jsonl, and a JSON file must list its orders under "orders"'
        )
    raise UnreadableFile("file.no_orders_array", message)


def _array_elements(events: Iterator[tuple[str, str, Any]]) -> Iterator[Record]:
    """One record per element of the array whose start event was just consumed."""
    row = 0
    for _, event, value in events:
        if event == "end_array":
            break
        row += 1
        if event in _OPENING:
            yield Record(row, _build(event, value, events))
        else:
            yield Record(row, value)
    if row == 0:
        raise _no_orders("the list of orders is empty")


def _build(event: str, value: Any, events: Iterator[tuple[str, str, Any]]) -> Any:
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, event, value in events:
        builder.event(event, value)
        depth += _depth_change(event)
        if depth == 0:
            break
    return builder.value


def _invalid_json(exc: Exception, stream: _OrderBytes, records: int) -> UnreadableFile:
    read = f"{records} order{' was' if records == 1 else 's were'} read before the error"
    if not stream.has_text:
        return _empty_file(stream)
    summary, snippet = _split_yajl_message(exc)
    if "premature EOF" in summary:
        return UnreadableFile(
            "file.invalid_json",
            f"the JSON document is incomplete: the file ends at byte {stream.delivered} "
            f"(line {stream.delivered_lines + 1}) before the document is closed; the file was "
            f"probably cut short ({read})",
        )
    where = _locate(stream, snippet)
    message = f"the file is not valid JSON: {summary}{where} ({read})"
    if "overflow" in summary:
        message += (
            "; numbers must be integers within 64 bits or ordinary floating-point values: "
            "write larger ones (such as long ids) as strings"
        )
    if "trailing garbage" in summary:
        message += (
            "; there is more data after the end of the JSON document: if the file holds one "
            "JSON object per line, name it .jsonl"
        )
    return UnreadableFile("file.invalid_json", message)


def _split_yajl_message(exc: Exception) -> tuple[str, bytes]:
    """yajl's message is "<summary>\\n<padded snippet>\\n<arrow at column 40>\\n"."""
    lines = str(exc).split("\n")
    summary = lines[0].strip().rstrip(".") or type(exc).__name__
    snippet = lines[1].encode() if len(lines) > 2 and lines[2].endswith("^") else b""
    return summary, snippet


def _locate(stream: _OrderBytes, snippet: bytes) -> str:
    """Find the error in the chunk ijson was parsing, from yajl's snippet of its surroundings.

    yajl shows up to 30 bytes either side of the error, line ends as spaces, the error at byte
    40 of the snippet line (after at least 10 bytes of padding).
    """
    before, after = snippet[10:40].lstrip(b" "), snippet[40:]
    chunk = stream.last_read
    found = chunk.translate(_LINE_ENDS).find(before + after) if before or after else -1
    if found < 0:
        span = f"{stream.last_read_at}-{stream.last_read_at + len(chunk)}"
        return f" (somewhere in bytes {span}, from line {stream.last_read_line})"
    at = found + len(before)  # yajl points just past the offending token
    line = stream.last_read_line + chunk.count(b"\n", 0, at)
    shown = (before[-24:] + after[:12]).decode(errors="replace").strip()
    return f" at line {line}, near byte offset {stream.last_read_at + at}: `{shown}`"


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
        return Record(row, json.loads(text, parse_constant=_reject_constant))
    except json.JSONDecodeError as exc:
        problem = f"line {row} is not valid JSON: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        problem = f"line {row} is not valid JSON: {exc}"
    return _bad_line(row, text, problem)


def _bad_line(row: int, text: str, message: str) -> Record:
    return Record(row, text, FieldError("row", "row.invalid_json", message, None))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


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
