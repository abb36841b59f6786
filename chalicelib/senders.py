"""Senders: the shops and partners whose orders the service takes, each a tenant of its own.

A sender has an id (lower-case letters, digits and hyphens: it becomes a key prefix in every
table and bucket), a display name, a status (`active` or `disabled`), API keys, optionally a
webhook (the URL its batches' completions go to when a batch names none, signed with the
sender's own `whsec_` secrets: two during a rotation) and limits (orders per request, bytes per
upload; the stage's own where unset) and a mapping profile (a validated `ColumnMapping`: which
header holds which field, the default sheet and delimiter, applied to every file of the sender
that comes without a mapping of its own). A key is
shown once, when it is made; the table keeps only its SHA-256 (a key is 32 random bytes, so a
plain digest cannot be reversed by guessing). Rotating a sender's key makes a new one and ends
the old one at once; disabling a sender refuses every key of its. A sender's live keys have a
fingerprint (`keyset_fingerprint`, `Sender.keyset`) that its upload links carry
(chalicelib/api/links.py): any change of its keys changes it, which revokes every link.

One table, two kinds of item, both under the partition key `pk`:
    sender#<id>   the sender: name, status, created, the digests of its keys
    key#<digest>  one per live key: the sender it belongs to (a key resolves in one read)
Every change of keys is one transaction, so a key item never outlives its sender's record of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.orders.readers.columns import ColumnMapping

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTIVE, DISABLED = "active", "disabled"
KEY_PREFIX = "ofk_"  # what every key starts with, so that one is recognised in a leak scan
# What every upload link starts with (chalicelib/api/links.py): the authorizer reads a token so
# named as a link, never as a key, so no key may start with it.
LINK_PREFIX = "ofl_"
SENDER_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
# Ids no sender may have, and why. `nobody` is the authorizer's principal for a refused key
# (chalicelib.api.auth): a sender of that name would read as no sender at all.
NOBODY = "nobody"
RESERVED_IDS = {NOBODY: "the API's name for a caller whose key was refused"}
_MAX_NAME = 200
_MIN_KEY, _MAX_KEY = 8, 200


class SenderError(ValueError):
    """An operator's request about senders that cannot be done, said in a sentence."""


@dataclass(frozen=True, slots=True)
class Sender:
    sender_id: str
    name: str
    status: str
    created: str
    keys: int  # how many live keys it has
    webhook_url: str | None = None
    webhook_secrets: int = 0  # how many signing secrets it has (two during a rotation)
    max_orders_per_request: int | None = None  # None: the stage's API_MAX_ORDERS
    max_upload_bytes: int | None = None  # None: the stage's UPLOAD_MAX_BYTES
    profile: ColumnMapping | None = None  # the saved column mapping, applied to its files
    keyset: str = ""  # the fingerprint of its live keys (`keyset_fingerprint`); not shown

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "keys": self.keys,
            "webhook_url": self.webhook_url,
            "webhook_secrets": self.webhook_secrets,
            "max_orders_per_request": self.max_orders_per_request,
            "max_upload_bytes": self.max_upload_bytes,
            "profile": self.profile.to_dict() if self.profile else None,
        }


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def keyset_fingerprint(digests: Iterable[str]) -> str:
    """The fingerprint of a set of live keys: the first 16 hex characters of the SHA-256 of
    their digests, sorted, one per line. Adding or removing a key changes it."""
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()[:16]


def check_id(sender_id: str) -> None:
    if not isinstance(sender_id, str) or not SENDER_ID.fullmatch(sender_id):
        raise SenderError(
            f"sender id {sender_id!r} is not allowed: use 1 to 40 lower-case letters, digits"
            " and hyphens, starting and ending with a letter or digit"
        )


class SenderRegistry:
    """Senders and their keys in the senders table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, sender_id: str, name: str, key: str | None = None) -> tuple[Sender, str]:
        """A new active sender and its first key (returned once, never stored): a new random
        one, or `key` (the local server's `--api-key`, at least 8 characters). A reserved id
        (`RESERVED_IDS`) is refused."""
        check_id(sender_id)
        if sender_id in RESERVED_IDS:
            raise SenderError(f"sender id {sender_id!r} is reserved: {RESERVED_IDS[sender_id]}")
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
            raise SenderError(f"a sender's name is 1 to {_MAX_NAME} characters")
        if key is not None and not _MIN_KEY <= len(key) <= _MAX_KEY:
            raise SenderError(f"an API key is {_MIN_KEY} to {_MAX_KEY} characters")
        if key is not None and key.startswith(LINK_PREFIX):
            raise SenderError(f"an API key may not start with {LINK_PREFIX!r} (an upload link's)")
        key = key or new_key()
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_sender_key(sender_id),
                                "sender_id": {"S": sender_id},
                                "name": {"S": name.strip()},
                                "status": {"S": ACTIVE},
                                "created": {"S": created},
                                "key_digests": {"SS": [digest(key)]},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    self._put_key(key, sender_id),
                ]
            )
        except ClientError as error:
            if _cancelled(error):
                raise SenderError(f"sender {sender_id!r} already exists") from error
            raise
        keyset = keyset_fingerprint([digest(key)])
        return Sender(sender_id, name.strip(), ACTIVE, created, 1, keyset=keyset), key

    def get(self, sender_id: str) -> Sender | None:
        item = self._read(sender_id)
        return _sender(item) if item else None

    def every(self) -> list[Sender]:
        """Every sender, by id (a scan: an operator's listing, not a request's path)."""
        senders: list[Sender] = []
        for page in self._client.get_paginator("scan").paginate(TableName=self._table):
            senders += [_sender(i) for i in page["Items"] if i["pk"]["S"].startswith("sender#")]
        return sorted(senders, key=lambda s: s.sender_id)

    def resolve(self, key: str) -> Sender | None:
        """The active sender whose key this is, or None (unknown, rotated out or disabled)."""
        if not isinstance(key, str) or not _MIN_KEY <= len(key) <= _MAX_KEY:
            return None
        found = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"key#{digest(key)}"}}
        ).get("Item")
        if not found:
            return None
        sender = self.get(found["sender_id"]["S"])
        return sender if sender is not None and sender.active else None

    def rotate_key(self, sender_id: str) -> str:
        """A new key for the sender; its old keys stop working at once."""
        item = self._item(sender_id)
        old = sorted(item.get("key_digests", {}).get("SS", []))
        key = new_key()
        writes: list[Any] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": f"key#{d}"}}}} for d in old
        ]
        writes.append(self._put_key(key, sender_id))
        writes.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _sender_key(sender_id),
                    "UpdateExpression": "SET key_digests = :new",
                    "ConditionExpression": "key_digests = :old",
                    "ExpressionAttributeValues": {
                        ":new": {"SS": [digest(key)]},
                        ":old": item["key_digests"],
                    },
                }
            }
        )
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if _cancelled(error):
                raise SenderError(
                    f"sender {sender_id!r} changed while its key was rotated; try again"
                ) from error
            raise
        return key

    def disable(self, sender_id: str) -> Sender:
        """Refuses every key of the sender from now on (its data stays)."""
        return self._update(
            sender_id, "SET #s = :disabled", {":disabled": {"S": DISABLED}}, {"#s": "status"}
        )

    def set_webhook(self, sender_id: str, url: str | None, *, rotate: bool = False) -> str | None:
        """Sets (or, with None, removes) the sender's webhook URL. A sender's first webhook gets
        a new signing secret, returned once; `rotate` adds a new one (returned) and keeps the
        newest old one, so that both sign until `end_rotation`."""
        item = self._item(sender_id)
        kept = [v["S"] for v in item.get("webhook_secrets", {}).get("L", [])]
        secret = new_webhook_secret() if url and (rotate or not kept) else None
        secrets_now = ([secret] if secret else []) + kept[: 1 if secret else 2]
        values: dict[str, Any] = {
            ":url": {"S": url} if url else {"NULL": True},
            ":secrets": {"L": [{"S": s} for s in secrets_now]},
        }
        self._client.update_item(
            TableName=self._table,
            Key=_sender_key(sender_id),
            UpdateExpression="SET webhook_url = :url, webhook_secrets = :secrets",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )
        return secret

    def end_rotation(self, sender_id: str) -> None:
        """Keeps only the newest signing secret: the old one signs no more."""
        kept = self._item(sender_id).get("webhook_secrets", {}).get("L", [])
        self._client.update_item(
            TableName=self._table,
            Key=_sender_key(sender_id),
            UpdateExpression="SET webhook_secrets = :secrets",
            ExpressionAttributeValues={":secrets": {"L": kept[:1]}},
        )

    def webhook(self, sender_id: str) -> tuple[str | None, tuple[str, ...]]:
        """The sender's webhook URL and signing secrets (newest first); (None, ()) for none."""
        item = self._read(sender_id) or {}
        url = item.get("webhook_url", {}).get("S")
        return url, tuple(v["S"] for v in item.get("webhook_secrets", {}).get("L", []))

    def set_limits(
        self, sender_id: str, *, max_orders_per_request: int | None, max_upload_bytes: int | None
    ) -> Sender:
        """Sets the sender's limits (None: the stage's default)."""
        for value in (max_orders_per_request, max_upload_bytes):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise SenderError("a limit is a whole number of at least 1")
        return self._update(
            sender_id,
            "SET max_orders_per_request = :o, max_upload_bytes = :b",
            {
                ":o": _number_or_null(max_orders_per_request),
                ":b": _number_or_null(max_upload_bytes),
            },
        )

    def set_profile(self, sender_id: str, mapping: str | bytes | dict[str, Any] | None) -> Sender:
        """Saves the sender's column mapping profile (validated first: a `MappingError`,
        `mapping.invalid`, saves nothing), or with None removes it."""
        profile = ColumnMapping.from_json(mapping) if mapping is not None else None
        value = {"S": json.dumps(profile.to_dict())} if profile else {"NULL": True}
        return self._update(sender_id, "SET mapping_profile = :p", {":p": value})

    def _update(
        self,
        sender_id: str,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> Sender:
        """One conditional update of an existing sender (no read first); the sender after it.
        A sender that does not exist is a SenderError, and nothing is written."""
        check_id(sender_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _sender_key(sender_id),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            updated = self._client.update_item(**request)
        except ClientError as error:
            if _cancelled(error):
                raise SenderError(f"there is no sender {sender_id!r}") from error
            raise
        return _sender(updated["Attributes"])

    def profile(self, sender_id: str) -> ColumnMapping | None:
        """The sender's saved column mapping, or None."""
        sender = self.get(sender_id)
        return sender.profile if sender else None

    def _item(self, sender_id: str) -> dict[str, Any]:
        check_id(sender_id)
        item = self._read(sender_id)
        if not item:
            raise SenderError(f"there is no sender {sender_id!r}")
        return item

    def _read(self, sender_id: str) -> dict[str, Any] | None:
        found = self._client.get_item(
            TableName=self._table, Key=_sender_key(sender_id), ConsistentRead=True
        ).get("Item")
        return dict(found) if found else None

    def _put_key(self, key: str, sender_id: str) -> Any:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {"pk": {"S": f"key#{digest(key)}"}, "sender_id": {"S": sender_id}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }


def _sender_key(sender_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"sender#{sender_id}"}}


def _sender(item: dict[str, Any]) -> Sender:
    return Sender(
        sender_id=item["sender_id"]["S"],
        name=item["name"]["S"],
        status=item["status"]["S"],
        created=item["created"]["S"],
        keys=len(item.get("key_digests", {}).get("SS", [])),
        webhook_url=item.get("webhook_url", {}).get("S"),
        webhook_secrets=len(item.get("webhook_secrets", {}).get("L", [])),
        max_orders_per_request=_number(item.get("max_orders_per_request")),
        max_upload_bytes=_number(item.get("max_upload_bytes")),
        profile=_profile(item.get("mapping_profile")),
        keyset=keyset_fingerprint(item.get("key_digests", {}).get("SS", [])),
    )


def _profile(value: dict[str, Any] | None) -> ColumnMapping | None:
    """The stored profile (JSON text, validated when it was saved)."""
    return ColumnMapping.from_json(value["S"]) if value and "S" in value else None


def _number(value: dict[str, Any] | None) -> int | None:
    return int(value["N"]) if value and "N" in value else None


def _number_or_null(value: int | None) -> dict[str, Any]:
    return {"N": str(value)} if value is not None else {"NULL": True}


def _cancelled(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in {"TransactionCanceledException", "ConditionalCheckFailedException"}
