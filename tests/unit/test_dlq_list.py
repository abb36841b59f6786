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
from orderflow_cli.stack import Stack


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        sqs.create_queue(QueueName="orders-dlq-redrive")
        yield Stack(
            s3=None,  # type: ignore[arg-type]  # the listing reads only SQS
            dynamodb=None,  # type: ignore[arg-type]
            sqs=sqs,
            names={"DLQ_URL": url},
        )


def group(reasons: list[str]) -> str:
    """A group message as the pipeline sends it (chalicelib.contracts.deadletter's wire)."""
    rejections = [
        {"row": i, "order_id": f"o{i}", "reason": r, "errors": [], "order": {}}
        for i, r in enumerate(reasons)
    ]
    return json.dumps(
        {"message_id": "b:1", "sender": "demo", "batch_id": "b", "chunk": 1, "group": "000001",
         "source": {"bucket": "in", "key": "k"}, "rejections": rejections}
    )  # fmt: skip


def fill(stack: Stack, messages: list[str]) -> None:
    for body in messages:
        stack.sqs.send_message(QueueUrl=stack.names["DLQ_URL"], MessageBody=body)


def test_a_short_queue_is_listed_whole_by_reason(stack: Stack) -> None:
    fill(stack, [group(["invalid", "invalid"]), group(["store_failed"]), "not json"])

    listing = dlq.waiting(stack)

    assert listing["dlq"] == {
        "messages": 3,
        "in_flight": 0,
        "read": 3,
        "complete": True,
        "reasons": {"invalid": 2, "store_failed": 1, "unreadable message": 1},
    }
    assert listing["redrive"]["messages"] == 0
    lines = dlq.describe_waiting(listing)
    assert lines[0] == "dlq: 3 group message(s) waiting"
    assert "  invalid: 2 order(s)" in lines
    assert lines[-1] == "redrive: empty"


def test_a_queue_longer_than_the_listing_says_it_was_cut(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
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
