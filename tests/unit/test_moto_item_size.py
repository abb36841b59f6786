"""The emulator builds a DynamoDB item checking its size once per attribute
(`moto_patches/dynamodb.py`, patch 2): the same item, and the same ItemSizeTooLarge at the
same sizes, as moto's own `LimitedSizeDict`, which sums every attribute again for each one it
adds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from orderflow_cli.emulator.moto_patches import patch_dynamodb_item_size


def _moto_attrs(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """moto's own way, unpatched: its LimitedSizeDict, one checked __setitem__ per attribute."""
    built = LimitedSizeDict()
    try:
        for key, value in attrs.items():
            built[key] = DynamoType(value)
    except ItemSizeTooLarge:
        return None
    return dict(built)


def _patched_attrs(attrs: dict[str, Any]) -> dict[str, Any] | None:
    patch_dynamodb_item_size()
    key = DynamoType({"S": "k"})
    try:
        item = Item(key, None, attrs)
    except ItemSizeTooLarge:
        return None
    assert isinstance(item.attrs, LimitedSizeDict)
    assert item.hash_key is key
    return dict(item.attrs)


_VALUES = st.one_of(
    st.builds(lambda n: {"S": "x" * n}, st.sampled_from([0, 1, 1000, 100_000, 202_490, 404_990])),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**20), 10**20)),
    st.builds(lambda n: {"M": {"a": {"S": "é" * n}, "b": {"L": [{"N": "1"}]}}},
              st.sampled_from([0, 5, 135_000])),
    st.just({"BOOL": True}),
    st.just({"NULL": True}),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _VALUES, min_size=1, max_size=7))
def test_the_item_and_its_refusal_are_moto_s_own(attrs: dict[str, Any]) -> None:
    assert _patched_attrs(attrs) == _moto_attrs(attrs)


@pytest.mark.parametrize("extra", [0, 1])
def test_the_limit_is_the_same_to_the_byte(extra: int) -> None:
    # "a" (1 byte) + 204,999 bytes, then "b" (1) + 199,999 + extra: 405,000 + extra in all
    attrs = {"a": {"S": "x" * 204_999}, "b": {"S": "y" * (199_999 + extra)}}
    assert (_patched_attrs(attrs) is None) == (extra == 1)
    assert _patched_attrs(attrs) == _moto_attrs(attrs)
