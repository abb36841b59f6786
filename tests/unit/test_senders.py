"""Senders and their API keys, on the senders table that infra/stack.yaml defines, alone in moto
(tests/unit/conftest.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from chalicelib import aws
from chalicelib.senders import DISABLED, SenderError, SenderRegistry


@pytest.fixture
def registry(senders_table: str) -> SenderRegistry:
    return SenderRegistry(aws.dynamodb(), senders_table)


def _table_text(table: str) -> str:
    items = aws.dynamodb().scan(TableName=table)["Items"]
    return json.dumps(items)


def test_a_new_senders_key_resolves_to_it_and_only_its_digest_is_kept(
    senders_table: str, registry: SenderRegistry
) -> None:
    sender, key = registry.add("acme", "Acme Shop")

    assert (sender.sender_id, sender.name, sender.status, sender.keys) == (
        "acme",
        "Acme Shop",
        "active",
        1,
    )
    resolved = registry.resolve(key)
    assert resolved is not None
    assert resolved.sender_id == "acme"
    stored = _table_text(senders_table)
    assert key not in stored
    assert hashlib.sha256(key.encode()).hexdigest() in stored


def test_two_senders_keys_resolve_each_to_its_own(registry: SenderRegistry) -> None:
    _, first = registry.add("shop-1", "Shop one")
    _, second = registry.add("shop-2", "Shop two")

    assert first != second
    assert [registry.resolve(k).sender_id for k in (first, second)] == ["shop-1", "shop-2"]  # type: ignore[union-attr]
    assert [s.sender_id for s in registry.every()] == ["shop-1", "shop-2"]


def test_a_rotated_out_key_is_refused_and_the_new_one_works(registry: SenderRegistry) -> None:
    _, old = registry.add("acme", "Acme")
    new = registry.rotate_key("acme")

    assert registry.resolve(old) is None
    resolved = registry.resolve(new)
    assert resolved is not None
    assert resolved.sender_id == "acme"
    assert resolved.keys == 1


def test_a_disabled_senders_keys_are_refused_and_its_record_stays(
    registry: SenderRegistry,
) -> None:
    _, key = registry.add("acme", "Acme")
    registry.add("other", "Other")
    sender = registry.disable("acme")

    assert sender.status == DISABLED
    assert registry.resolve(key) is None
    assert registry.get("acme") is not None


@pytest.mark.parametrize("key", ["", "nope", "ofk_not-a-key", "ofk_" + "x" * 300, None, 42])
def test_unknown_or_malformed_keys_resolve_to_no_one(registry: SenderRegistry, key: object) -> None:
    registry.add("acme", "Acme")
    assert registry.resolve(key) is None  # type: ignore[arg-type]


def test_operator_mistakes_are_sentences(registry: SenderRegistry) -> None:
    registry.add("acme", "Acme")
    with pytest.raises(SenderError, match="already exists"):
        registry.add("acme", "Acme again")
    for bad in ("Acme", "-acme", "acme_shop", "a" * 41, "", "acme/../x"):
        with pytest.raises(SenderError, match="is not allowed"):
            registry.add(bad, "Bad")
    with pytest.raises(SenderError, match="name is 1 to"):
        registry.add("blank", "   ")
    with pytest.raises(SenderError, match="there is no sender 'ghost'"):
        registry.rotate_key("ghost")
    with pytest.raises(SenderError, match="there is no sender 'ghost'"):
        registry.disable("ghost")
