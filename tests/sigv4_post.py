"""A browser-based upload form signed with AWS Signature Version 4, written here from AWS's
documentation ("Authenticating Requests: Browser-Based Uploads Using POST (AWS Signature
Version 4)"), not with botocore's signer nor the emulator's: the tests use it to check the
emulator's verification against an implementation of the documented algorithm of their own.

The string to sign is the base64 `policy` field itself; the signing key is
HMAC-SHA256("AWS4" + secret, date) -> region -> service -> "aws4_request", and the signature is
the hex HMAC-SHA256 of the string to sign under that key. The policy names the form's
`x-amz-algorithm`, `x-amz-credential` and `x-amz-date`, as the documentation requires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "us-east-1"


def signing_key(secret: str, date: str, region: str = REGION, service: str = "s3") -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, region.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"aws4_request", hashlib.sha256).digest()


def signature(policy_b64: str, secret: str, date: str, region: str = REGION) -> str:
    return hmac.new(
        signing_key(secret, date, region), policy_b64.encode(), hashlib.sha256
    ).hexdigest()


def encode_policy(policy: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(policy).encode()).decode()


def sigv4_form(
    *,
    bucket: str,
    key: str,
    content_type: str,
    max_bytes: int,
    access_key: str = "testing",
    secret: str = "testing",
    token: str | None = "testing",
    expires_in: float = 300,
    now: datetime | None = None,
) -> dict[str, str]:
    """The fields of a form that may upload 1 to `max_bytes` bytes of `content_type` to `key`,
    signed with `secret`; `expires_in` seconds from `now` (negative: already expired)."""
    now = now or datetime.now(UTC)
    date, amz_date = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{access_key}/{date}/{REGION}/s3/aws4_request"
    fields = {
        "key": key,
        "Content-Type": content_type,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": amz_date,
    }
    if token is not None:
        fields["x-amz-security-token"] = token
    expiration = (now + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    conditions: list[Any] = [{"bucket": bucket}, ["content-length-range", 1, max_bytes]]
    conditions += [{name: value} for name, value in fields.items()]
    policy = encode_policy({"expiration": expiration, "conditions": conditions})
    return {**fields, "policy": policy, "x-amz-signature": signature(policy, secret, date)}
