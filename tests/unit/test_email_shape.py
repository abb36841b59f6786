"""The common address shape that validation accepts without asking email-validator: every
address of that shape must be one email-validator accepts, checked here against the library
itself over generated addresses near every edge (lengths, hyphens, dots, special-use names)."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.orders.validation import _plain_address, validate_order


def _library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


_PIECES = st.sampled_from(
    ["a", "Z", "0", "9", "x" * 63, "y" * 64, ".", "..", "-", "--", "_", "+", "@", "xn--",
     "ab--", "é", " ", "test", "localhost", "com", "org", "c0m", "1", "a" * 200]
)  # fmt: skip
_LABELS = st.text(alphabet="abz09-", min_size=1, max_size=70)
_TLDS = st.sampled_from(["com", "io", "c", "test", "local", "onion", "arpa", "invalid",
                         "localhost", "TEST", "x1", "co-m", "a" * 63, "a" * 64])  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=12).map("".join))
def test_an_address_of_the_shape_is_one_email_validator_accepts(address: str) -> None:
    if _plain_address(address):
        assert _library_accepts(address), address


@settings(max_examples=1500, deadline=None)
@given(
    st.text(alphabet="abZ09._+-", min_size=1, max_size=70),
    st.lists(_LABELS, min_size=1, max_size=5),
    _TLDS,
)
def test_a_domain_of_the_shape_is_one_email_validator_accepts(
    local: str, labels: list[str], tld: str
) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    if _plain_address(address):
        assert _library_accepts(address), address


@pytest.mark.parametrize(
    "address",
    ["customer1@example.com", "foobar@test.com", "ana.nunez@example.org", "a+b_c-d@mail.co.uk",
     "X9@a-b.io"],
)  # fmt: skip
def test_common_addresses_have_the_shape(address: str) -> None:
    assert _plain_address(address)
    assert _library_accepts(address)


@pytest.mark.parametrize(
    "address",
    ["a@example.test", "a@localhost", "a@xn--bcher-kva.example", "a..b@example.com",
     ".a@example.com", "a@-example.com", "a@example", f"{'a' * 65}@example.com",
     f"a@{'b' * 64}.com", "a@ab--cd.com", "ä@example.com"],
)  # fmt: skip
def test_other_addresses_are_left_to_email_validator(address: str) -> None:
    assert not _plain_address(address)


def test_validation_still_refuses_what_email_validator_refuses() -> None:
    order = {
        "order-info": {"OrderId": "1", "item-id": "1", "qty": "1"},
        "contact-info": {"name": "N", "email": "someone@example.test"},
    }
    result = validate_order(order)
    assert isinstance(result, list)
    assert [e.code for e in result] == ["email.invalid"]
