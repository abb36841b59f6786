"""A throttled key lookup is not a bad key: the authorizer's read of the senders table is
retried by the product's one policy, and when every retry is throttled it fails as an error
(API Gateway's 500 for an authorizer that failed), never as a refusal (401/403).

The senders table alone in moto (tests/unit/conftest.py); the emulator's weather answers in
moto's place, below botocore's retries, as AWS's throttles would."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from chalicelib import aws, wiring
from chalicelib.api import auth
from chalicelib.senders import SenderRegistry
from chalicelib.settings import get_settings
from orderflow_cli.emulator.weather import Weather, set_weather


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's own backoff (up to 1, 2, 4, 8 s), shortened; what it retries stays its own
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


def registered_key(table: str) -> str:
    _, key = SenderRegistry(aws.dynamodb(), table).add("acme", "Acme")
    return key


def test_a_throttled_lookup_is_retried_and_the_key_still_works(senders_table: str) -> None:
    key = registered_key(senders_table)
    weather = Weather(dynamodb=0.5, seed=5)  # half of every DynamoDB request refused
    set_weather(weather)
    try:
        answers = [auth.authorize(key, wiring.sender_registry(get_settings())) for _ in range(5)]
    finally:
        set_weather(None)

    assert sum(weather.injected.values()) > 0  # refusals happened, below the retries
    assert all(a.principal_id == "acme" and a.routes == ["*"] for a in answers)


def test_a_lookup_throttled_past_every_retry_is_an_error_not_a_refusal(senders_table: str) -> None:
    key = registered_key(senders_table)
    set_weather(Weather(dynamodb=1.0))
    try:
        with pytest.raises(ClientError) as raised:
            auth.authorize(key, wiring.sender_registry(get_settings()))
    finally:
        set_weather(None)

    assert raised.value.response["Error"]["Code"] in {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
    }
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 4  # 5 attempts in all
