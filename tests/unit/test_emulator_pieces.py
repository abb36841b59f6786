"""Unit tests for the embedded emulator's own pieces: the in-process Lambda and the moto patch."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.sqs.models import Queue, SQSBackend

from chalicelib import aws
from orderflow_cli.emulator.lambdas import InProcessLambda, function_name_from_path
from orderflow_cli.emulator.moto_patches import patch_sqs_send_depth
from orderflow_cli.emulator.runtime import EmbeddedAWS

PREFIX = "orderflow-local-"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-ValidateOrder"


def invoke_path(target: str) -> str:
    return f"/2015-03-31/functions/{target}/invocations"


# --- function names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "orderflow-local-ValidateOrder",
        ARN,
        ARN.replace(":", "%3A"),
        f"{ARN}:$LATEST",
        f"{ARN}:live".replace(":", "%3A"),
        f"{ARN}:%24LATEST",
    ],
    ids=["plain", "arn", "url-encoded-arn", "arn-qualifier", "encoded-arn-alias", "encoded-$"],
)
def test_function_name_from_path(target):
    # given an invoke path naming the function in any of the ways botocore sends it
    path = invoke_path(target)

    # then the Chalice name comes out
    assert function_name_from_path(path, PREFIX) == "ValidateOrder"


def test_function_name_from_path_keeps_a_name_without_the_prefix():
    assert function_name_from_path(invoke_path("SomethingElse"), PREFIX) == "SomethingElse"


# --- InProcessLambda --------------------------------------------------------------------------


class ChunkRefused(Exception):
    pass


def call(lam: InProcessLambda, name: str, event: Any) -> tuple[Any, dict[str, Any]]:
    params = {
        "url_path": invoke_path(f"{PREFIX}{name}"),
        "body": json.dumps(event).encode(),
        "url": f"https://lambda.us-east-1.amazonaws.com{invoke_path(PREFIX + name)}",
    }
    http, parsed = lam._invoke(params)
    payload = json.loads(parsed["Payload"].read())
    return http, {**parsed, "Payload": payload}


def test_a_handler_result_is_the_payload():
    # given a function that echoes its event and reads its context
    def echo(event: Any, context: Any) -> dict[str, Any]:
        return {
            "got": event,
            "name": context.function_name,
            "ms": context.get_remaining_time_in_millis(),
        }

    lam = InProcessLambda({"Echo": echo}, PREFIX)

    # when invoked
    http, answer = call(lam, "Echo", {"a": [1, "two"]})

    # then the payload is its result, without FunctionError, and the call is counted
    assert http.status_code == 200
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["Payload"]["got"] == {"a": [1, "two"]}
    assert answer["Payload"]["name"] == "Echo"
    assert answer["Payload"]["ms"] > 0
    assert lam.invocations == {"Echo": 1}


def test_a_handler_exception_is_answered_like_lambda():
    # given a function that raises
    def refuse(event: Any, context: Any) -> Any:
        raise ChunkRefused(f"chunk {event['index']} refused")

    lam = InProcessLambda({"ValidateOrder": refuse}, PREFIX)

    # when invoked twice
    call(lam, "ValidateOrder", {"index": 1})
    _, answer = call(lam, "ValidateOrder", {"index": 2})

    # then the answer is a function error named after the exception class, as Lambda gives it
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Payload"]["errorType"] == "ChunkRefused"
    assert answer["Payload"]["errorMessage"] == "chunk 2 refused"
    assert isinstance(answer["Payload"]["stackTrace"], list)
    assert lam.invocations == {"ValidateOrder": 2}
    assert lam.busy_seconds["ValidateOrder"] >= 0


def test_an_empty_body_is_an_empty_event():
    seen: list[Any] = []
    lam = InProcessLambda({"F": lambda event, _ctx: seen.append(event)}, PREFIX)
    lam._invoke({"url_path": invoke_path(f"{PREFIX}F"), "body": b""})
    assert seen == [{}]


# --- the SQS send patch -----------------------------------------------------------------------

COUNT_PROPERTIES = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every evaluation of the queue's message-count properties."""
    reads: Counter[str] = Counter()
    for name in COUNT_PROPERTIES:
        original: property = Queue.__dict__[name]

        def spy(queue: Queue, _name: str = name, _original: property = original) -> int:
            reads[_name] += 1
            value: int = _original.fget(queue)  # type: ignore[misc]
            return value

        monkeypatch.setattr(Queue, name, property(spy))
    return reads


def fill(url: str, count: int) -> None:
    client = aws.sqs()
    for start in range(0, count, 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )


def test_sending_into_a_deep_queue_does_not_count_its_messages(local, count_reads):
    # given a queue with 2,000 waiting messages (the emulator has applied the patch)
    url = aws.sqs().create_queue(QueueName="deep")["QueueUrl"]
    fill(url, 2000)
    count_reads.clear()

    # when one message and one batch are sent into it
    aws.sqs().send_message(QueueUrl=url, MessageBody="one more")
    aws.sqs().send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)]
    )

    # then no message count was computed
    assert sum(count_reads.values()) == 0

    # while the queue's attributes still report the right depth
    attributes = aws.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2011"
    assert count_reads["approximate_number_of_messages"] >= 1  # the spy does see reads


def test_a_failed_send_does_not_leave_the_queue_attributes_empty(local):
    # given a queue, and a send that moto refuses (a message over the size limit)
    url = aws.sqs().create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})[
        "QueueUrl"
    ]
    aws.sqs().send_message(QueueUrl=url, MessageBody="fits")
    with pytest.raises(ClientError):
        aws.sqs().send_message(QueueUrl=url, MessageBody="x" * 2048)

    # when its attributes are read afterwards
    attributes = aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    # then they are moto's full set, not the sending shortcut
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["MaximumMessageSize"] == "1024"


def test_a_fifo_queue_with_content_based_deduplication_still_deduplicates(local):
    # given a FIFO queue that deduplicates by content
    url = aws.sqs().create_queue(
        QueueName="dedup.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    # when the same body is sent twice (no deduplication id), and another once
    for body in ("same", "same", "other"):
        aws.sqs().send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")

    # then the queue holds two messages
    received = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["other", "same"]
    attributes = aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ContentBasedDeduplication"] == "true"


def test_a_fifo_queue_without_content_deduplication_still_requires_an_id(local):
    # given a FIFO queue without content-based deduplication
    url = aws.sqs().create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]

    # when a message is sent without a deduplication id, then SQS refuses it as before
    with pytest.raises(ClientError) as refused:
        aws.sqs().send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert "MessageDeduplicationId" in str(refused.value)


def test_the_patch_is_applied_once(local):
    # given the emulator has applied the patch, when it is applied again
    send = SQSBackend.send_message
    patch_sqs_send_depth()

    # then the methods are wrapped once, not twice
    assert SQSBackend.send_message is send
    wrapped = getattr(send, "__wrapped__")  # noqa: B009 - not in moto's annotations
    assert not hasattr(wrapped, "__wrapped__")


def test_the_embedded_emulator_uses_the_patched_backend(local: EmbeddedAWS):
    assert hasattr(SQSBackend.send_message, "__wrapped__")
    assert hasattr(SQSBackend._validate_message, "__wrapped__")
