"""The rejection report: every order of a batch that did not end stored, for the sender.

Two forms, under the batch's own work prefix (so they expire with it):
- `rejections.jsonl`: one `{"row", "order_id", "reason", "errors": [{field, code, message,
  value}], "order"}` per line (`Rejection.to_dict()`: the order as the pipeline read it, and
  `"order_truncated": true` where it is an excerpt), in file order; `GET
  /batches/{batch_id}/rejections` pages through it by ranged reads (`read_lines`);
- `rejections.csv`: the sender's columns (`OrderId,item-id,item-desc,qty,name,email` and any
  extra ones) plus `_row` and `_errors`, so a person can fix the rows in a spreadsheet and
  upload the file again (the reader ignores columns starting with "_").

The CSV is safe to open in a spreadsheet (OWASP's advice on CSV injection): every cell, header
included, that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, which a spreadsheet
could run as a formula, gets a `'` in front. So does every cell that starts with `'` itself,
so that the prefix can always be told apart from a sender's own quote: the readers take one
leading `'` off every cell of a table whose header has the `_errors` column (ours), and a
report sent back as an upload gives every value exactly as first sent (`-1` stays `-1`,
`'quoted'` stays `'quoted'`). The JSON Lines form is not for spreadsheets and is left as is.

Both are written through temporary files, chunk by chunk, so memory does not grow with the
number of rejections. The report is the sender's data: it is never logged.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import ClientError
from s3transfer.manager import TransferManager

from chalicelib.contracts import Rejection
from chalicelib.orders.readers.columns import ESCAPE, REPORT_MARKER
from chalicelib.orders.records import FieldError
from chalicelib.pipeline.inflight import ContextThreadPool

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FLAT_COLUMNS = ("OrderId", "item-id", "item-desc", "qty", "name", "email")
_GROUPS = {"order-info": FLAT_COLUMNS[:4], "contact-info": FLAT_COLUMNS[4:]}
ANNOTATIONS = ("_row", REPORT_MARKER)
RAW = "_raw"  # the text of a record that could not be parsed into columns at all
# The reader removes the same prefix (chalicelib/orders/readers/columns.py).
_RISKY = ("=", "+", "-", "@", "\t", "\r", ESCAPE)


def report_line(rejection: Rejection) -> dict[str, Any]:
    """The JSON Lines form of one rejection, the order included."""
    return rejection.to_dict()


def flatten(order: Any) -> dict[str, str]:
    """An order as CSV columns: the flat names, extra fields by their own name."""
    if not isinstance(order, dict):
        text = ",".join(map(str, order)) if isinstance(order, list) else str(order)
        return {RAW: text}
    flat: dict[str, str] = {}
    for group, names in _GROUPS.items():
        values = order.get(group)
        for name in names:
            value = values.get(name) if isinstance(values, dict) else None
            if value is not None:
                flat[name] = _cell(value)
    for name, value in order.items():
        if name not in _GROUPS:
            flat[name] = _cell(value)
    return flat


def extra_columns(orders: Iterable[Any]) -> list[str]:
    """The columns beyond the flat names that these rejected orders need, in order of
    appearance."""
    seen: dict[str, None] = {}
    for order in orders:
        for name in flatten(order):
            if name not in FLAT_COLUMNS:
                seen.setdefault(name)
    return list(seen)


def errors_text(errors: Iterable[FieldError]) -> str:
    """`qty.not_positive_integer: qty must be ...; email.invalid: ...`"""
    return "; ".join(f"{e.code}: {e.message}" for e in errors)


class ReportWriter:
    """Collects rejections into the two forms; `upload` sends them to S3."""

    def __init__(self, extra: Iterable[str]) -> None:
        extras = [name for name in extra if name != RAW]
        columns = [*FLAT_COLUMNS, *extras, *ANNOTATIONS]
        if RAW in extra:
            columns.append(RAW)
        self._jsonl: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - closed in upload
        self._csv: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - closed in upload
        self._csv_text = io.TextIOWrapper(self._csv, encoding="utf-8", errors="replace", newline="")
        # CRLF (RFC 4180): the csv module quotes a field holding any character of the line
        # terminator, so a lone CR in a value is quoted too and cannot split the row.
        self._writer = csv.DictWriter(self._csv_text, fieldnames=columns, lineterminator="\r\n")
        self._writer.writerow({name: neutralise(name) for name in columns})
        self.count = 0

    def add(self, rejection: Rejection) -> None:
        # ASCII JSON; a value JSON cannot hold is written as its text (as on the DLQ)
        self._jsonl.write(json.dumps(report_line(rejection), default=str).encode() + b"\n")
        row: dict[str, Any] = {
            name: neutralise(value) for name, value in flatten(rejection.order).items()
        }
        row["_row"] = rejection.row
        row["_errors"] = neutralise(errors_text(rejection.errors))
        self._writer.writerow(row)
        self.count += 1

    def upload(self, client: S3Client, bucket: str, prefix: str) -> dict[str, str]:
        """Writes both forms under `prefix` (s3transfer: one PUT each, or a multipart upload
        for a large one, its threads in the caller's context so that its calls are metered
        with the caller's); returns their keys by format."""
        self._csv_text.flush()
        keys = {"jsonl": f"{prefix}rejections.jsonl", "csv": f"{prefix}rejections.csv"}
        with TransferManager(client, executor_cls=ContextThreadPool) as transfers:
            uploads = []
            for body, key, content_type in (
                (self._jsonl, keys["jsonl"], "application/x-ndjson"),
                (self._csv, keys["csv"], "text/csv; charset=utf-8"),
            ):
                body.seek(0)
                extra = {"ContentType": content_type}
                uploads.append(transfers.upload(body, bucket, key, extra_args=extra))
            for upload in uploads:
                upload.result()
        self._csv_text.close()
        self._jsonl.close()
        return keys


def neutralise(text: str) -> str:
    """`text` as a cell no spreadsheet runs as a formula (see the module)."""
    return ESCAPE + text if text.startswith(_RISKY) else text


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


READ_WINDOW = 256 * 1024  # bytes of the report one ranged GET reads


class ReportChanged(Exception):
    """The report is not the one a reader began with (written again by a redrive)."""


class NotALineStart(ValueError):
    """An offset inside a line (no reader hands out such a place to start)."""


class ReportLines:
    """The lines of a report object read by ranged GETs (`READ_WINDOW` bytes each), from any
    line's first byte: memory holds one window and the line it ends inside, however large the
    report. `etag` pins the object: a report written again since raises `ReportChanged`."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        *,
        etag: str | None = None,
        window: int | None = None,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self.etag = etag  # the object's, once read (without quotes)
        self._window = window or READ_WINDOW

    def from_offset(self, start: int) -> Iterator[tuple[int, bytes]]:
        """Each line from byte `start` on, with the offset just after it (where the next
        begins), without its newline. A `start` that is not a line's first byte (the byte
        before it is no newline) raises `NotALineStart`."""
        offset, partial = max(start - 1, 0), b""
        data, size = self._read(offset)
        if start > 0:
            if not data.startswith(b"\n"):
                raise NotALineStart(start)
            data, offset = data[1:], start
        while True:
            offset += len(data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            end = offset - len(partial)
            yield from _with_ends(lines, end)
            if size is None or offset >= size:
                if partial:
                    yield offset, partial
                return
            data, size = self._read(offset)

    def _read(self, offset: int) -> tuple[bytes, int | None]:
        """The window from `offset` and the object's size (None past its end)."""
        pinned = {"IfMatch": f'"{self.etag}"'} if self.etag else {}
        try:
            response = self._client.get_object(
                Bucket=self._bucket,
                Key=self._key,
                Range=f"bytes={offset}-{offset + self._window - 1}",
                **pinned,  # type: ignore[arg-type]
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "InvalidRange":
                return b"", None
            if code in {"PreconditionFailed", "412"}:
                raise ReportChanged(self._key) from error
            raise
        self.etag = self.etag or response["ETag"].strip('"')
        total = response.get("ContentRange", "").rpartition("/")[2]
        data = response["Body"].read()
        return data, int(total) if total.isdigit() else offset + len(data)


def _with_ends(lines: list[bytes], end: int) -> Iterator[tuple[int, bytes]]:
    """Complete lines (the last ends just before byte `end`'s newline), each with its end."""
    ends: list[int] = []
    for line in reversed(lines):
        ends.append(end)
        end -= len(line) + 1
    yield from zip(reversed(ends), lines, strict=True)
