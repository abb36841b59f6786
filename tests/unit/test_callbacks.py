"""Callback URLs: what may be called, how deliveries are signed, retried and bounded."""

from __future__ import annotations

import json
import socket

import pytest

from chalicelib.callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackPolicy,
    CallbackRefused,
    check_url,
    deliver,
    sign,
    verify,
)
from tests.webhook_receiver import webhook_receiver

DEPLOYED = CallbackPolicy(require_https=True, allow_loopback=False)
LOCAL = CallbackPolicy(require_https=False, allow_loopback=True)
SECRET = b"s3cret"


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.8/hook",
        "https://172.16.3.4/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",  # the instance metadata service
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://[fe80::1]/hook",
        "https://0.0.0.0/hook",
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://224.0.0.1/hook",
    ],
)
def test_deployed_stages_refuse_addresses_of_the_network_they_run_in(url: str) -> None:
    with pytest.raises(CallbackRefused, match="private, loopback or reserved"):
        check_url(url, DEPLOYED)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/hook", "must use https"),
        ("ftp://93.184.215.14/hook", "must use https"),
        ("https://user:pw@93.184.215.14/hook", "without user or password"),
        ("https:///hook", "must name a host"),
        ("", "must be a URL"),
        ("https://" + "a" * 3000 + ".com/", "must be a URL"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(CallbackRefused, match=reason):
        check_url(url, DEPLOYED)


def test_a_public_address_is_accepted() -> None:
    check_url("https://93.184.215.14/hook", DEPLOYED)


def test_the_local_stage_allows_http_to_loopback_but_not_private_addresses() -> None:
    check_url("http://127.0.0.1:9000/hook", LOCAL)
    with pytest.raises(CallbackRefused):
        check_url("http://10.1.2.3/hook", LOCAL)


def test_a_signature_verifies_only_for_its_timestamp_body_and_secret() -> None:
    signature = sign(SECRET, "1700000000", b'{"a": 1}')

    assert signature.startswith("sha256=")
    assert verify(SECRET, "1700000000", b'{"a": 1}', signature)
    assert not verify(SECRET, "1700000001", b'{"a": 1}', signature)
    assert not verify(SECRET, "1700000000", b'{"a": 2}', signature)
    assert not verify(b"other", "1700000000", b'{"a": 1}', signature)


def test_a_delivery_is_signed_and_carries_the_detail() -> None:
    with webhook_receiver() as receiver:
        delivery = deliver(
            receiver.url, {"batch_id": "b-1"}, secret=SECRET, policy=LOCAL, attempts=3,
            base_seconds=0,
        )  # fmt: skip

    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    (request,) = receiver.received
    assert json.loads(request.body) == {"batch_id": "b-1"}
    assert verify(
        SECRET, request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER]
    )


def test_failures_are_retried_with_backoff_until_one_succeeds() -> None:
    sleeps: list[float] = []
    with webhook_receiver(answers=[500, 503]) as receiver:
        delivery = deliver(
            receiver.url, {"batch_id": "b-2"}, secret=SECRET, policy=LOCAL, attempts=5,
            base_seconds=0.5, sleep=sleeps.append,
        )  # fmt: skip

    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert sleeps == [0.5, 1.0]
    assert len(receiver.received) == 3


def test_a_receiver_that_is_down_gets_every_attempt_then_failed() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []

    delivery = deliver(
        f"http://127.0.0.1:{port}/hook", {}, secret=SECRET, policy=LOCAL, attempts=4,
        base_seconds=0.1, sleep=sleeps.append,
    )  # fmt: skip

    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert delivery.last_error
    assert len(sleeps) == 3


def test_a_redirect_is_not_followed() -> None:
    with webhook_receiver(answers=[302, 302, 302]) as receiver:
        delivery = deliver(
            receiver.url, {}, secret=SECRET, policy=LOCAL, attempts=3, base_seconds=0,
        )  # fmt: skip

    assert delivery.status == "failed"
    assert delivery.last_error == "HTTP 302"
    assert len(receiver.received) == 3  # only ever the receiver itself


def test_a_refused_url_is_not_retried() -> None:
    delivery = deliver(
        "https://10.0.0.1/hook", {}, secret=SECRET, policy=DEPLOYED, attempts=5, base_seconds=0
    )
    assert (delivery.status, delivery.attempts) == ("failed", 1)
