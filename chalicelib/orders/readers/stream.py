"""The bytes every format reads through: gunzipped, and for text, decoded and checked.

`FileBytes` is the file as sent, decompressed when it is gzip (recognised by its magic bytes,
not its name), with its first bytes open to a peek so that detection can look before reading.
`TextBytes` is the text of a text format as UTF-8 bytes: a UTF-8 byte-order mark is dropped,
text with a UTF-16 byte-order mark (Excel's "Unicode text" export) is decoded and handed on as
UTF-8, and everything else must be valid UTF-8 (`UnreadableFile` with `file.encoding` otherwise,
naming the line and byte), with two exceptions for a CSV (the caller says so): text the sender's
mapping says is Windows-1252 or Latin-1 is read as such, and text that is not UTF-8 is read as
Windows-1252 (the "CSV" of older Excel) when everything before its first byte that is not UTF-8
was ASCII (so nothing handed out reads another way) and it decodes as Windows-1252 without an
undefined byte or a control character (other than tab and line breaks). A file that mixes UTF-8
characters and another encoding is still refused. Single-byte text is handed on as UTF-8.
Nothing is ever held whole: both read 64 KiB at a time.

`FileBytes` counts the content it hands out against the file's budget (`budget.Meter.content`):
a file whose content passes `uncompressed_bytes`, or a gzip stream that unpacks to more than
`compression_ratio` times the compressed bytes read so far (once `ratio_floor` bytes are out), is
refused at that read, after a few MiB at most of a bomb were unpacked.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from typing import TYPE_CHECKING, Final, Protocol

from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.records import UnreadableFile

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["CHUNK", "ByteSource", "FileBytes", "TextBytes"]

CHUNK: Final = 64 * 1024  # bytes read from the source at a time
_COMPRESSED_READ: Final = 8 * 1024  # bytes of gzip data handed to the decompressor at a time
_GZIP_MAGIC: Final = b"\x1f\x8b"
#: The codec of each encoding, under the name the file's facts give it.
_CODECS: Final = {
    "utf-8": "utf-8",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "windows-1252": "cp1252",
    "latin-1": "latin-1",
}
_SINGLE_BYTE: Final = ("windows-1252", "latin-1")
# What single-byte text never holds: control characters but tab, line feed and carriage return
# (C1 controls included: Latin-1 text with them is Windows-1252, or not text).
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class ByteSource(Protocol):
    """What the readers need from a body: `read(n)` returning bytes (b"" at the end)."""

    def read(self, size: int = ..., /) -> bytes: ...


class FileBytes:
    """The file's bytes, gunzipped when they are gzip; `head` peeks without consuming. Every
    byte taken from the source is counted against `meter`'s budget."""

    def __init__(self, body: ByteSource, meter: Meter | None = None) -> None:
        self._meter = meter or Meter()
        magic = _read_up_to(body, len(_GZIP_MAGIC))
        self.compressed = magic == _GZIP_MAGIC
        self._gunzipped = _Gunzipped(magic, body) if self.compressed else None
        self._source: ByteSource = self._gunzipped or body
        self._peeked = b"" if self.compressed else magic
        self.taken = len(self._peeked)  # bytes of content taken from the source

    def head(self, size: int) -> bytes:
        """The next `size` bytes (fewer at the end of the file), left in place to be read."""
        if len(self._peeked) < size:
            self._peeked += self._take(size - len(self._peeked), whole=True)
        return self._peeked[:size]

    def read(self, size: int = -1, /) -> bytes:
        if not self._peeked:
            return self._take(size)
        if 0 <= size < len(self._peeked):
            data, self._peeked = self._peeked[:size], self._peeked[size:]
            return data
        data, self._peeked = self._peeked, b""
        return data + self._take(-1) if size < 0 else data

    def _take(self, size: int, *, whole: bool = False) -> bytes:
        """Up to `size` bytes of content from the source (all of them when `whole`), counted."""
        data = _read_up_to(self._source, size) if whole else self._source.read(size)
        self.taken += len(data)
        gunzipped = self._gunzipped
        self._meter.content(self.taken, None if gunzipped is None else gunzipped.consumed)
        return data


class _Gunzipped:
    """A gzip stream's content; a corrupt or truncated stream is the file's `file.gzip`."""

    def __init__(self, magic: bytes, rest: ByteSource) -> None:
        self._compressed = _Prepended(magic, rest)
        self._file = gzip.GzipFile(fileobj=self._compressed, mode="rb")
        self._out = 0  # bytes of content handed out so far

    @property
    def consumed(self) -> int:
        """Bytes of compressed data read so far."""
        return self._compressed.taken

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._file.read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            where = f" after {self._out} bytes of content" if self._out else ""
            raise UnreadableFile(
                "file.gzip",
                f"the file is gzip-compressed but cannot be decompressed{where} ({exc}): the "
                "compressed data is corrupt or was cut short during upload",
            ) from exc
        self._out += len(data)
        return data


class _Prepended:
    """`rest`, with `first` (bytes already read from it) put back in front."""

    def __init__(self, first: bytes, rest: ByteSource) -> None:
        self._first = first
        self._rest = rest
        self.taken = 0  # bytes handed out

    def read(self, size: int = -1, /) -> bytes:
        if not self._first:
            # small reads, so that the compressed bytes counted keep up with the content
            data = self._rest.read(_COMPRESSED_READ if size < 0 else min(size, _COMPRESSED_READ))
        elif size < 0 or size >= len(self._first):
            data, self._first = self._first, b""
        else:
            data, self._first = self._first[:size], self._first[size:]
        self.taken += len(data)
        return data

    def seek(self, offset: int, /) -> int:  # required by GzipFile's type, never called forward
        raise io.UnsupportedOperation("seek")


class TextBytes(io.RawIOBase):
    """The text of a file as UTF-8 bytes, checked as they stream through.

    `offset` is the one position it exposes: bytes of the file before the next byte `read`
    hands out (a dropped byte-order mark included). For UTF-16 and single-byte text the count
    is of the text as UTF-8, which is what every reader sees; line numbers are the same in both.
    `encoding` is the one the text is read in, which a CSV's fall back to Windows-1252 may
    change as it is read (it is final once the text has been read).
    """

    def __init__(
        self, source: FileBytes, named: str | None = None, *, legacy: bool = False
    ) -> None:
        super().__init__()
        self._source = source
        start = source.head(4)
        self.encoding = named or "utf-8"
        bom = b""
        for mark, encoding in _BOMS:
            if start.startswith(mark):
                bom, self.encoding = mark, encoding
                break
        else:
            _reject_utf16_without_bom(start)
        source.read(len(bom))
        self._bom = len(bom)  # the byte-order mark dropped from the front, in bytes
        self.offset = self._bom
        self._decoder = codecs.getincrementaldecoder(_CODECS[self.encoding])()
        # text without a byte-order mark or a named encoding that is not UTF-8 may turn out
        # to be Windows-1252, as long as everything before the first byte that says so is ASCII
        self.legacy = legacy and not bom and named is None
        self.refusal: UnreadableFile | None = None  # once read as Windows-1252: why not UTF-8
        self._ascii = True  # every character handed out so far is ASCII
        self._taken = self._bom  # bytes taken from the source
        self._lines = 0  # newlines among them
        self._done = False  # the source is exhausted
        self._buffer = b""  # checked bytes not handed out yet, from `_pos` on
        self._pos = 0

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
        self.offset += len(data)
        return data

    # peeking ---------------------------------------------------------------------------------

    def peek_all(self, size: int) -> tuple[bytes, bool]:
        """The next `size` bytes, left in place, and whether they are all the text there is."""
        while len(self._buffer) - self._pos < size and not self._done:
            rest = self._buffer[self._pos :]
            if not self._refill():
                self._buffer, self._pos = rest, 0
                break
            self._buffer, self._pos = rest + self._buffer, 0
        head = self._buffer[self._pos : self._pos + size]
        return head, self._done and len(self._buffer) - self._pos <= size

    def describe_blank(self) -> str:
        """Why a file without text has no orders (call once it has been read to its end)."""
        if not self._taken:
            return "the file is empty (0 bytes): it contains no orders"
        what = "a byte-order mark and whitespace" if self._bom else "whitespace"
        return f"the file contains no orders: it holds nothing but {what}"

    # filling ---------------------------------------------------------------------------------

    def _refill(self) -> bool:
        """Replace the buffer with the next checked chunk; False at the end of the file."""
        chunk = b""
        while not chunk and not self._done:
            raw = self._source.read(CHUNK)
            self._done = not raw
            chunk = self._check(raw)
        self._buffer, self._pos = chunk, 0
        return bool(chunk)

    def _check(self, raw: bytes) -> bytes:
        """`raw` as checked UTF-8: it must continue the text (and end it, at the end). In UTF-8
        an incomplete character at the end of `raw` is held back (the decoder keeps it) until
        the next chunk completes it, so that nothing handed out is ever read another way."""
        decoder = self._decoder
        before = decoder.getstate()[0]
        try:
            text = decoder.decode(raw, self._done)
        except UnicodeDecodeError as exc:
            if (
                self.encoding == "utf-8"
                and self.legacy
                and self._ascii
                and exc.object[: exc.start].isascii()  # no UTF-8 character in this chunk
            ):
                in_raw = max(exc.start - len(before), 0)
                line = self._lines + raw.count(b"\n", 0, in_raw) + 1
                offset = self._taken - len(before) + exc.start
                self.legacy = False  # for the message: as it would have been refused
                self.refusal = self._not_text(exc, offset, line)
                self.legacy = True
                return self._switch(before, raw)
            raise self._error_at(exc, len(before)) from exc
        self._taken += len(raw)
        if self.encoding == "utf-8":
            self._lines += raw.count(b"\n")
            if self._ascii and not text.isascii():
                self._ascii = False
            data = before + raw if before else raw
            held = len(decoder.getstate()[0])
            return data[: len(data) - held] if held else data
        self._lines += text.count("\n")
        if self.encoding in _SINGLE_BYTE:
            self._check_single_byte(text, len(raw))
        return text.encode("utf-8")

    def _switch(self, before: bytes, raw: bytes) -> bytes:
        """Reads the text as Windows-1252 from the held-back bytes `before` and the chunk `raw`
        on (`raw` is not UTF-8; all the text handed out before it was ASCII, the same in both)."""
        self.encoding = "windows-1252"
        self._decoder = codecs.getincrementaldecoder(_CODECS[self.encoding])()
        data = before + raw
        try:
            text = self._decoder.decode(data, self._done)
        except UnicodeDecodeError as exc:
            raise self._error_at(exc, len(before), switched=True) from exc
        self._taken += len(raw)  # `before` was counted with its own chunk
        self._lines += text.count("\n")
        self._check_single_byte(text, len(data), switched=True)
        return text.encode("utf-8")

    def _check_single_byte(self, text: str, taken: int, *, switched: bool = False) -> None:
        """Single-byte text must look like text: no control character but tab and newlines."""
        control = _CONTROL.search(text)
        if control is None:
            return
        at = control.start()  # one byte per character
        offset = self._taken - taken + at
        line = self._lines - text.count("\n", at) + 1
        raise UnreadableFile(
            "file.encoding",
            self._single_byte_problem(
                f"byte 0x{ord(control.group()):02X} at line {line} (byte offset {offset}) is a "
                "control character, not text",
                switched,
            ),
        )

    def _error_at(
        self, exc: UnicodeDecodeError, pending: int, *, switched: bool = False
    ) -> UnreadableFile:
        in_raw = max(exc.start - pending, 0)
        raw = exc.object
        line = self._lines + raw.count(b"\n", pending, pending + in_raw) + 1
        offset = self._taken - pending + exc.start
        if self.encoding in _SINGLE_BYTE:
            byte = raw[exc.start]
            return UnreadableFile(
                "file.encoding",
                self._single_byte_problem(
                    f"byte 0x{byte:02X} at line {line} (byte offset {offset}) is not a character "
                    f"in {self.encoding}",
                    switched,
                ),
            )
        return self._not_text(exc, offset, line)

    def _single_byte_problem(self, detail: str, switched: bool) -> str:
        if switched or self.legacy:
            return (
                f"the file is not valid UTF-8, and not Windows-1252 text either: {detail}; "
                "save or export it again as UTF-8"
            )
        return (
            f"the file is not {self.encoding} text, as the column mapping says: {detail}; "
            "fix the mapping's encoding, or save or export the file again as UTF-8"
        )

    def _not_text(self, exc: UnicodeDecodeError, offset: int, line: int) -> UnreadableFile:
        if self.encoding != "utf-8":
            return UnreadableFile(
                "file.encoding",
                f"the file starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"({exc.reason} at byte offset {offset}): save or export it again as UTF-8",
            )
        if exc.reason == "unexpected end of data":  # only at the very end of the file
            detail = f"it ends in the middle of a multi-byte character (byte offset {offset})"
        else:
            byte = exc.object[exc.start]
            detail = f"byte 0x{byte:02X} at line {line} (byte offset {offset}) is not valid UTF-8"
        if self.legacy:  # a CSV whose text before this byte was UTF-8 beyond ASCII
            detail += (
                ", and the text before it holds UTF-8 characters, so the file mixes two encodings"
            )
        return UnreadableFile(
            "file.encoding",
            f"the file is not valid UTF-8: {detail}; it was probably saved in another encoding "
            "such as Latin-1 or Windows-1252: save or export it again as UTF-8",
        )


def _read_up_to(body: ByteSource, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = body.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _reject_utf16_without_bom(start: bytes) -> None:
    if len(start) >= 4 and (
        (start[1] == 0 == start[3] and start[0] and start[2])
        or (start[0] == 0 == start[2] and start[1] and start[3])
    ):
        raise UnreadableFile(
            "file.encoding",
            "the file looks like UTF-16 without a byte-order mark (every other byte is zero), "
            "so its byte order is unknown; save or export it again as UTF-8 (or as UTF-16 "
            'with a byte-order mark, which Excel\'s "Unicode text" export writes)',
        )
