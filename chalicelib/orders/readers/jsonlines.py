"""JSON Lines: one order per line, `row` = the line number; blank lines are skipped.

A line that is not JSON is that row's `row.invalid_json` and its neighbours go on; only a file
in which no line is JSON is unreadable (`file.invalid_jsonl`). A line longer than `MAX_LINE`
(or the budget's `row_bytes`) is that row's error too, and is skipped without being held; lines,
blank ones included, count against the budget's `rows`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Final

from chalicelib.orders.jsontext import JsonSyntaxError, parse_text
from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.stream import CHUNK, TextBytes
from chalicelib.orders.records import FieldError, Record, UnreadableFile

__all__ = ["MAX_LINE", "read_jsonl"]

MAX_LINE: Final = 1024 * 1024  # longest line read as JSON


def read_jsonl(stream: TextBytes, meter: Meter) -> Iterator[Record]:
    max_line = min(MAX_LINE, meter.budget.row_bytes)  # read at each call: a test may lower it
    max_rows = meter.budget.rows
    lines = io.BufferedReader(stream, CHUNK)
    tried = parsed = 0
    first_problem = ""
    for row, raw, complete in _lines(lines, max_line):
        if row > max_rows:
            raise meter.too_many_rows()
        if not raw.strip():
            continue
        tried += 1
        record = _record(row, raw, complete, max_line)
        if record.error is None:
            parsed += 1
        elif not first_problem:
            first_problem = record.error.message
        yield record
    if not tried:
        raise UnreadableFile("file.empty", "the file contains no orders: every line is blank")
    if not parsed:
        raise UnreadableFile(
            "file.invalid_jsonl",
            f"no line of the file is valid JSON ({tried} non-blank "
            f"line{'' if tried == 1 else 's'}; the first problem: {first_problem}); "
            "expected one JSON object per line",
        )


def _lines(lines: io.BufferedReader[TextBytes], max_line: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its line end, whether it was read whole) for every line.

    A line longer than `max_line` is cut: its first `max_line` bytes come with False, and the
    rest is skipped.
    """
    row = 0
    while line := lines.readline(max_line + 1):
        row += 1
        complete = line.endswith(b"\n") or len(line) <= max_line
        if not complete:
            while (rest := lines.readline(CHUNK)) and not rest.endswith(b"\n"):
                pass
        yield row, line.rstrip(b"\n").removesuffix(b"\r"), complete


def _record(row: int, raw: bytes, complete: bool, max_line: int) -> Record:
    text = raw.decode("utf-8", errors="ignore" if not complete else "strict")
    if not complete:
        problem = f"line {row} is longer than {max_line} bytes and was not read"
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
