"""The ZIP directory of a workbook, judged before zipfile reads it (zipfile keeps an object per
entry it lists): at most the budget's `zip_entries` entries, and no more bytes than those
entries may need."""

from __future__ import annotations

import struct
from typing import IO, Final

from chalicelib.orders.readers.budget import Meter, size

__all__ = ["check_directory"]

_EOCD: Final = struct.Struct("<4s4H2LH")
_DIRECTORY_ENTRY_BYTES: Final = 256  # an entry of the ZIP directory: 46 bytes, and its name
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_EOCD: Final = struct.Struct("<4sQ2H2L4Q")


def check_directory(file: IO[bytes], meter: Meter) -> None:
    """Refuses a ZIP whose directory lists more entries than a workbook may have, or is larger
    than a part may be, before zipfile reads it (it keeps an object per entry). The directory's
    end is found as zipfile finds it (the last end record, and the ZIP64 record just before it
    when a ZIP64 locator is there). A file without one is left to zipfile to refuse."""
    file.seek(0, 2)
    end = file.tell()
    tail_at = max(end - (_EOCD.size + 65535), 0)
    file.seek(tail_at)
    tail = file.read()
    last = len(tail) - _EOCD.size  # an end record without a comment, which zipfile tries first
    if last >= 0 and tail.startswith(b"PK\x05\x06", last) and tail.endswith(b"\0\0"):
        at = last
    else:
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return
    fields = _EOCD.unpack_from(tail, at)
    entries, directory = fields[4], fields[5]
    locator_at = tail_at + at - _ZIP64_LOCATOR.size
    if locator_at >= _ZIP64_EOCD.size:
        file.seek(locator_at - _ZIP64_EOCD.size)
        record = file.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
        if record[_ZIP64_EOCD.size :].startswith(b"PK\x06\x07"):
            zip64 = _ZIP64_EOCD.unpack_from(record)
            entries, directory = max(entries, zip64[6], zip64[7]), max(directory, zip64[8])
    budget = meter.budget
    if entries > budget.zip_entries:
        raise meter.part_too_large(
            "ZIP directory", f"{entries:,} entries", f"{budget.zip_entries:,}"
        )
    # zipfile lists every entry the directory's bytes hold (46 bytes and a name each), whatever
    # count the end record gives: the bytes are bounded by what the entries allowed may need
    if directory > budget.zip_entries * _DIRECTORY_ENTRY_BYTES:
        limit = size(budget.zip_entries * _DIRECTORY_ENTRY_BYTES)
        raise meter.part_too_large("ZIP directory", size(directory), limit)
