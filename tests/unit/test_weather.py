"""The emulator's weather: AWS's own throttling answers, which botocore reads as AWS's and which
its retry handler retries, and the text that names them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws

from chalicelib import aws
from orderflow_cli.emulator.weather import Weather, WeatherError, set_weather

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, region_name="us-east-1")


@pytest.fixture
def emulated() -> Iterator[None]:
    with mock_aws():
        yield
    set_weather(None)


def test_the_text_names_each_rate_the_latency_and_the_seed() -> None:
    weather = Weather.parse(
        "dynamodb=3%, s3=0.02 ,lambda=1%,latency=5ms,seed=7,dynamodb-writes=500"
    )
    assert (weather.dynamodb, weather.s3, weather.lambda_) == (0.03, 0.02, 0.01)
    assert (weather.latency_ms, weather.seed, weather.dynamodb_writes) == (5, 7, 500)
    assert weather.sqs == 0
    everything = Weather.parse("aws=2%")
    assert {everything.dynamodb, everything.s3, everything.sqs, everything.sfn} == {0.02}
    assert everything.lambda_ == 0.02
    assert Weather.from_environment({}) is None
    assert Weather.from_environment({"ORDERFLOW_WEATHER": "s3=1%"}) == Weather(s3=0.01)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("dynamo=3%", "no such weather"),
        ("dynamodb", "say name=value"),
        ("dynamodb=lots", "is not a number"),
        ("dynamodb=150%", "between 0 and 100"),
        ("s3=2", "between 0 and 1"),
        ("latency=-5ms", "between 0 and"),
    ],
)
def test_a_mistake_in_the_text_is_named(text: str, says: str) -> None:
    with pytest.raises(WeatherError, match=says):
        Weather.parse(text)


CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("dynamodb", "list_tables", {}, "ProvisionedThroughputExceededException|ThrottlingException"),
    ("s3", "list_buckets", {}, "SlowDown"),
    ("sqs", "list_queues", {}, "ThrottlingException"),
    ("stepfunctions", "list_state_machines", {}, "ThrottlingException"),
    ("events", "list_event_buses", {}, "ThrottlingException"),
    ("sts", "get_caller_identity", {}, "Throttling"),
    ("ssm", "describe_parameters", {}, "ThrottlingException"),
]


@pytest.mark.parametrize(("service", "operation", "params", "codes"), CALLS)
def test_each_service_answers_its_own_throttling_error_which_botocore_parses(
    emulated: None, service: str, operation: str, params: dict[str, Any], codes: str
) -> None:
    set_weather(Weather.parse("aws=100%"))
    client: Any = boto3.client(service, config=NO_RETRY)  # type: ignore[call-overload]
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**params)
    assert raised.value.response["Error"]["Code"] in codes.split("|")


@pytest.mark.parametrize(("service", "operation", "params", "codes"), CALLS)
def test_the_products_clients_retry_it_below_their_caller(
    emulated: None,
    service: str,
    operation: str,
    params: dict[str, Any],
    codes: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # botocore's own backoff (up to 1, 2, 4, 8 s), shortened: what is retried stays its own
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)
    # two requests in five refused: the product's one policy (5 attempts) gets through
    weather = Weather.parse("aws=40%,seed=3")
    set_weather(weather)
    aws.reset()
    config = aws.RETRIES.merge(Config(region_name="us-east-1"))
    client: Any = boto3.client(service, config=config)  # type: ignore[call-overload]
    retries = 0
    for _ in range(4):
        answer = getattr(client, operation)(**params)
        retries += answer["ResponseMetadata"]["RetryAttempts"]
    assert retries >= 1  # some answers came after a refusal, retried by botocore
    assert sum(weather.injected.values()) == retries


def test_a_refused_write_writes_nothing(emulated: None) -> None:
    client = boto3.client("dynamodb", config=NO_RETRY)
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    set_weather(Weather(dynamodb=1.0))
    with pytest.raises(ClientError):
        client.put_item(TableName="t", Item={"k": {"S": "a"}})
    set_weather(None)
    assert client.scan(TableName="t")["Count"] == 0


def test_a_tables_capacity_throttles_writes_above_it_and_not_reads(emulated: None) -> None:
    client = boto3.client("dynamodb", config=NO_RETRY)
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    set_weather(Weather(dynamodb_writes=20))  # a burst of 2, then 20 a second
    outcomes = []
    for k in range(10):  # as fast as moto goes: far above 20 a second
        try:
            client.put_item(TableName="t", Item={"k": {"S": str(k)}})
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes[:2] == ["ok", "ok"]
    assert outcomes.count("ok") < 6
    assert set(outcomes) - {"ok"} <= {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
    }
    for _ in range(5):
        client.get_item(TableName="t", Key={"k": {"S": "0"}})  # reads are not held
