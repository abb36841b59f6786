"""Who is calling: the API key presented in `x-api-key`, resolved to its sender.

On AWS this runs as the API's Chalice authorizer (a Lambda that API Gateway calls before a
route, caching its answer for a key for `CACHE_SECONDS`); `orders serve` runs the same function
through Chalice's local gateway. An unknown, rotated-out or disabled sender's key is allowed no
route; a known one is allowed every route, and the sender's id (and its limits, where it has
its own) reach the route in the authorizer's context.
"""

from __future__ import annotations

from typing import Any

from chalice.app import AuthResponse

from chalicelib.senders import NOBODY, SenderRegistry

AUTH_HEADER = "x-api-key"  # the header the authorizer reads (lower case, as API Gateway's)
CACHE_SECONDS = 60  # how long API Gateway reuses an answer for one key (a disabled key: at most)


def authorize(token: str | None, registry: SenderRegistry) -> AuthResponse:
    sender = registry.resolve(token or "")
    if sender is None:
        return AuthResponse(routes=[], principal_id=NOBODY)
    context: dict[str, Any] = {"sender_id": sender.sender_id}
    for name in LIMITS:
        if (value := getattr(sender, name)) is not None:
            context[name] = value
    return AuthResponse(routes=["*"], principal_id=sender.sender_id, context=context)


LIMITS = ("max_orders_per_request", "max_upload_bytes")


def limits_of(context: dict[str, Any] | None) -> dict[str, int]:
    """The caller's own limits from a request's context (none: the stage's apply)."""
    authorizer = (context or {}).get("authorizer") or {}
    return {name: int(authorizer[name]) for name in LIMITS if authorizer.get(name) is not None}


def sender_of(context: dict[str, Any] | None) -> str:
    """The caller's sender id from a request's context (set by the authorizer)."""
    authorizer = (context or {}).get("authorizer") or {}
    sender = authorizer.get("sender_id") or authorizer.get("principalId")
    return str(sender) if sender and sender != NOBODY else NOBODY
