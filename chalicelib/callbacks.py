"""Webhooks: check a callback URL, and deliver a batch's completion to it, signed.

A callback URL may not aim the service at the network it runs in: in deployed stages only
https, and no host that resolves to a private, loopback, link-local, reserved, multicast or
unspecified address (checked when the URL is given, and again before every delivery, so a
name that changes its address is caught). The local stage allows http and 127.0.0.1.

Each delivery is a POST of the completion event's detail (JSON) with
    X-Orderflow-Timestamp: <unix seconds>
    X-Orderflow-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
The secret is the stage's, kept in SSM Parameter Store (a SecureString), never in the repo.
Redirects are not followed. Failures are retried with exponential backoff; the outcome
(delivered or failed, attempts, last error) is recorded on the batch, never its status.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.pipeline.batches import BatchRecords

SIGNATURE_HEADER = "X-Orderflow-Signature"
TIMESTAMP_HEADER = "X-Orderflow-Timestamp"
_TIMEOUT_SECONDS = 5
_MAX_URL = 2048


class CallbackRefused(ValueError):
    """The callback URL is not one the service will call."""


@dataclass(frozen=True)
class CallbackPolicy:
    require_https: bool = True
    allow_loopback: bool = False


def check_url(url: str, policy: CallbackPolicy) -> None:
    """Raises CallbackRefused with a clear reason when `url` may not be called."""
    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise CallbackRefused(f"callback_url must be a URL of at most {_MAX_URL} characters")
    parts = urlsplit(url)
    allowed = {"https"} if policy.require_https else {"https", "http"}
    if parts.scheme not in allowed:
        raise CallbackRefused(f"callback_url must use {' or '.join(sorted(allowed))}")
    if not parts.hostname or parts.username or parts.password:
        raise CallbackRefused("callback_url must name a host, without user or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        raise CallbackRefused(f"callback_url's host cannot be resolved: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_loopback and policy.allow_loopback:
            continue
        if not address.is_global or address.is_multicast:
            raise CallbackRefused(
                f"callback_url resolves to {address}, a private, loopback or reserved address"
            )


def notify(
    detail: dict[str, Any],
    *,
    batches: BatchRecords,
    secret: Callable[[], bytes],
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
) -> Delivery | None:
    """Delivers a completion event to the batch's callback URL, once (a repeated event finds
    the delivery recorded and sends nothing); None when the batch asked for no callback."""
    batch_id = detail["batch_id"]
    record = batches.get(batch_id) or {}
    callback = record.get("callback")
    if not callback or callback.get("status") != "pending":
        return None
    delivery = deliver(
        callback["url"],
        detail,
        secret=secret(),
        policy=policy,
        attempts=attempts,
        base_seconds=base_seconds,
    )
    batches.record_callback(
        batch_id,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
    )
    return delivery


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (documented in README; used by the tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class Delivery:
    status: str  # delivered | failed
    attempts: int
    last_error: str | None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer, not an instruction


_opener = urllib.request.build_opener(_NoRedirects)


def deliver(
    url: str,
    detail: dict[str, Any],
    *,
    secret: bytes,
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POSTs `detail` to `url`, signed, retrying with exponential backoff."""
    body = json.dumps(detail, default=str).encode()
    last_error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            check_url(url, policy)
            timestamp = str(int(time.time()))
            request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
                url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "orderflow-webhook/1",
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: sign(secret, timestamp, body),
                },
            )
            with _opener.open(request, timeout=_TIMEOUT_SECONDS) as response:
                if 200 <= response.status < 300:
                    return Delivery("delivered", attempt, None)
                last_error = f"HTTP {response.status}"
        except CallbackRefused as refused:
            return Delivery("failed", attempt, str(refused))  # retrying cannot help
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            last_error = f"{type(error).__name__}: {error}"
        if attempt < attempts:
            sleep(base_seconds * 2 ** (attempt - 1))
    return Delivery("failed", attempts, last_error)
