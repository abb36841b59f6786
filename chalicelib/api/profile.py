"""GET, PUT and DELETE /profile: the caller's column mapping profile (chalicelib/senders.py),
which PrepareFile applies to every file of the sender that comes without a mapping of its own.

Only the caller's own sender is read or written (the authorizer's, never one the request
names). A mapping is validated before anything is written: one that cannot be used is a 400
`mapping.invalid` listing every problem, and the profile stays as it was.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.deps import Deps
from chalicelib.api.errors import BadRequest, NotFound
from chalicelib.api.promise import mapping_of
from chalicelib.senders import Sender, SenderError


def profile(method: str, body: bytes, *, sender: str, deps: Deps) -> dict[str, Any]:
    """The answer of `method` (GET, PUT or DELETE) on /profile."""
    if method == "PUT":
        return put_profile(body, sender=sender, deps=deps)
    if method == "DELETE":
        return clear_profile(sender=sender, deps=deps)
    return get_profile(sender=sender, deps=deps)


def get_profile(*, sender: str, deps: Deps) -> dict[str, Any]:
    """`{"sender_id", "profile"}`: the saved mapping, or null."""
    found = deps.senders.get(sender)
    if found is None:
        raise NotFound(f"no sender {sender!r}")
    return _answer(found)


def put_profile(body: bytes, *, sender: str, deps: Deps) -> dict[str, Any]:
    """Saves the body, a column mapping object, as the caller's profile; answers as GET."""
    if not body.strip():
        raise BadRequest(
            'the body must be a column mapping object such as {"columns": {"qty": "Menge"}}',
            code="mapping.invalid",
        )
    mapping = mapping_of(body)
    return _answer(_saved(sender, mapping.to_dict(), deps))


def clear_profile(*, sender: str, deps: Deps) -> dict[str, Any]:
    """Removes the caller's profile; answers as GET (with null)."""
    return _answer(_saved(sender, None, deps))


def _saved(sender: str, mapping: dict[str, Any] | None, deps: Deps) -> Sender:
    try:
        return deps.senders.set_profile(sender, mapping)
    except SenderError as error:  # removed since the authorizer let the key in
        raise NotFound(f"no sender {sender!r}") from error


def _answer(sender: Sender) -> dict[str, Any]:
    profile = sender.profile.to_dict() if sender.profile is not None else None
    return {"sender_id": sender.sender_id, "profile": profile}
