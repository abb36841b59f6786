"""The rejection report: every order of a batch that did not end stored, for the sender.

Two forms, under the batch's own work prefix (so they expire with it):
- `rejections.jsonl`: one `{"row", "order_id", "reason", "errors": [{field, code, message,
  value}]}` per line, in file order;
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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, BinaryIO

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
    """The JSON Lines form of one rejection (without the order itself)."""
    return rejection.summary()


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
        self._jsonl.write(json.dumps(report_line(rejection)).encode() + b"\n")
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
