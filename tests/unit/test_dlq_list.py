"""`orders dlq list` never cuts a listing silently: it says how many group messages wait, and
when it read only some of them it says so, beside the reasons it counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow_cli import dlq


@pytest.fixture
def stack() -> Iterator[dlq.Stack]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        sqs.create_queue(QueueName="orders-dlq-redrive")
        yield dlq.Stack(
            s3=None,  # type: ignore[arg-type]  # the listing reads only SQS
            dynamodb=None,  # type: ignore[arg-type]
            sqs=sqs,
            names={"DLQ_URL": url},
        )


def group(reasons: list[str]) -> str:
    return json.dumps({"rejections": [{"row": i, "reason": r} for i, r in enumerate(reasons)]})


def fill(stack: dlq.Stack, messages: list[str]) -> None:
    for body in messages:
        stack.sqs.send_message(QueueUrl=stack.names["DLQ_URL"], MessageBody=body)


def test_a_short_queue_is_listed_whole_by_reason(stack: dlq.Stack) -> None:
    fill(stack, [group(["invalid", "invalid"]), group(["throttled"]), "not json"])

    listing = dlq.waiting(stack)

    assert listing["dlq"] == {
        "messages": 3,
        "in_flight": 0,
        "read": 3,
        "complete": True,
        "reasons": {"invalid": 2, "throttled": 1, "unreadable message": 1},
    }
    assert listing["redrive"]["messages"] == 0
    lines = dlq.describe_waiting(listing)
    assert lines[0] == "dlq: 3 group message(s) waiting"
    assert "  invalid: 2 order(s)" in lines
    assert lines[-1] == "redrive: empty"


def test_a_queue_longer_than_the_listing_says_it_was_cut(
    stack: dlq.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dlq, "_MAX_LISTED", 4)
    fill(stack, [group(["invalid"]) for _ in range(9)])

    listing: dict[str, Any] = dlq.waiting(stack)["dlq"]

    assert listing["messages"] == 9
    assert listing["complete"] is False
    assert listing["read"] == 4
    assert listing["reasons"] == {"invalid": 4}
    first = dlq.describe_waiting({"dlq": listing})[0]
    assert first.startswith("dlq: 9 group message(s) waiting")
    assert "the first 4 read, not all of them" in first
