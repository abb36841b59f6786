"""Upload links: the token's format and signature (pure functions, the secret and the time
given), and the authorizer that checks them against the sender's record (the senders table
alone in moto, tests/unit/conftest.py), fed API Gateway's TOKEN event as app.py receives it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.app import AuthRequest, AuthResponse
from chalice.local import ARNMatcher

from chalicelib import aws, wiring
from chalicelib.api import auth, links
from chalicelib.api.links import Link, LinkError
from chalicelib.senders import SenderError, SenderRegistry, digest, keyset_fingerprint
from tests.unit.conftest import MotoStack
from tests.unit.test_handler_events import event

SECRET = b"link-secret-for-tests"
NOW = 1_800_000_000.0
KEYSET = "0123456789abcdef"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(payload: str, secret: bytes = SECRET) -> str:
    """`ofl_<payload>.<its true signature>`: whatever the payload, the signature holds."""
    signed = "ofl_" + payload
    return f"{signed}.{_b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())}"


def _token(sender: str = "acme", expires: int = int(NOW) + 3600, keyset: str = KEYSET) -> str:
    return links.mint(Link(sender, expires, keyset), SECRET)


# -- the token ----------------------------------------------------------------------------------


def test_a_token_is_the_signed_compact_json_the_contract_names() -> None:
    token = _token(expires=1_800_003_600)

    assert token.startswith("ofl_")
    assert token.count(".") == 1
    payload = token[4:].split(".")[0]
    assert "=" not in token  # base64url without padding
    document = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert document == b'{"s":"acme","e":1800003600,"k":"0123456789abcdef"}'
    assert token == _signed(payload)  # HMAC-SHA256 over the text `ofl_<payload>`
    assert links.verify(token, SECRET, NOW) == Link("acme", 1_800_003_600, KEYSET)


def test_a_token_works_until_its_expiry_and_not_at_it() -> None:
    token = _token(expires=int(NOW) + 10)

    assert links.verify(token, SECRET, NOW + 9.999) is not None
    assert links.verify(token, SECRET, NOW + 10) is None
    assert links.verify(token, SECRET, NOW + 86_400) is None


def test_a_tampered_payload_is_refused() -> None:
    token = _token()
    signature = token.split(".")[1]
    other = _b64(b'{"s":"other","e":1800003600,"k":"0123456789abcdef"}')
    later = _b64(b'{"s":"acme","e":1900000000,"k":"0123456789abcdef"}')

    assert links.verify(f"ofl_{other}.{signature}", SECRET, NOW) is None
    assert links.verify(f"ofl_{later}.{signature}", SECRET, NOW) is None


def test_a_tampered_signature_or_another_secret_is_refused() -> None:
    token = _token()
    signed, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    assert links.verify(f"{signed}.{flipped}", SECRET, NOW) is None
    assert links.verify(f"{signed}.{signature}A", SECRET, NOW) is None
    assert links.verify(f"{signed}.", SECRET, NOW) is None
    assert links.verify(token, b"another-secret", NOW) is None
    assert links.verify(token, b"", NOW) is None  # no secret, no link
    assert (
        links.verify(links.mint(Link("acme", int(NOW) + 60, KEYSET), b"other"), SECRET, NOW) is None
    )


MALFORMED = {
    "no dot": "ofl_" + _b64(b'{"s":"acme","e":1800003600,"k":"0123456789abcdef"}'),
    "two dots": _token() + ".x",
    "prefix only": "ofl_",
    "empty payload": _signed(""),
    "bad base64": _signed("***"),
    "base64 of one character too many": _signed("a"),
    "not utf-8": _signed(_b64(b"\xff\xfe")),
    "not JSON": _signed(_b64(b"not json")),
    "a JSON list": _signed(_b64(b'["acme",1800003600,"0123456789abcdef"]')),
    "missing k": _signed(_b64(b'{"s":"acme","e":1800003600}')),
    "missing e": _signed(_b64(b'{"s":"acme","k":"0123456789abcdef"}')),
    "missing s": _signed(_b64(b'{"e":1800003600,"k":"0123456789abcdef"}')),
    "an extra field": _signed(_b64(b'{"s":"acme","e":1800003600,"k":"0123456789abcdef","x":1}')),
    "e as text": _signed(_b64(b'{"s":"acme","e":"1800003600","k":"0123456789abcdef"}')),
    "e as true": _signed(_b64(b'{"s":"acme","e":true,"k":"0123456789abcdef"}')),
    "e as a float": _signed(_b64(b'{"s":"acme","e":1.8e9,"k":"0123456789abcdef"}')),
    "s empty": _signed(_b64(b'{"s":"","e":1800003600,"k":"0123456789abcdef"}')),
    "s a number": _signed(_b64(b'{"s":7,"e":1800003600,"k":"0123456789abcdef"}')),
    "k not hex": _signed(_b64(b'{"s":"acme","e":1800003600,"k":"0123456789abcdeZ"}')),
    "k too short": _signed(_b64(b'{"s":"acme","e":1800003600,"k":"0123"}')),
    "not ascii": _token() + "é",
    "overlong": _signed("A" * 600),
    "a key, not a link": "ofk_" + "x" * 40,
}


@pytest.mark.parametrize("token", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_token_is_no_link(token: str) -> None:
    assert links.verify(token, SECRET, NOW) is None


@pytest.mark.parametrize("token", [None, 42, b"ofl_x.y", ["ofl_"]])
def test_what_is_not_text_is_no_link(token: object) -> None:
    assert links.verify(token, SECRET, NOW) is None


def test_a_link_lasts_1_to_90_days() -> None:
    assert links.expiry(1, NOW) == int(NOW) + 86_400
    assert links.expiry(90, NOW) == int(NOW) + 90 * 86_400
    for days in (0, -1, 91, True, "7", 7.0):
        with pytest.raises(LinkError, match="1 to 90 days"):
            links.expiry(days, NOW)  # type: ignore[arg-type]


def test_the_keyset_fingerprint_is_the_sorted_digests_and_changes_with_them() -> None:
    digests = [digest("ofk_one"), digest("ofk_two")]
    expected = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()[:16]

    assert keyset_fingerprint(digests) == keyset_fingerprint(reversed(digests)) == expected
    assert keyset_fingerprint(digests[:1]) != expected  # a key removed
    assert keyset_fingerprint([*digests, digest("ofk_three")]) != expected  # a key added


# -- the authorizer -----------------------------------------------------------------------------


@pytest.fixture
def registry(senders_table: str) -> SenderRegistry:
    return SenderRegistry(aws.dynamodb(), senders_table)


def _link_for(registry: SenderRegistry, sender_id: str, days: int = 7) -> str:
    sender = registry.get(sender_id)
    assert sender is not None
    return links.mint(Link(sender_id, links.expiry(days, NOW), sender.keyset), SECRET)


def _authorize(registry: SenderRegistry, token: str | None, now: float = NOW) -> Any:
    return auth.authorize(token, registry, lambda: SECRET, lambda: now)


def test_a_valid_link_is_allowed_the_link_routes_as_its_sender(registry: SenderRegistry) -> None:
    registry.add("acme", "Acme")
    registry.set_limits("acme", max_orders_per_request=10, max_upload_bytes=None)

    answer = _authorize(registry, _link_for(registry, "acme"))

    assert answer.principal_id == "acme"
    assert [(r.path, r.methods) for r in answer.routes] == [
        ("/uploads", ["POST"]),
        ("/orders", ["POST"]),
        ("/batches", ["GET"]),
        ("/batches/*", ["GET"]),
    ]
    assert answer.context == {"sender_id": "acme", "access": "link", "max_orders_per_request": 10}


def test_an_api_key_keeps_every_route_and_never_reads_the_link_secret(
    registry: SenderRegistry,
) -> None:
    _, key = registry.add("acme", "Acme")

    def no_secret() -> bytes:
        raise AssertionError("a key needs no link secret")

    answer = auth.authorize(key, registry, no_secret)

    assert (answer.principal_id, answer.routes) == ("acme", ["*"])
    assert answer.context == {"sender_id": "acme", "access": "key"}


def _refused(answer: Any) -> bool:
    return bool(answer.routes == [] and answer.principal_id == "nobody" and not answer.context)


def test_a_link_stops_when_its_senders_key_is_rotated_or_the_sender_disabled(
    registry: SenderRegistry,
) -> None:
    registry.add("acme", "Acme")
    before = _link_for(registry, "acme")
    registry.rotate_key("acme")
    after = _link_for(registry, "acme")

    assert _refused(_authorize(registry, before))  # made for the keys it had
    assert _authorize(registry, after).principal_id == "acme"
    registry.disable("acme")
    assert _refused(_authorize(registry, after))


def test_an_expired_link_or_one_of_another_sender_is_refused(registry: SenderRegistry) -> None:
    acme, _ = registry.add("acme", "Acme")
    registry.add("other", "Other")
    token = _link_for(registry, "acme", days=1)

    assert _refused(_authorize(registry, token, now=NOW + 86_400))
    # acme's keyset under another sender's name, or a sender that does not exist
    for sender in ("other", "ghost"):
        forged = links.mint(Link(sender, int(NOW) + 60, acme.keyset), SECRET)
        assert _refused(_authorize(registry, forged))


@pytest.mark.parametrize("token", [*MALFORMED.values(), "ofl_", "ofl_x.y", "", None])
def test_no_malformed_token_gets_in_or_raises(registry: SenderRegistry, token: str | None) -> None:
    registry.add("acme", "Acme")
    assert _refused(_authorize(registry, token))


def test_without_a_link_secret_every_link_is_refused(registry: SenderRegistry) -> None:
    registry.add("acme", "Acme")
    assert _refused(auth.authorize(_link_for(registry, "acme"), registry))


def test_no_api_key_may_look_like_a_link(registry: SenderRegistry) -> None:
    with pytest.raises(SenderError, match="may not start with 'ofl_'"):
        registry.add("acme", "Acme", key="ofl_local-key")


# -- through app.py, as API Gateway calls it ----------------------------------------------------


@pytest.fixture
def link_secret(moto_stack: MotoStack) -> Iterator[bytes]:
    """The stack's LinkSecret in Secrets Manager, read by the app through SSM as deployed."""
    secret = moto_stack.provisioning.secret("LinkSecret")
    value = secret.value()
    boto3.client("secretsmanager").create_secret(Name=secret.name, SecretString=value)
    wiring.link_key.cache_clear()
    yield value.encode()
    wiring.link_key.cache_clear()


def test_the_authorizer_fed_the_token_event_allows_a_link_its_routes_only(
    moto_stack: MotoStack, senders_table: str, link_secret: bytes
) -> None:
    import app

    registry = SenderRegistry(aws.dynamodb(), senders_table)
    sender, _ = registry.add("acme", "Acme")
    token = links.mint(Link("acme", links.expiry(7, time.time()), sender.keyset), link_secret)

    answer = app.sender_key({**event("authorizer_token"), "authorizationToken": token}, None)

    assert answer["principalId"] == "acme"
    assert answer["context"] == {"sender_id": "acme", "access": "link"}
    (statement,) = answer["policyDocument"]["Statement"]
    base = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/api/"
    assert statement["Resource"] == [
        base + "POST/uploads",
        base + "POST/orders",
        base + "GET/batches",
        base + "GET/batches/*",
    ]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    refused = app.sender_key({**event("authorizer_token"), "authorizationToken": forged}, None)
    assert refused["principalId"] == "nobody"
    assert refused["policyDocument"]["Statement"][0]["Resource"] == []


def test_the_link_routes_are_exactly_the_contracts(moto_stack: MotoStack) -> None:
    """Every route of the app a link's policy opens, by API Gateway's matching of the request's
    ARN (Chalice's local gateway matches the same way): the contract's five, no other."""
    import app

    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/api/GET/x"
    policy = AuthResponse(list(auth.LINK_ROUTES), "acme").to_dict(AuthRequest("TOKEN", "t", arn))
    resources = policy["policyDocument"]["Statement"][0]["Resource"]
    opened = set()
    for path, methods in app.app.routes.items():
        for method, entry in methods.items():
            if entry.authorizer is None:
                continue
            concrete = path.replace("{batch_id}", "b-1").replace("{order_id}", "o-1")
            request = arn.rsplit("/", 2)[0] + f"/{method}{concrete}"
            if ARNMatcher(request).does_any_resource_match(resources):
                opened.add((method, path))
    assert opened == {
        ("POST", "/uploads"),
        ("POST", "/orders"),
        ("GET", "/batches"),
        ("GET", "/batches/{batch_id}"),
        ("GET", "/batches/{batch_id}/rejections"),
    }
