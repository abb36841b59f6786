"""What a file is: decided by its content first (magic bytes), then by its name.

`refuse_binary` looks at the first bytes: a PDF or an image is refused at once, a ZIP or an OLE2
compound file is a container to look into (`judge_zip`, `judge_ole2`: an .xlsx workbook is read,
everything else is refused with its own code and what to send instead), and anything else is
text. For text, `detect_format` picks JSON, JSON Lines or CSV, and `detect_delimiter` the CSV's
delimiter from its header line.
"""

from __future__ import annotations

import codecs
import zipfile
from typing import IO, Final, Literal, NoReturn, Protocol

from chalicelib.orders.jsontext import JsonSyntaxError, parse_text
from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.columns import HEADER_SEARCH_ROWS
from chalicelib.orders.readers.xlsx import check_directory
from chalicelib.orders.records import UnreadableFile

__all__ = [
    "CSV",
    "DELIMITERS",
    "FORMATS",
    "JSON",
    "JSONL",
    "XLSX",
    "detect_delimiter",
    "detect_format",
    "judge_ole2",
    "judge_zip",
    "refuse_binary",
]

JSON: Final = "json"
JSONL: Final = "jsonl"
CSV: Final = "csv"
XLSX: Final = "xlsx"
FORMATS: Final[tuple[str, ...]] = (JSON, JSONL, CSV, XLSX)

#: The delimiters a CSV may use, with the names reports give them.
DELIMITERS: Final[dict[str, str]] = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

MAGIC_BYTES: Final = 8  # enough for every signature below
_ZIP: Final = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SEND: Final = "send the orders as an .xlsx workbook, a CSV or JSON file instead"
_IMAGES: Final = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
)
_SUFFIXES: Final = (
    (".csv", CSV),
    (".tsv", CSV),
    (".jsonl", JSONL),
    (".ndjson", JSONL),
    (".json", JSON),
)
# The name of the stream an encrypted OOXML workbook keeps its content in (UTF-16LE, as OLE2
# directory entries are named); Excel writes every password-protected workbook this way.
_ENCRYPTED_PACKAGE: Final = "EncryptedPackage".encode("utf-16-le")


def refuse_binary(head: bytes) -> Literal["zip", "ole2"] | None:
    """ "zip" or "ole2" for a container to look into, None for text; raises for a PDF or an
    image (`head`: the file's first `MAGIC_BYTES` bytes, after any gzip)."""
    if head.startswith(_ZIP):
        return "zip"
    if head.startswith(_OLE2):
        return "ole2"
    if head.startswith(b"%PDF-"):
        raise UnreadableFile("file.pdf", f"the file is a PDF document, not order data: {_SEND}")
    for magic, what in _IMAGES:
        if head.startswith(magic):
            raise UnreadableFile("file.image", f"the file is {what}, not order data: {_SEND}")
    return None


def judge_zip(file: IO[bytes], meter: Meter | None = None) -> None:
    """Returns when the ZIP archive in `file` is an .xlsx workbook; raises for anything else
    (and for a directory larger than `meter`'s budget, before it is read)."""
    check_directory(file, meter or Meter())
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UnreadableFile(
            "file.invalid_xlsx",
            f"the file starts like a ZIP archive (as an .xlsx workbook does) but cannot be "
            f"opened ({exc}): it is damaged or was cut short; save or export it again",
        ) from exc
    if "xl/workbook.xml" in names:
        return
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        raise UnreadableFile(
            "file.ods",
            "the file is an OpenDocument spreadsheet (.ods, from LibreOffice or OpenOffice), "
            "which is not read: save it as an .xlsx workbook (File > Save As > Excel 2007-365) "
            "or as CSV",
        )
    if any(name.startswith("Index/") and name.endswith(".iwa") for name in names):
        raise UnreadableFile(
            "file.numbers",
            "the file is an Apple Numbers document (.numbers), which is not read: export it "
            "as an .xlsx workbook (File > Export To > Excel) or as CSV",
        )
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise UnreadableFile(
        "file.zip",
        f"the file is a ZIP archive of {len(names)} file{'' if len(names) == 1 else 's'} "
        f"({shown or 'none'}), not an .xlsx workbook: send each order file on its own, "
        "unzipped (gzip-compressing a single file is fine)",
    )


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def judge_ole2(file: _Readable) -> NoReturn:
    """Raises for an OLE2 compound file: an encrypted workbook, or a legacy .xls one (read as
    it streams by, never stored)."""
    overlap = len(_ENCRYPTED_PACKAGE) - 1
    tail = b""
    while block := file.read(1024 * 1024):
        if _ENCRYPTED_PACKAGE in tail + block:
            raise UnreadableFile(
                "file.encrypted",
                "the file is a password-protected (encrypted) workbook, which cannot be read "
                "without its password: save a copy without the password (File > Info > "
                "Protect Workbook > Encrypt with Password, cleared) and send that",
            )
        tail = block[-overlap:]
    raise UnreadableFile(
        "file.xls",
        "the file is a legacy Excel 97-2003 workbook (.xls) or another pre-2007 Office "
        "document, which is not read: save it as an .xlsx workbook (File > Save As > Excel "
        "Workbook) or as CSV UTF-8",
    )


def detect_format(key: str, head: bytes) -> str:
    """Return "json", "jsonl" or "csv" for a text file named `key` that starts with `head`.

    The name decides when it ends in .csv, .tsv, .jsonl, .ndjson or .json (after any .gz);
    otherwise the first bytes (after decompression) do: `[` is a JSON array, `{` is JSON Lines
    when the first line alone is a complete JSON object without an "orders" key and a JSON
    document otherwise, anything else is CSV.
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


def detect_delimiter(key: str, head: bytes) -> str:
    """The delimiter of a CSV named `key` whose text starts with `head`.

    A .tsv name means tab. Otherwise the header line decides: the delimiter of `DELIMITERS`
    that occurs most often in it outside double quotes (ties go to the earlier one in
    `DELIMITERS`); the header line is the first non-blank one that holds any of them, among the
    first `HEADER_SEARCH_ROWS` lines (a title line above the header may hold none); a table
    without any (one column) is read with commas.
    """
    if key.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    text = head.decode("utf-8", errors="ignore")
    for line in text.splitlines()[:HEADER_SEARCH_ROWS]:
        counts = dict.fromkeys(DELIMITERS, 0)
        quoted = False
        for char in line:
            if char == '"':
                quoted = not quoted
            elif not quoted and char in counts:
                counts[char] += 1
        best = max(counts, key=lambda delimiter: counts[delimiter])
        if counts[best]:
            return best
    return ","


def _is_single_line_object(line: bytes) -> bool:
    try:
        parsed = parse_text(line.decode("utf-8"))
    except (UnicodeDecodeError, JsonSyntaxError):  # the head may end inside a character
        return False
    return isinstance(parsed.value, dict) and "orders" not in parsed.value
