"""GET, PUT and DELETE /profile: the caller's own column mapping profile, validated before it is
saved, never another sender's."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from chalicelib import wiring
from chalicelib.api import service
from chalicelib.api.errors import ApiError
from chalicelib.senders import SenderRegistry
from tests.unit.conftest import MotoStack

MAPPING = {"columns": {"qty": "Menge", "OrderId": "Bestellnummer"}, "delimiter": ";"}


@pytest.fixture
def registry(senders_table: str, moto_stack: MotoStack) -> SenderRegistry:
    registry = wiring.sender_registry(moto_stack.settings)
    registry.add("acme", "Acme")
    registry.add("other", "Other")
    registry.set_profile("other", {"columns": {"qty": "Anzahl"}})
    return registry


def test_a_profile_is_saved_shown_and_cleared_for_the_caller_alone(
    registry: SenderRegistry, moto_stack: MotoStack
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    assert service.get_profile(sender="acme", deps=deps) == {"sender_id": "acme", "profile": None}

    saved = service.put_profile(json.dumps(MAPPING).encode(), sender="acme", deps=deps)

    assert saved == service.get_profile(sender="acme", deps=deps)
    assert saved["sender_id"] == "acme"
    assert saved["profile"]["columns"] == MAPPING["columns"]
    assert saved["profile"]["delimiter"] == ";"
    profile = registry.profile("acme")
    assert profile is not None
    assert profile.to_dict() == saved["profile"]
    cleared = service.clear_profile(sender="acme", deps=deps)
    assert cleared == {"sender_id": "acme", "profile": None}
    assert registry.profile("acme") is None
    other = registry.profile("other")
    assert other is not None
    assert other.to_dict()["columns"] == {"qty": "Anzahl"}


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{", b"[]", b"42", json.dumps({"columns": {"colour": "Farbe"}}).encode(),
     json.dumps({"columns": {"qty": "A", "name": "A"}}).encode(),
     json.dumps({"columns": {"qty": ""}}).encode(), json.dumps({"sheet": 3}).encode()],
)  # fmt: skip
def test_an_unusable_mapping_is_a_400_and_keeps_the_profile(
    registry: SenderRegistry, moto_stack: MotoStack, body: bytes
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    service.put_profile(json.dumps(MAPPING).encode(), sender="acme", deps=deps)

    with pytest.raises(ApiError) as refused:
        service.put_profile(body, sender="acme", deps=deps)

    assert (refused.value.STATUS, refused.value.code) == (400, "mapping.invalid")
    kept = service.get_profile(sender="acme", deps=deps)["profile"]
    assert kept is not None
    assert kept["columns"] == MAPPING["columns"]


def test_a_sender_removed_since_its_key_was_checked_is_not_found(
    registry: SenderRegistry, moto_stack: MotoStack
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    calls: list[Callable[[], object]] = [
        lambda: service.get_profile(sender="gone", deps=deps),
        lambda: service.put_profile(json.dumps(MAPPING).encode(), sender="gone", deps=deps),
        lambda: service.clear_profile(sender="gone", deps=deps),
    ]
    for call in calls:
        with pytest.raises(ApiError) as refused:
            call()
        assert refused.value.code == "not_found"
    assert registry.get("gone") is None  # nothing written for it
