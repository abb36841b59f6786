"""The batch the API promises before its file exists, and the checks of what a request says
about it: its column mapping, its dry run, its callback URL, the batch it corrects.

A promise is written on the batch record (`BatchRecords.create_pending`) before the file can
arrive, because the file's S3 event may start the execution ahead of the API, and PrepareFile
reads the mapping and the dry run from the record whoever starts it. POST /orders, POST
/uploads and `orders run` (which promises its files the same way) all write it with
`Promise.record`: one shape of the record, whoever promises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.api.errors import BadRequest
from chalicelib.callback_urls import CallbackPolicy, CallbackRefused, check_url
from chalicelib.orders.readers import ColumnMapping, MappingError
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.naming import BATCH_ID
from chalicelib.settings import Settings

ORDERS_POST = "POST /orders"  # the `via` of a batch POST /orders promised


@dataclass(frozen=True, slots=True)
class Promise:
    """What is known of a batch before its file is read: how it came (`via`), where its
    completion goes, the column mapping its file is read with, whether it is a dry run, the
    caller's earlier batch it corrects and the upload's file name as the caller gave it."""

    via: str
    callback_url: str | None = None
    mapping: ColumnMapping | None = None
    dry_run: bool = False
    corrects: str | None = None
    file_name: str | None = None

    def record(
        self,
        batches: BatchRecords,
        sender: str,
        batch_id: str,
        *,
        bucket: str,
        key: str,
        upload_expires_at: str | None = None,
    ) -> None:
        """Writes the promise on the batch record `sender`/`batch_id`, for the file `key`."""
        batches.create_pending(
            sender,
            batch_id,
            bucket=bucket,
            key=key,
            via=self.via,
            callback_url=self.callback_url,
            mapping=self.mapping.to_dict() if self.mapping is not None else None,
            dry_run=self.dry_run,
            upload_expires_at=upload_expires_at,
            corrects=self.corrects,
            file_name=self.file_name,
        )


def mapping_of(given: Any) -> ColumnMapping:
    """A column mapping that came with a request (JSON text or an object); one that cannot be
    used is a 400 `mapping.invalid` listing every problem."""
    try:
        return ColumnMapping.from_json(given)
    except MappingError as invalid:
        raise BadRequest(invalid.message, code=invalid.code) from invalid


def optional_mapping(given: Any) -> ColumnMapping | None:
    """`mapping_of`, where a request may also give none."""
    return mapping_of(given) if given is not None else None


def dry_run_flag(value: str | None) -> bool:
    """The `dry_run` query parameter: `true` or `false` (absent: false); else a 400."""
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest("dry_run must be true or false", code="bad_dry_run")


def check_corrects(value: Any, sender: str, batches: BatchRecords) -> str | None:
    """The batch a request says it corrects (None: it names none): one of the caller's own that
    stored orders (not a dry run), read with the caller's clients; anything else is a 400
    `bad_corrects` (another sender's batch answers as one that does not exist). A dry run is
    refused because correcting it would store the corrected rows alone while the rest of its
    file was never stored: the partner sends the file for real, then corrects that batch."""
    if value is None:
        return None
    if not (isinstance(value, str) and BATCH_ID.match(value)):
        raise BadRequest("corrects must be a batch id", code="bad_corrects")
    record = batches.get(sender, value)
    if record is None:
        raise BadRequest(
            f"corrects names no batch of yours: {value!r} (a batch this API gave you)",
            code="bad_corrects",
        )
    if record.get("dry_run"):
        raise BadRequest(
            f"corrects names the dry run {value}, which stored nothing: send the file for real,"
            " then correct the rejected rows of that batch",
            code="bad_corrects",
        )
    return value


def callback_policy_of(settings: Settings) -> CallbackPolicy:
    """Which callback URLs the stage calls (https only, loopback or not)."""
    return CallbackPolicy(
        require_https=settings.callback_require_https,
        allow_loopback=settings.callback_allow_loopback,
    )


def check_callback(url: Any, settings: Settings) -> None:
    """A callback URL the stage will not call is a 400 `callback_refused`; none is fine."""
    if url is None:
        return
    try:
        check_url(url, callback_policy_of(settings))
    except CallbackRefused as refused:
        raise BadRequest(str(refused), code="callback_refused") from refused
