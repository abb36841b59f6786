"""Who is calling: the API key or upload link presented in `x-api-key`, resolved to its sender.

On AWS this runs as the API's Chalice authorizer (a Lambda that API Gateway calls before a
route, caching its answer for a token for `CACHE_SECONDS`); `orders serve` runs the same
function through Chalice's local gateway, which enforces the routes it allows as API Gateway
does. An unknown, rotated-out or disabled sender's key is allowed no route; a known one is
allowed every route. A token starting `ofl_` is an upload link (chalicelib/api/links.py), never
a key: allowed only `LINK_ROUTES` when its signature holds, it has not expired, and one read of
its sender finds it active with the same keys as when the link was made (a rotated key or a
disabled sender refuses it); anything else about it is refused as an unknown key is, and never
raises. The sender's id, how it got in (`access`: `key` or `link`) and its own limits, where it
has them, reach the route in the authorizer's context.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from chalice.app import AuthResponse, AuthRoute

from chalicelib.api import links
from chalicelib.senders import NOBODY, Sender, SenderRegistry

AUTH_HEADER = "x-api-key"  # the header the authorizer reads (lower case, as API Gateway's)
CACHE_SECONDS = 60  # how long API Gateway reuses an answer for one token (a disabled key: at most)
KEY, LINK = "key", "link"  # the context's `access`
# What an upload link may do: upload and send orders, read its own batches. In a policy a `*`
# spans segments: `/batches/*` is GET /batches/{batch_id} and its /rejections (and any GET
# route added below /batches: tests/api/test_links.py compares this with the app's routes).
LINK_ROUTES = (
    AuthRoute("/uploads", ["POST"]),
    AuthRoute("/orders", ["POST"]),
    AuthRoute("/batches", ["GET"]),
    AuthRoute("/batches/*", ["GET"]),
)
LIMITS = ("max_orders_per_request", "max_upload_bytes")


def authorize(
    token: str | None,
    registry: SenderRegistry,
    link_key: Callable[[], bytes] | None = None,
    now: Callable[[], float] = time.time,
) -> AuthResponse:
    """The answer for `token`: an API key, or an upload link checked with the stage's link
    secret (`link_key`, read only when a link is presented; without one, links are refused)."""
    if links.is_link(token):
        return _link_answer(str(token), registry, link_key, now())
    sender = registry.resolve(token or "")
    if sender is None:
        return _refused()
    return AuthResponse(routes=["*"], principal_id=sender.sender_id, context=_context(sender, KEY))


def _link_answer(
    token: str, registry: SenderRegistry, link_key: Callable[[], bytes] | None, now: float
) -> AuthResponse:
    link = links.verify(token, link_key(), now) if link_key is not None else None
    if link is None:
        return _refused()
    sender = registry.get(link.sender_id)
    if sender is None or not sender.active:
        return _refused()
    if not hmac.compare_digest(sender.keyset.encode(), link.keyset.encode()):
        return _refused()  # its keys changed since the link was made: revoked
    return AuthResponse(
        routes=list(LINK_ROUTES), principal_id=sender.sender_id, context=_context(sender, LINK)
    )


def _refused() -> AuthResponse:
    return AuthResponse(routes=[], principal_id=NOBODY)


def _context(sender: Sender, access: str) -> dict[str, Any]:
    context: dict[str, Any] = {"sender_id": sender.sender_id, "access": access}
    for name in LIMITS:
        if (value := getattr(sender, name)) is not None:
            context[name] = value
    return context


def limits_of(context: dict[str, Any] | None) -> dict[str, int]:
    """The caller's own limits from a request's context (none: the stage's apply)."""
    authorizer = (context or {}).get("authorizer") or {}
    return {name: int(authorizer[name]) for name in LIMITS if authorizer.get(name) is not None}


def sender_of(context: dict[str, Any] | None) -> str:
    """The caller's sender id from a request's context (set by the authorizer)."""
    authorizer = (context or {}).get("authorizer") or {}
    sender = authorizer.get("sender_id") or authorizer.get("principalId")
    return str(sender) if sender and sender != NOBODY else NOBODY
