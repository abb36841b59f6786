"""Upload links: signed, expiring, revocable tokens that let a partner's page act for one sender.

A link token is `ofl_<payload>.<signature>`: the payload is the base64url text (no padding) of
the compact JSON `{"s": sender_id, "e": expiry (epoch seconds), "k": keyset fingerprint}`, the
signature the base64url HMAC-SHA256 of the text `ofl_<payload>` under the stage's link secret
(`LINK_SECRET_PARAMETER`, a Secrets Manager secret of infra/stack.yaml). Guarantees:

- Nobody without the secret can make a token or change one: `verify` checks the signature
  (`hmac.compare_digest`, over the token's own text) before it reads anything else.
- A token is good until its expiry only, and for its sender's keys as they were when it was
  made: `k` is `senders.keyset_fingerprint` of the sender's live keys, so rotating (or adding)
  a key revokes every link made before. The authorizer (`chalicelib.api.auth`) compares `k` and
  the sender's status with the sender's record; this module never reads a table.
- `verify` never raises for what a caller sends: any text that is not a well-made, signed,
  unexpired token is None. Pure functions: the secret and the time are given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from chalicelib.senders import LINK_PREFIX as PREFIX  # how the authorizer tells a link

MIN_DAYS, MAX_DAYS = 1, 90  # how long a link may last
DAY_SECONDS = 86_400
MAX_TOKEN = 512  # longer than any token `mint` makes (a 40-character id: about 170)
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")


class LinkError(ValueError):
    """A link that cannot be made as asked, said in a sentence."""


@dataclass(frozen=True, slots=True)
class Link:
    """What a verified token says: whose it is, until when, for which keys."""

    sender_id: str
    expires: int  # epoch seconds
    keyset: str  # `senders.keyset_fingerprint` when it was made


def expiry(days: int, now: float) -> int:
    """The expiry of a link made `now` for `days` days (MIN_DAYS..MAX_DAYS, else LinkError)."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise LinkError(f"a link lasts {MIN_DAYS} to {MAX_DAYS} days, not {days!r}")
    return int(now) + days * DAY_SECONDS


def mint(link: Link, secret: bytes) -> str:
    """The token of `link`, signed with `secret`."""
    document = {"s": link.sender_id, "e": link.expires, "k": link.keyset}
    payload = _encode(json.dumps(document, separators=(",", ":")).encode())
    signed = PREFIX + payload
    return f"{signed}.{_signature(signed, secret)}"


def is_link(token: object) -> bool:
    """Whether `token` is meant as a link (by its prefix; not whether it is a good one)."""
    return isinstance(token, str) and token.startswith(PREFIX)


def verify(token: object, secret: bytes, now: float) -> Link | None:
    """The link `token` carries when it is signed with `secret` and not expired at `now`;
    None for anything else (never raises)."""
    if not is_link(token) or not secret:
        return None
    assert isinstance(token, str)
    if len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 1:
        return None
    signed, _, signature = token.partition(".")
    expected = _signature(signed, secret)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    link = _parse(signed[len(PREFIX) :])
    if link is None or now >= link.expires:
        return None
    return link


def _parse(payload: str) -> Link | None:
    """The payload's link, when it is the JSON object `mint` writes; else None."""
    if not _BASE64URL.fullmatch(payload):
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):  # JSONDecodeError and UnicodeDecodeError included
        return None
    if not isinstance(document, dict) or set(document) != {"s", "e", "k"}:
        return None
    sender, expires, keyset = document["s"], document["e"], document["k"]
    if not (isinstance(sender, str) and sender and isinstance(keyset, str)):
        return None
    if isinstance(expires, bool) or not isinstance(expires, int):
        return None
    if not _FINGERPRINT.fullmatch(keyset):
        return None
    return Link(sender, expires, keyset)


def _signature(signed: str, secret: bytes) -> str:
    return _encode(hmac.new(secret, signed.encode(), hashlib.sha256).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
