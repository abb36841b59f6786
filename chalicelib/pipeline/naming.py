"""Names derived from an uploaded object: the batch id (also the execution's name) and the
S3 keys of everything the pipeline writes for that batch.

The batch id is a pure function of the object (bucket, key, and version id or ETag), so a
duplicate S3 event for the same object, or a POST that starts the execution itself before the
event arrives, always lands on the same Step Functions execution name and processes nothing twice.

Every key carries its sender: files arrive under `incoming/<sender>/...` (direct uploads, the
API's own keys and presigned uploads alike), and everything the pipeline writes for a batch
lives under `work/<sender>/`, `quarantine/<sender>/` and `archive/<sender>/`, so that one
S3 prefix condition holds a sender's whole data. The sender of a file is read from its key and
never guessed: a key outside any sender's folder belongs to no sender (`UNASSIGNED`), and its
file is quarantined with `file.no_sender`.

This module is the one place that spells a key of the bucket. The prefixes themselves are
settings (`INCOMING_PREFIX`, `WORK_PREFIX`, `QUARANTINE_PREFIX`, `ARCHIVE_PREFIX`); every key
is built from them here:

    incoming/<sender>/<name>                         a sender's own file (`sender_file_key`)
    incoming/<sender>/api/<batch_id>.json            POST /orders (`api_key_for`)
    incoming/<sender>/uploads/<batch_id>/<name>      POST /uploads (`upload_key_for`)
    incoming/<sender>/redrive/<digest>.jsonl         `orders dlq redrive` (`redrive_key_for`)
    work/<sender>/<batch_id>/...                     manifest, chunks, results, report (`BatchKeys`)
    quarantine/<sender>/<batch_id>/...               a quarantined file, its error report, a
                                                     different second upload (`BatchKeys`,
                                                     `duplicate_upload_key_for`)
    archive/<sender>/<batch_id>/<group>.json         the reviewer's archive (`archive_key_for`)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from chalicelib.senders import SENDER_ID

_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")
_SLUG_MAX = 40  # execution names allow 80 characters: slug + "-" + 20 hex digits fits
# Keys the API chooses carry the batch id they were promised under (POST /orders, POST /uploads).
_API_KEY = re.compile(r"(?:^|/)api/(?P<id>api-[0-9a-f]{24})\.json$")
_UPLOAD_KEY = re.compile(r"(?:^|/)uploads/(?P<id>up-[0-9a-f]{24})/[^/]+$")
BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,79}$")
# Where a file that names no sender is recorded and quarantined. No sender id can be this (the
# underscore is not allowed in one), so no sender's key ever reads it; operators do.
UNASSIGNED = "_unassigned"


def sender_of_key(incoming_prefix: str, key: str) -> str | None:
    """The sender a file's key names (`incoming/<sender>/<name>`), or None when the key is not
    inside a sender's folder (a file straight under `incoming/`, or a folder that cannot be
    a sender id)."""
    if not key.startswith(incoming_prefix):
        return None
    folder, slash, rest = key[len(incoming_prefix) :].partition("/")
    return folder if slash and rest and SENDER_ID.fullmatch(folder) else None


def sender_folder(prefix: str, sender: str) -> str:
    """A sender's folder under one of the bucket's prefixes (`work/<sender>/`): everything of
    the sender's under that prefix, and nothing of another's, starts with it."""
    return f"{prefix}{sender}/"


def incoming_prefix_of(incoming_prefix: str, sender: str) -> str:
    """A sender's folder for incoming files."""
    return sender_folder(incoming_prefix, sender)


def file_name(key: str) -> str:
    """The last part of a key: the name its file was uploaded with."""
    return key.rsplit("/", 1)[-1]


def sender_file_key(incoming_prefix: str, sender: str, name: str) -> str:
    """Where a sender's own file named `name` arrives: straight in its incoming folder."""
    return f"{incoming_prefix_of(incoming_prefix, sender)}{name}"


def redrive_key_for(incoming_prefix: str, sender: str, digest: str) -> str:
    """Where orders sent again from the redrive queue arrive, as a file of the sender's named
    by the digest of its content (the same orders sent twice: one file)."""
    return f"{incoming_prefix_of(incoming_prefix, sender)}redrive/{digest}.jsonl"


def archive_key_for(archive_prefix: str, sender: str, batch_id: str, group: str) -> str:
    """Where the reviewer archives the orders of one dead-lettered rejection group."""
    return f"{sender_folder(archive_prefix, sender)}{batch_id}/{group}.json"


def new_batch_id(kind: str, seed: str | None = None, key: bytes | None = None) -> str:
    """A batch id for a key the API chooses: `api-...` or `up-...`, random, or from `seed`
    keyed with the server's secret `key` (HMAC-SHA256), so that no one who knows the seed (a
    sender's Idempotency-Key) can derive the batch id without the secret."""
    if seed is None:
        return f"{kind}-{uuid.uuid4().hex[:24]}"
    if not key:
        raise ValueError("a seeded batch id needs the server's secret key")
    digest = hmac.new(key, seed.encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:24]}"


def api_key_for(incoming_prefix: str, sender: str, batch_id: str) -> str:
    return f"{incoming_prefix_of(incoming_prefix, sender)}api/{batch_id}.json"


def upload_key_for(incoming_prefix: str, sender: str, batch_id: str, filename: str) -> str:
    return f"{incoming_prefix_of(incoming_prefix, sender)}uploads/{batch_id}/{filename}"


def batch_id_for(bucket: str, key: str, version: str | None) -> str:
    """The batch id of an object: the one its key carries when the API chose the key, else
    `orders-csv-1f2e...`, a readable file-name slug plus a digest of the object's identity.
    An id a key carries is the sender's only when the API promised it to that sender: the
    trigger checks (`trigger.source_for`) and names any other object by `object_batch_id`."""
    return embedded_batch_id(key) or object_batch_id(bucket, key, version)


def embedded_batch_id(key: str) -> str | None:
    """The batch id a key the API chose carries (`.../api/<id>.json`, `.../uploads/<id>/...`)."""
    embedded = _API_KEY.search(key) or _UPLOAD_KEY.search(key)
    return embedded.group("id") if embedded else None


def object_batch_id(bucket: str, key: str, version: str | None) -> str:
    """`orders-csv-1f2e...`: a readable slug of the file's name plus a digest of the object's
    identity (bucket, key, version id or ETag). The key holds the sender's folder, so two
    senders' objects never share one."""
    version = (version or "").strip('"')  # S3 quotes ETags in responses, not in events
    identity = f"{bucket}\n{key}\n{version}".encode()
    digest = hashlib.sha256(identity).hexdigest()[:20]
    name = file_name(key)
    slug = _NOT_NAME.sub("-", name).strip("-").lower()[:_SLUG_MAX].strip("-")
    return f"{slug}-{digest}" if slug else digest


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """Where a batch's work, results and quarantine copy live in the bucket: under its
    sender's folder of each prefix."""

    batch_id: str
    sender: str
    work_prefix: str
    quarantine_prefix: str

    @property
    def root(self) -> str:
        return f"{sender_folder(self.work_prefix, self.sender)}{self.batch_id}/"

    @property
    def manifest(self) -> str:
        return f"{self.root}manifest.json"

    def chunk(self, index: int) -> str:
        return f"{self.root}chunks/{index:06d}.json"

    def result(self, index: int) -> str:
        return f"{self.root}results/{index:06d}.json"

    @property
    def report_prefix(self) -> str:
        return f"{self.root}report/"

    def report(self, form: str) -> str:
        """The rejection report in one form (`jsonl`, `csv`)."""
        return f"{self.report_prefix}rejections.{form}"

    def quarantined_file(self, key: str) -> str:
        return f"{self.quarantine_root}{file_name(key)}"

    def quarantine_report(self) -> str:
        return f"{self.quarantine_root}error.json"

    @property
    def quarantine_root(self) -> str:
        return quarantine_root_for(self.quarantine_prefix, self.sender, self.batch_id)


def quarantine_root_for(quarantine_prefix: str, sender: str, batch_id: str) -> str:
    """Where a batch's quarantined file and the reports about its file live."""
    return f"{sender_folder(quarantine_prefix, sender)}{batch_id}/"


def duplicate_upload_key_for(quarantine_prefix: str, sender: str, batch_id: str, tag: str) -> str:
    """The report of a different second upload to a batch's key (`tag`: the upload's ETag)."""
    return f"{quarantine_root_for(quarantine_prefix, sender, batch_id)}duplicate-upload-{tag}.json"
