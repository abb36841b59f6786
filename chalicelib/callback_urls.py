"""Which callback URLs the service will call: none that aims it at the network it runs in.

In deployed stages only https, and no host that resolves to a private, loopback, link-local,
reserved, multicast or unspecified address; IPv6 forms that carry an IPv4 address (IPv4-mapped
`::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address, and
the forms whose target cannot be judged (local-use NAT64 `64:ff9b:1::/48`, Teredo
`2001::/32`) are refused. `check_url` resolves the host once and checks every address it
resolves to; the `Target` it returns carries those very addresses, the only ones a delivery
connects to (callback_http.py), so no second resolution a rebinding name could answer
differently is ever made. The local stage allows http and the loopback addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

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
