"""Webhooks: check a callback URL, and deliver a batch's completion to it in the Standard
Webhooks format (https://www.standardwebhooks.com), within one deadline.

A callback URL may not aim the service at the network it runs in: in deployed stages only
https, and no host that resolves to a private, loopback, link-local, reserved, multicast or
unspecified address; IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`, NAT64
`64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address, and the forms whose target
cannot be judged (local-use NAT64 `64:ff9b:1::/48`, Teredo `2001::/32`) are refused. The URL is
checked when it is given and again before every attempt; each attempt resolves the host once,
checks every address it resolves to and connects to one of those very addresses (no second
resolution a rebinding name could answer differently). TLS still verifies the certificate
against, and sends SNI for, the URL's host name, and `Host` is the URL's host. The local stage
allows http and the loopback addresses.

Each delivery is a POST of the completion event's detail (JSON) with
    webhook-id: msg_<batch_id>            (the same on every attempt: receivers de-duplicate)
    webhook-timestamp: <unix seconds>     (of the attempt)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
with one `v1,...` per signing secret, space-separated, while a secret is being rotated. A batch's
completion goes to the callback URL it was sent with, else to its sender's webhook URL; it is
signed with the sender's own secrets where the sender has them (`orders senders webhook`), else
with the stage's, kept in SSM (or Secrets Manager through SSM), never in the repo.

Redirects are not followed. A failure is retried with exponential backoff, except a refused URL
and a receiver's 410 Gone, which end the delivery. Every attempt together (connect, TLS, send,
each byte of the answer's status line and headers, and the sleeps between attempts) ends by one
deadline per delivery: each socket operation gets the time that remains as its timeout, so a
receiver that trickles its answer is cut off at the deadline. The outcome (delivered, gone or
failed, attempts, last error) is recorded on the batch, never its status.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib import metrics
from chalicelib.pipeline.batches import BatchRecords

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_DEADLINE_SECONDS = 60.0
# What a delivery ends as, recorded in the batch's `callback.status` (README documents each)
DELIVERED, GONE, FAILED = "delivered", "gone", "failed"
DELIVERY_STATUSES = (DELIVERED, GONE, FAILED)
_MAX_URL = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (textual, as getaddrinfo answers them)
Resolver = Callable[[str, int], Sequence[str]]

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


class CallbackRefused(ValueError):
    """The callback URL is not one the service will call."""


class BadSecret(ValueError):
    """The stage's webhook signing secret parameter holds no usable key."""


@dataclass(frozen=True)
class CallbackPolicy:
    require_https: bool = True
    allow_loopback: bool = False


@dataclass(frozen=True)
class Target:
    """A checked callback URL: where to connect (only `addresses`) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[IPAddress, ...]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def check_url(url: str, policy: CallbackPolicy, resolve: Resolver = system_resolver) -> Target:
    """The target `url` names, its host resolved once and every address checked; raises
    CallbackRefused with a clear reason when `url` may not be called."""
    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise CallbackRefused(f"callback_url must be a URL of at most {_MAX_URL} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise CallbackRefused("callback_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unbalanced bracket of an IPv6 host
        raise CallbackRefused(f"callback_url is not a URL: {error}") from error
    allowed = {"https"} if policy.require_https else {"https", "http"}
    if parts.scheme not in allowed:
        raise CallbackRefused(f"callback_url must use {' or '.join(sorted(allowed))}")
    if not parts.hostname or parts.username or parts.password:
        raise CallbackRefused("callback_url must name a host, without user or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolved = resolve(parts.hostname, port)
        addresses = tuple(ipaddress.ip_address(text.split("%", 1)[0]) for text in resolved)
    except (OSError, ValueError) as error:
        raise CallbackRefused(f"callback_url's host cannot be resolved: {error}") from error
    if not addresses:
        raise CallbackRefused("callback_url's host cannot be resolved: no address")
    for address in addresses:
        if not _allowed(address, policy):
            embedded = _embedded_ipv4(address) if address.version == 6 else None
            carried = f" (which carries {embedded})" if embedded else ""
            raise CallbackRefused(
                f"callback_url resolves to {address}{carried}, a private, loopback or reserved "
                "address"
            )
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        path=f"{path}?{parts.query}" if parts.query else path,
        addresses=addresses,
    )


def _allowed(address: IPAddress, policy: CallbackPolicy) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL or address in _TEREDO:
            return False  # where these lead is the network's own business: not judgeable here
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _allowed(embedded, policy)
    if address.is_loopback:
        return policy.allow_loopback
    if not address.is_global or address.is_multicast or address.is_reserved:
        return False
    # fec0::/10, deprecated site-local, is "global" to the ipaddress module
    return not (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms a packet reaches it by."""
    if address in _MAPPED:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def parse_secrets(value: str) -> tuple[bytes, ...]:
    """The signing keys a secret parameter holds: one or more secrets separated by spaces or
    new lines (several while a secret is rotated), each `whsec_<base64 key>` or a raw secret
    whose UTF-8 bytes are the key."""
    keys: list[bytes] = []
    for word in value.split():
        if word.startswith(SECRET_PREFIX):
            try:
                key = base64.b64decode(word[len(SECRET_PREFIX) :], validate=True)
            except binascii.Error as error:
                raise BadSecret(f"a {SECRET_PREFIX} secret is not base64: {error}") from None
        else:
            key = word.encode()
        if not key:
            raise BadSecret("a webhook signing secret is empty")
        keys.append(key)
    if not keys:
        raise BadSecret("the webhook signing secret parameter is empty")
    return tuple(keys)


def signature_header(keys: Sequence[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def notify(
    detail: dict[str, Any],
    *,
    batches: BatchRecords,
    secrets: Callable[[], Sequence[bytes]],
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    sender_webhook: Callable[[str], tuple[str | None, Sequence[str]]] = lambda _: (None, ()),
) -> Delivery | None:
    """Delivers a completion event to the batch's callback URL, or its sender's webhook, once
    (a repeated event finds the delivery recorded and sends nothing); None when there is
    neither. `sender_webhook` gives a sender's webhook URL and its own signing secrets."""
    sender, batch_id = detail["sender"], detail["batch_id"]
    record = batches.get(sender, batch_id) or {}
    callback = record.get("callback")
    if callback and callback.get("status") != "pending":
        return None  # delivered (or given up) already
    sender_url, sender_secrets = sender_webhook(sender)
    url = callback["url"] if callback else sender_url
    if not url:
        return None
    keys = tuple(k for s in sender_secrets for k in parse_secrets(s)) or tuple(secrets())
    delivery = deliver(
        url,
        detail,
        message_id=f"msg_{batch_id}",
        secrets=keys,
        policy=policy,
        attempts=attempts,
        base_seconds=base_seconds,
        deadline_seconds=deadline_seconds,
    )
    batches.record_callback(
        sender,
        batch_id,
        url=url,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
    )
    metrics.webhook_delivered(delivery.status, attempts=delivery.attempts, batch_id=batch_id)
    return delivery


@dataclass(frozen=True)
class Delivery:
    status: str  # one of DELIVERY_STATUSES
    attempts: int
    last_error: str | None


def deliver(
    url: str,
    detail: dict[str, Any],
    *,
    message_id: str,
    secrets: Sequence[bytes],
    policy: CallbackPolicy,
    attempts: int,
    base_seconds: float,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    resolve: Resolver = system_resolver,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    ca_file: str | None = None,
) -> Delivery:
    """POSTs `detail` to `url`, signed, retrying with exponential backoff, all of it within
    `deadline_seconds`. `ca_file` trusts its certificates instead of the system's (tests)."""
    if not secrets:
        raise BadSecret("a delivery needs at least one signing secret")
    body = json.dumps(detail, default=str).encode()
    deadline = _Deadline(clock() + deadline_seconds, deadline_seconds, clock)
    last_error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            target = check_url(url, policy, resolve)
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "orderflow-webhook/2",
                ID_HEADER: message_id,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature_header(secrets, message_id, timestamp, body),
            }
            status = _post(_PinnedConnection(target, deadline, ca_file), body, headers)
            if 200 <= status < 300:
                return Delivery(DELIVERED, attempt, None)
            if status == 410:
                return Delivery(GONE, attempt, "HTTP 410: the receiver wants no more deliveries")
            last_error = f"HTTP {status}"
        except CallbackRefused as refused:
            return Delivery(FAILED, attempt, str(refused))  # retrying cannot help
        except _DeadlinePassed as passed:
            return Delivery(FAILED, attempt, str(passed))
        except (OSError, ValueError, http.client.HTTPException) as error:
            last_error = f"{type(error).__name__}: {error}"
        if attempt < attempts:
            pause = base_seconds * 2 ** (attempt - 1)
            if clock() + pause >= deadline.at:
                return Delivery(
                    FAILED,
                    attempt,
                    f"{last_error}; no time for another attempt within the "
                    f"{deadline_seconds:g} s delivery deadline",
                )
            sleep(pause)
    return Delivery(FAILED, attempts, last_error)


class _DeadlinePassed(TimeoutError):
    """The delivery's deadline passed during an attempt."""


@dataclass(frozen=True)
class _Deadline:
    at: float
    seconds: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        """The time left, as a socket timeout; raises _DeadlinePassed when none is."""
        left = self.at - self.clock()
        if left <= 0:
            raise self.passed()
        return left

    def passed(self) -> _DeadlinePassed:
        return _DeadlinePassed(
            f"no complete answer within the {self.seconds:g} s delivery deadline"
        )


class _DeadlineSocket(socket.socket):
    """A socket whose every send and receive may take only the delivery's remaining time."""

    deadline: _Deadline

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0, /) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline: _Deadline

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the checked addresses of a target, never to a new resolution
    of its host; its socket obeys the delivery's deadline."""

    def __init__(self, target: Target, deadline: _Deadline, ca_file: str | None) -> None:
        super().__init__(target.host, target.port)
        self.target = target
        self.deadline = deadline
        self._ca_file = ca_file

    def connect(self) -> None:
        errors: list[str] = []
        for address in self.target.addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = _DeadlineSocket(family, socket.SOCK_STREAM)
            sock.deadline = self.deadline
            try:
                sock.settimeout(self.deadline.remaining())
                sock.connect((str(address), self.target.port))
                self.sock = self._secure(sock) if self.target.scheme == "https" else sock
                return
            except _DeadlinePassed:
                sock.close()
                raise
            except TimeoutError:
                sock.close()
                raise self.deadline.passed() from None
            except OSError as error:
                sock.close()
                errors.append(f"{address}: {error}")
        raise ConnectionError("; ".join(errors))

    def _secure(self, sock: socket.socket) -> socket.socket:
        context = ssl.create_default_context(cafile=self._ca_file)
        context.sslsocket_class = _DeadlineSSLSocket
        sock.settimeout(self.deadline.remaining())  # the handshake's time
        tls = context.wrap_socket(sock, server_hostname=self.target.host)
        assert isinstance(tls, _DeadlineSSLSocket)
        tls.deadline = self.deadline
        return tls


def _post(connection: _PinnedConnection, body: bytes, headers: dict[str, str]) -> int:
    """The status of the answer to one POST; reads the status line and headers, not the body
    (nothing in it matters), and follows no redirect."""
    try:
        connection.request("POST", connection.target.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status
    except TimeoutError as error:
        if isinstance(error, _DeadlinePassed):
            raise
        raise connection.deadline.passed() from None  # a timeout is the remaining time's end
    finally:
        connection.close()
