"""Callback URLs: what may be called, how deliveries are signed (checked by the standardwebhooks
package, not by our own code), retried, stopped and bounded by one deadline."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.callback_urls import CallbackPolicy, CallbackRefused, check_url
from chalicelib.callbacks import BadSecret, deliver, notify, parse_secrets
from chalicelib.contracts import BatchStatus, Completion, SourceFile
from tests.webhook_receiver import tls_for, trickling_receiver, webhook_receiver

DEPLOYED = CallbackPolicy(require_https=True, allow_loopback=False)
LOCAL = CallbackPolicy(require_https=False, allow_loopback=True)
KEY = b"0123456789abcdef0123456789abcdef"
WHSEC = "whsec_" + base64.b64encode(KEY).decode()
NEXT_KEY = b"the key that replaces the old one"
NEXT_WHSEC = "whsec_" + base64.b64encode(NEXT_KEY).decode()
PUBLIC = "93.184.215.14"


def _completion(batch_id: str) -> Completion:
    return Completion("acme", batch_id, SourceFile("bucket", "key"), BatchStatus.SUCCEEDED)


def _shown(address: str) -> str:
    """How this Python writes the address (3.11 writes IPv4-mapped ones in hex)."""
    return str(ipaddress.ip_address(address))


def answers(*addresses: str) -> Any:
    """A resolver stub: the first call answers `addresses`, and records every call."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


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


@pytest.mark.parametrize("url", ["https://[::1/hook", "https://\u00a6Q[[\u00d9", "http://]x/"])
def test_a_url_that_does_not_parse_is_refused_not_a_crash(url: str) -> None:
    # found by the contract fuzz: urlsplit raises ValueError on an unbalanced IPv6 bracket
    with pytest.raises(CallbackRefused, match="not a URL"):
        check_url(url, LOCAL, answers(PUBLIC))


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::5db8:d70e",  # local-use NAT64: refused whatever it carries
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo: refused whatever it carries
        "::a00:1",  # IPv4-compatible (deprecated) 10.0.0.1
        "fec0::1",  # deprecated site-local
    ],
)
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_refused(address: str) -> None:
    with pytest.raises(CallbackRefused, match=f"resolves to {re.escape(_shown(address))}"):
        check_url("https://hook.example/hook", DEPLOYED, answers(address))


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:5db8:d70e",  # IPv4-mapped 93.184.215.14
        "64:ff9b::5db8:d70e",  # NAT64 (well-known prefix) of 93.184.215.14
        "2002:5db8:d70e::1",  # 6to4 of 93.184.215.14
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",  # a plain global IPv6 address
    ],
)
def test_ipv6_forms_that_carry_a_global_ipv4_address_are_accepted(address: str) -> None:
    target = check_url("https://hook.example/hook", DEPLOYED, answers(address))
    assert [str(a) for a in target.addresses] == [_shown(address)]


def test_one_refused_address_among_the_resolved_ones_refuses_the_url() -> None:
    with pytest.raises(CallbackRefused, match=r"::ffff:.* \(which carries 10\.0\.0\.1\)"):
        check_url("https://hook.example/hook", DEPLOYED, answers(PUBLIC, "::ffff:10.0.0.1"))


def test_the_local_stage_allows_loopback_also_in_its_ipv4_mapped_form() -> None:
    check_url("http://hook.example/hook", LOCAL, answers("::ffff:127.0.0.1", "::1"))
    with pytest.raises(CallbackRefused):
        check_url("http://hook.example/hook", LOCAL, answers("::ffff:10.0.0.1"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/hook", "must use https"),
        ("ftp://93.184.215.14/hook", "must use https"),
        ("https://user:pw@93.184.215.14/hook", "without user or password"),
        ("https:///hook", "must name a host"),
        ("", "must be a URL"),
        ("https://" + "a" * 3000 + ".com/", "must be a URL"),
        ("https://93.184.215.14/hook?a=1\r\nX-Injected: 1", "control characters"),
        ("https://93.184.215.14/hook?a=b c", "spaces"),
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


def test_secrets_are_read_in_whsec_form_raw_form_and_as_a_list_while_rotated() -> None:
    assert parse_secrets(WHSEC) == (KEY,)
    assert parse_secrets("raw-secret-of-old") == (b"raw-secret-of-old",)
    assert parse_secrets(f"{WHSEC}\n{NEXT_WHSEC}\n") == (KEY, NEXT_KEY)
    assert parse_secrets(f"{WHSEC} raw") == (KEY, b"raw")
    for bad in ("", "  \n", "whsec_", "whsec_not*base64"):
        with pytest.raises(BadSecret):
            parse_secrets(bad)


def _deliver(url: str, **given: Any) -> Any:
    options: dict[str, Any] = {
        "message_id": "msg_b-1",
        "secrets": [KEY],
        "policy": LOCAL,
        "attempts": 3,
        "base_seconds": 0,
    }
    return deliver(url, given.pop("detail", {"batch_id": "b-1"}), **(options | given))


def test_a_delivery_is_a_standard_webhook_the_standardwebhooks_package_verifies() -> None:
    with webhook_receiver() as receiver:
        delivery = _deliver(receiver.url)

    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    (request,) = receiver.received
    assert request.headers["webhook-id"] == "msg_b-1"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(WHSEC).verify(request.body, request.headers) == {"batch_id": "b-1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(NEXT_WHSEC).verify(request.body, request.headers)
    tampered = request.body.replace(b"b-1", b"b-2")
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(tampered, request.headers)
    assert not any(name.lower().startswith("x-orderflow") for name in request.headers)


def test_during_a_rotation_every_secret_signs_and_either_alone_verifies() -> None:
    with webhook_receiver() as receiver:
        _deliver(receiver.url, secrets=parse_secrets(f"{WHSEC}\n{NEXT_WHSEC}"))

    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(WHSEC).verify(request.body, request.headers)
    assert Webhook(NEXT_WHSEC).verify(request.body, request.headers)


def test_a_raw_secret_signs_with_its_bytes_as_the_key() -> None:
    with webhook_receiver() as receiver:
        _deliver(receiver.url, secrets=parse_secrets("raw-secret-of-old"))

    (request,) = receiver.received
    assert Webhook(b"raw-secret-of-old").verify(request.body, request.headers)


def test_every_attempt_carries_the_same_webhook_id() -> None:
    with webhook_receiver(answers=[500, 503]) as receiver:
        delivery = _deliver(receiver.url, message_id="msg_b-7")

    assert delivery.status == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.received] == ["msg_b-7"] * 3
    for request in receiver.received:
        Webhook(WHSEC).verify(request.body, request.headers)


def test_failures_are_retried_with_backoff_until_one_succeeds() -> None:
    sleeps: list[float] = []
    with webhook_receiver(answers=[500, 503]) as receiver:
        delivery = _deliver(receiver.url, attempts=5, base_seconds=0.5, sleep=sleeps.append)

    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert sleeps == [0.5, 1.0]
    assert len(receiver.received) == 3


def test_a_410_gone_ends_the_delivery_without_a_retry() -> None:
    sleeps: list[float] = []
    with webhook_receiver(answers=[410, 410, 410]) as receiver:
        delivery = _deliver(receiver.url, attempts=5, sleep=sleeps.append)

    assert (delivery.status, delivery.attempts) == ("gone", 1)
    assert "410" in delivery.last_error
    assert len(receiver.received) == 1
    assert sleeps == []


class _Batches:
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.recorded: list[dict[str, Any]] = []

    def get(self, sender: str, batch_id: str) -> dict[str, Any]:
        return self.record

    def record_callback(self, sender: str, batch_id: str, **outcome: Any) -> None:
        self.recorded.append({"sender": sender, "batch_id": batch_id, **outcome})


def test_notify_records_a_gone_receiver_on_the_batch_and_signs_with_the_batch_id() -> None:
    with webhook_receiver(answers=[410]) as receiver:
        batches = _Batches({"callback": {"url": receiver.url, "status": "pending"}})
        delivery = notify(
            _completion("b-9"), batches=batches, secrets=lambda: [KEY],  # type: ignore[arg-type]
            policy=LOCAL, attempts=5, base_seconds=0,
        )  # fmt: skip

    assert delivery is not None
    assert delivery.status == "gone"
    assert batches.recorded == [
        {
            "sender": "acme",
            "batch_id": "b-9",
            "url": receiver.url,
            "status": "gone",
            "attempts": 1,
            "last_error": "HTTP 410: the receiver wants no more deliveries",
        }
    ]
    (request,) = receiver.received
    assert request.headers["webhook-id"] == "msg_b-9"


def test_a_batch_without_a_callback_goes_to_its_senders_webhook_signed_with_its_secret() -> None:
    sender_key = b"fedcba9876543210fedcba9876543210"
    sender_secret = "whsec_" + base64.b64encode(sender_key).decode()
    with webhook_receiver(answers=[200]) as receiver:
        batches = _Batches({})  # the batch named no callback URL
        delivery = notify(
            _completion("b-7"), batches=batches,  # type: ignore[arg-type]
            secrets=lambda: [KEY], policy=LOCAL, attempts=1, base_seconds=0,
            sender_webhook=lambda sender: (receiver.url, (sender_secret,))
            if sender == "acme" else (None, ()),
        )  # fmt: skip

    assert delivery is not None
    assert delivery.status == "delivered"
    (request,) = receiver.received
    # the sender's secret verifies it (the receiver's own library); the stage's does not
    assert Webhook(sender_secret).verify(request.body, request.headers)["batch_id"] == "b-7"
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.body, request.headers)
    assert batches.recorded[0]["url"] == receiver.url


def test_no_callback_and_no_senders_webhook_delivers_nothing() -> None:
    batches = _Batches({})
    delivery = notify(
        _completion("b-8"), batches=batches,  # type: ignore[arg-type]
        secrets=lambda: [KEY], policy=LOCAL, attempts=1, base_seconds=0,
    )  # fmt: skip
    assert delivery is None
    assert batches.recorded == []


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline() -> None:
    with trickling_receiver(every_seconds=1.0) as trickler:
        started = time.monotonic()
        delivery = _deliver(trickler.url, attempts=5, deadline_seconds=2)
        elapsed = time.monotonic() - started

    assert 2 <= elapsed < 2.5
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "no complete answer within the 2 s delivery deadline"
    assert trickler.connections == 1


def test_backoff_that_would_outlast_the_deadline_ends_the_delivery() -> None:
    sleeps: list[float] = []
    with webhook_receiver(answers=[500, 500]) as receiver:
        delivery = _deliver(
            receiver.url, attempts=5, base_seconds=10, deadline_seconds=2, sleep=sleeps.append
        )

    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error.startswith("HTTP 500; no time for another attempt")
    assert sleeps == []
    assert len(receiver.received) == 1


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    with webhook_receiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        resolve = answers("127.0.0.1")
        delivery = _deliver(f"http://hook.example:{port}/hook?token=t", resolve=resolve)

    assert delivery.status == "delivered"
    assert resolve.calls == ["hook.example"]  # once: nothing resolved the name again
    (request,) = receiver.received
    assert request.headers["Host"] == f"hook.example:{port}"
    assert request.path == "/hook?token=t"


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected_to() -> None:
    calls: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return [PUBLIC] if len(calls) == 1 else ["127.0.0.1"]

    no_loopback = CallbackPolicy(require_https=False, allow_loopback=False)
    with webhook_receiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        delivery = _deliver(
            f"http://rebind.example:{port}/hook", policy=no_loopback, resolve=rebinding,
            attempts=1, deadline_seconds=1,
        )  # fmt: skip

    assert delivery.status == "failed"
    assert receiver.received == []
    assert calls == ["rebind.example"]


def test_a_receiver_that_is_down_gets_every_attempt_then_failed() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []

    delivery = _deliver(
        f"http://127.0.0.1:{port}/hook", attempts=4, base_seconds=0.1, sleep=sleeps.append
    )

    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert "Connection refused" in delivery.last_error
    assert len(sleeps) == 3


def test_a_redirect_is_not_followed() -> None:
    with webhook_receiver(answers=[302, 302, 302]) as receiver:
        delivery = _deliver(receiver.url)

    assert delivery.status == "failed"
    assert delivery.last_error == "HTTP 302"
    assert len(receiver.received) == 3  # only ever the receiver itself


def test_a_refused_url_is_not_retried() -> None:
    delivery = _deliver("https://10.0.0.1/hook", policy=DEPLOYED, attempts=5)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "private, loopback or reserved" in delivery.last_error


def test_a_detail_is_sent_as_json() -> None:
    with webhook_receiver() as receiver:
        _deliver(receiver.url, detail={"batch_id": "b-1", "stored": 2})

    assert json.loads(receiver.received[0].body) == {"batch_id": "b-1", "stored": 2}


def test_https_goes_to_the_checked_address_and_verifies_the_hosts_certificate(
    tmp_path: Path,
) -> None:
    tls = tls_for("hook.example", tmp_path)
    with webhook_receiver(tls=tls.server) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        resolve = answers("127.0.0.1")
        delivery = _deliver(
            f"https://hook.example:{port}/hook", resolve=resolve, ca_file=tls.ca_file
        )

    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert tls.asked_for == ["hook.example"]  # SNI names the host, not the address
    (request,) = receiver.received
    assert request.headers["Host"] == f"hook.example:{port}"
    assert resolve.calls == ["hook.example"]


def test_https_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    tls = tls_for("other.example", tmp_path)
    with webhook_receiver(tls=tls.server) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        delivery = _deliver(
            f"https://hook.example:{port}/hook", resolve=answers("127.0.0.1"),
            ca_file=tls.ca_file, attempts=1,
        )  # fmt: skip

    assert delivery.status == "failed"
    assert "certificate verify failed" in delivery.last_error
    assert receiver.received == []


def test_a_delivery_without_a_signing_secret_is_not_sent() -> None:
    with webhook_receiver() as receiver, pytest.raises(BadSecret):
        _deliver(receiver.url, secrets=[])
    assert receiver.received == []
