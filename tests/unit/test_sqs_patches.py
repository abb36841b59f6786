"""The emulator's SQS patches (orderflow_cli/emulator/moto_patches/sqs.py): a send and a
receive cost the same at any depth of the queue, and SQS's behaviour stays moto's."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import Queue, SQSBackend, sqs_backends

from chalicelib import aws
from orderflow_cli.emulator.moto_patches import patch_sqs_receive_depth, patch_sqs_send_depth
from orderflow_cli.emulator.runtime import EmbeddedAWS

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


def fill(url: str, count: int, client: Any = None, first: int = 0) -> None:
    client = client or aws.sqs()
    for start in range(first, first + count, 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )


@pytest.fixture
def sqs() -> Iterator[Any]:
    """An emulated SQS with the emulator's patches, without the rest of the emulator."""
    with mock_aws():
        patch_sqs_send_depth()
        patch_sqs_receive_depth()
        yield boto3.client("sqs", region_name="us-east-1")


def test_sending_into_a_deep_queue_does_not_count_its_messages(sqs, count_reads):
    # given a queue with 2,000 waiting messages (the patch applied)
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    fill(url, 2000, sqs)
    count_reads.clear()

    # when one message and one batch are sent into it
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)]
    )

    # then no message count was computed
    assert sum(count_reads.values()) == 0

    # while the queue's attributes still report the right depth
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2011"
    assert count_reads["approximate_number_of_messages"] >= 1  # the spy does see reads


def test_a_failed_send_does_not_leave_the_queue_attributes_empty(sqs):
    # given a queue, and a send that moto refuses (a message over the size limit)
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="fits")
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 2048)

    # when its attributes are read afterwards
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    # then they are moto's full set, not the sending shortcut
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["MaximumMessageSize"] == "1024"


def test_a_fifo_queue_with_content_based_deduplication_still_deduplicates(sqs):
    # given a FIFO queue that deduplicates by content
    url = sqs.create_queue(
        QueueName="dedup.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    # when the same body is sent twice (no deduplication id), and another once
    for body in ("same", "same", "other"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")

    # then the queue holds two messages
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["other", "same"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ContentBasedDeduplication"] == "true"


def test_a_fifo_queue_without_content_deduplication_still_requires_an_id(sqs):
    # given a FIFO queue without content-based deduplication
    url = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

    # when a message is sent without a deduplication id, then SQS refuses it as before
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert "MessageDeduplicationId" in str(refused.value)


def test_the_patch_is_applied_once(sqs):
    # given the patch is applied, when it is applied again
    send = SQSBackend.send_message
    patch_sqs_send_depth()

    # then the methods are wrapped once, not twice
    assert SQSBackend.send_message is send
    wrapped = getattr(send, "__wrapped__")  # noqa: B009 - not in moto's annotations
    assert not hasattr(wrapped, "__wrapped__")


def test_the_embedded_emulator_uses_the_patched_backend(local: EmbeddedAWS):
    assert hasattr(SQSBackend.send_message, "__wrapped__")
    assert hasattr(SQSBackend._validate_message, "__wrapped__")
    assert hasattr(Queue.delete_message, "__wrapped__")
    assert hasattr(SQSBackend.change_message_visibility, "__wrapped__")


# --- the SQS receive patch --------------------------------------------------------------------


def receive(client: Any, url: str, count: int = 10, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=count, AttributeNames=["All"], **kwargs
    ).get("Messages", [])
    return found


def depth(client: Any, url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counted = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name.removeprefix("ApproximateNumberOf"): int(counted[name]) for name in names}


def seconds_per_message(client: Any, url: str, rounds: int = 15) -> float:
    """Median time to receive and delete one message, in batches of ten, keeping the depth."""
    times = []
    for round_ in range(rounds):
        started = time.perf_counter()
        messages = receive(client, url)
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        times.append((time.perf_counter() - started) / len(messages))
        fill(url, 10, client, first=1_000_000 + 10 * round_)  # back to the same depth
    return statistics.median(times)


def test_receiving_and_deleting_cost_the_same_at_any_depth(sqs):
    # given a queue 200 messages deep and one 5,000 messages deep
    shallow = sqs.create_queue(QueueName="shallow")["QueueUrl"]
    deep = sqs.create_queue(QueueName="deep")["QueueUrl"]
    fill(shallow, 200, sqs)
    fill(deep, 5000, sqs)

    # when messages are received and deleted from each
    at_200 = seconds_per_message(sqs, shallow)
    at_5000 = seconds_per_message(sqs, deep)

    # then a message costs about the same (unpatched moto: about 30 times as much)
    assert at_5000 / at_200 < 3, (at_200, at_5000)


def test_receiving_deleting_and_changing_visibility_do_not_count_the_messages(sqs, count_reads):
    # given a queue with 2,000 waiting messages
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    fill(url, 2000, sqs)
    count_reads.clear()

    # when ten are received, five deleted one by one or in a batch, five made visible again
    messages = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages[1:5])
        ],
    )
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=messages[5]["ReceiptHandle"], VisibilityTimeout=0
    )
    sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[6:])
        ],
    )

    # then no message count was computed, and the counts are right when asked for
    assert sum(count_reads.values()) == 0
    assert depth(sqs, url) == {"Messages": 1995, "MessagesNotVisible": 0}


def test_a_message_not_deleted_comes_back_after_visibility_0(sqs):
    # given a message received once (the queue's visibility timeout: 30 s)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    (first,) = receive(sqs, url)
    assert receive(sqs, url) == []  # in flight: not delivered twice
    assert depth(sqs, url) == {"Messages": 0, "MessagesNotVisible": 1}

    # when it is made visible again
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )

    # then it comes back, counted as received twice, with a new receipt handle
    (second,) = receive(sqs, url)
    assert second["Body"] == "again"
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]

    # and deleting it (by its newest handle) empties the queue
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert depth(sqs, url) == {"Messages": 0, "MessagesNotVisible": 0}
    assert receive(sqs, url) == []


def test_after_max_receive_count_a_message_moves_to_the_redrive_queue(sqs):
    # given a queue that sends a message to its redrive queue after 3 receives
    redrive = sqs.create_queue(QueueName="q-redrive")["QueueUrl"]
    redrive_arn = sqs.get_queue_attributes(QueueUrl=redrive, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {"deadLetterTargetArn": redrive_arn, "maxReceiveCount": 3}
    url = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": json.dumps(policy)})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.send_message(QueueUrl=url, MessageBody="fine")

    # when the poison message is received and handed back three times
    for count in (1, 2, 3):
        messages = {m["Body"]: m for m in receive(sqs, url)}
        assert messages["poison"]["Attributes"]["ApproximateReceiveCount"] == str(count)
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=messages["poison"]["ReceiptHandle"], VisibilityTimeout=0
        )
        if "fine" in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=messages["fine"]["ReceiptHandle"])

    # then the next receive moves it to the redrive queue instead of delivering it
    assert receive(sqs, url) == []
    assert depth(sqs, url) == {"Messages": 0, "MessagesNotVisible": 0}
    assert [m["Body"] for m in receive(sqs, redrive)] == ["poison"]


def test_a_message_past_the_retention_period_is_not_delivered(sqs):
    # given a queue that keeps messages 60 s, a fresh message and one sent 2 minutes ago
    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    backend = sqs_backends["123456789012"]["us-east-1"]
    stale = backend.get_queue("q")._messages[1]
    vars(stale)["sent_timestamp"] -= 120_000  # moto declares it None until sent

    # then the retention check answers as moto's, and only the fresh message is delivered
    fresh = backend.get_queue("q")._messages[0]
    assert backend.is_message_valid_based_on_retention_period("q", fresh) is True
    assert backend.is_message_valid_based_on_retention_period("q", stale) is False
    assert [m["Body"] for m in receive(sqs, url)] == ["fresh"]
    assert receive(sqs, url) == []


def test_receipt_handles_are_checked_as_before(sqs):
    # given a received message, deleted once
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    other = sqs.create_queue(QueueName="other")["QueueUrl"]
    fill(url, 20, sqs)
    first, second, *_ = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])

    # then deleting it again is no error, as in moto and SQS
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])

    # while an unknown handle, or a handle of another queue, is refused
    for queue, handle in ((url, "not-a-handle"), (other, second["ReceiptHandle"])):
        with pytest.raises(ClientError) as refused:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
        assert refused.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
        with pytest.raises(ClientError) as refused:
            sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
        assert refused.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"

    # and a batch reports the bad entry and deletes the good one
    answer = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "ReceiptHandle": second["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "not-a-handle"},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["good"]
    assert [(f["Id"], f["Code"]) for f in answer["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    assert depth(sqs, url) == {"Messages": 10, "MessagesNotVisible": 8}


def test_a_visibility_beyond_12_hours_is_refused_as_before(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    (message,) = receive(sqs, url)

    with pytest.raises(ClientError) as refused:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43201
        )

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_messages_sent_while_others_are_deleted_are_not_lost(sqs):
    # given a sender and a consumer working on one queue at the same time
    url = sqs.create_queue(QueueName="busy")["QueueUrl"]
    sent = [f"m{i}" for i in range(600)]

    def send_all() -> None:
        for start in range(0, len(sent), 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": b} for i, b in enumerate(sent[start : start + 10])
                ],
            )

    sender = threading.Thread(target=send_all)
    sender.start()

    # when the consumer deletes every message it receives until the sender is done
    received: list[str] = []
    while sender.is_alive() or depth(sqs, url)["Messages"]:
        for message in receive(sqs, url):
            received.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sender.join()

    # then every message was received once
    assert sorted(received) == sorted(sent)


def test_the_receive_patch_is_applied_once(sqs):
    delete, change = Queue.delete_message, SQSBackend.change_message_visibility
    patch_sqs_receive_depth()
    assert (Queue.delete_message, SQSBackend.change_message_visibility) == (delete, change)
    assert not hasattr(getattr(delete, "__wrapped__"), "__wrapped__")  # noqa: B009
