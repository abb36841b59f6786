"""chalicelib.metering: each call counted where it is made, as AWS bills it, in the meter of the
invocation that made it (moto for the services, one client of each; no emulator)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import metering
from chalicelib.costs import Requests
from chalicelib.pipeline.inflight import in_order
from tests.conftest import inject_faults

REGION = "us-east-1"


@pytest.fixture
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        made: dict[str, Any] = {
            name: metering.attach(boto3.client(name, region_name=REGION))
            for name in ("s3", "dynamodb", "sqs", "events")
        }
        made["s3"].create_bucket(Bucket="bkt")
        made["dynamodb"].create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        made["queue"] = made["sqs"].create_queue(QueueName="q")["QueueUrl"]
        yield made


def test_s3_calls_count_by_their_billing_class(clients: dict[str, Any]) -> None:
    s3 = clients["s3"]
    with metering.metered() as requests:
        s3.put_object(Bucket="bkt", Key="a", Body=b"x")
        s3.copy_object(Bucket="bkt", Key="c", CopySource={"Bucket": "bkt", "Key": "a"})
        s3.get_object(Bucket="bkt", Key="a")["Body"].read()
        s3.head_object(Bucket="bkt", Key="a")
        s3.list_objects_v2(Bucket="bkt")
        s3.delete_object(Bucket="bkt", Key="c")  # free
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket="bkt", Key="missing")  # a failed call is billed too

    assert (requests.s3_put, requests.s3_get, requests.s3_list) == (2, 3, 1)


def test_dynamodb_units_follow_the_size_of_what_is_written_and_read(
    clients: dict[str, Any],
) -> None:
    dynamodb = clients["dynamodb"]
    big = {"k": {"S": "big"}, "v": {"S": "x" * 2500}}  # 2.5 KB: 3 write units, 1 read unit
    with metering.metered() as requests:
        dynamodb.put_item(TableName="t", Item={"k": {"S": "small"}})
        dynamodb.put_item(TableName="t", Item=big)
        dynamodb.update_item(
            TableName="t",
            Key={"k": {"S": "small"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
        dynamodb.get_item(TableName="t", Key={"k": {"S": "big"}}, ConsistentRead=True)
        dynamodb.get_item(TableName="t", Key={"k": {"S": "none"}})

    assert requests.dynamodb_write_units == 1 + 3 + 1
    assert requests.dynamodb_read_units == 1 + 1


def test_sqs_counts_64_kb_units_and_eventbridge_its_events(clients: dict[str, Any]) -> None:
    body = "x" * (100 * 1024)  # two 64 KB units
    with metering.metered() as requests:
        clients["sqs"].send_message_batch(
            QueueUrl=clients["queue"], Entries=[{"Id": "1", "MessageBody": body}]
        )
        clients["events"].put_events(
            Entries=[
                {"Source": "s", "DetailType": "d", "Detail": json.dumps({"n": n})} for n in (1, 2)
            ]
        )

    assert (requests.sqs_requests, requests.eventbridge_events) == (2, 2)


def test_a_call_answered_in_its_place_is_counted_as_made(clients: dict[str, Any]) -> None:
    # an injected throttle answers before the call is sent, as a refusal would come back
    inject_faults(clients["s3"], "GetObject", lambda n: "SlowDown")
    with metering.metered() as requests, pytest.raises(clients["s3"].exceptions.ClientError):
        clients["s3"].get_object(Bucket="bkt", Key="a")

    assert requests.s3_get == 1


def test_each_invocation_counts_only_its_own_calls_and_its_threads(
    clients: dict[str, Any],
) -> None:
    s3 = clients["s3"]
    counted: dict[str, Requests] = {}
    ready = threading.Barrier(2)

    def invocation(name: str, puts: int) -> None:
        with metering.metered() as requests:
            ready.wait()  # both at once, in one process
            list(in_order(lambda n: s3.put_object(Bucket="bkt", Key=f"{name}{n}", Body=b"x"),
                          range(puts)))  # fmt: skip
            counted[name] = requests

    threads = [threading.Thread(target=invocation, args=(n, p)) for n, p in (("a", 3), ("b", 5))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    s3.put_object(Bucket="bkt", Key="outside", Body=b"x")  # no meter open: counted nowhere

    assert (counted["a"].s3_put, counted["b"].s3_put) == (3, 5)
    assert metering.current() is None


def test_a_meter_opened_inside_another_counts_apart(clients: dict[str, Any]) -> None:
    s3 = clients["s3"]
    with metering.metered() as outer:
        s3.put_object(Bucket="bkt", Key="1", Body=b"x")
        with metering.metered() as inner:
            s3.put_object(Bucket="bkt", Key="2", Body=b"x")
            s3.put_object(Bucket="bkt", Key="3", Body=b"x")
        s3.head_object(Bucket="bkt", Key="1")

    assert (outer.s3_put, outer.s3_get, inner.s3_put) == (1, 1, 2)


def test_the_report_uploads_threads_count_in_the_callers_meter(clients: dict[str, Any]) -> None:
    from chalicelib.contracts import Reason, Rejection
    from chalicelib.pipeline.report import ReportWriter

    writer = ReportWriter([])
    writer.add(Rejection(2, {"order-info": {"OrderId": "a"}}, "a", Reason.INVALID, ()))
    with metering.metered() as requests:
        writer.upload(clients["s3"], "bkt", "r/")

    assert requests.s3_put == 2  # the two forms, each one PUT from s3transfer's threads
