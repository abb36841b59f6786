"""The emulator's SQS event source mapping, with a plain function and an emulated queue: batches,
partial batch responses, the redrive after maxReceiveCount, polling in a thread, settling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow_cli.emulator.event_sources import SqsEventSourceMapping
from orderflow_cli.emulator.moto_patches import patch_sqs_receive_depth, patch_sqs_send_depth

MAX_RECEIVES = 3


@dataclass
class Function:
    """A function that records its batches and fails the bodies `fails` says."""

    fails: Callable[[str], bool] = lambda _body: False
    raises: bool = False
    batches: list[list[str]] = field(default_factory=list)

    def __call__(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        assert name == "Review"
        records = event["Records"]
        self.batches.append([r["body"] for r in records])
        assert all(r["eventSource"] == "aws:sqs" for r in records)
        assert all(r["eventSourceARN"].endswith(":q") for r in records)
        if self.raises:
            raise RuntimeError("the function failed")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in records if self.fails(r["body"])
            ]
        }

    def bodies(self) -> list[str]:
        return [body for batch in self.batches for body in batch]


@dataclass
class Queues:
    sqs: Any
    url: str
    arn: str
    redrive: str

    def send(self, *bodies: str) -> None:
        for start in range(0, len(bodies), 10):
            self.sqs.send_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "MessageBody": body}
                    for i, body in enumerate(bodies[start : start + 10])
                ],
            )

    def redriven(self) -> list[str]:
        found = self.sqs.receive_message(QueueUrl=self.redrive, MaxNumberOfMessages=10)
        return sorted(m["Body"] for m in found.get("Messages", []))

    def mapping(self, function: Function, **kwargs: Any) -> SqsEventSourceMapping:
        return SqsEventSourceMapping(self.sqs, self.url, self.arn, "Review", function, **kwargs)


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        patch_sqs_send_depth()
        patch_sqs_receive_depth()
        sqs = boto3.client("sqs", region_name="us-east-1")
        redrive = sqs.create_queue(QueueName="q-redrive")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=redrive, AttributeNames=["QueueArn"])
        policy = {
            "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
            "maxReceiveCount": MAX_RECEIVES,
        }
        url = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": json.dumps(policy)})[
            "QueueUrl"
        ]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        yield Queues(sqs, url, queue_arn["Attributes"]["QueueArn"], redrive)


def test_settle_hands_over_every_message_in_batches_of_ten(queues: Queues) -> None:
    # given 250 messages waiting (the old pump stopped after 70)
    bodies = [f"m{i}" for i in range(250)]
    queues.send(*bodies)
    function = Function()
    mapping = queues.mapping(function)

    # when the mapping settles (not enabled: it polls in this thread)
    handed = mapping.settle(timeout=60)

    # then every message was handed over once, ten at most at a time, and deleted
    assert handed == 250
    assert sorted(function.bodies()) == sorted(bodies)
    assert max(len(batch) for batch in function.batches) == 10
    assert sorted(mapping.received.values()) == sorted(bodies)
    assert mapping.settle(timeout=1) == 250  # nothing left


def test_a_failed_item_comes_back_until_sqs_moves_it_to_the_redrive_queue(queues: Queues) -> None:
    # given a batch in which the function fails one message every time
    queues.send("ok-1", "poison", "ok-2")
    function = Function(fails=lambda body: body == "poison")
    mapping = queues.mapping(function)

    # when the mapping settles
    handed = mapping.settle(timeout=60)

    # then its neighbours were handed over once and deleted, the poison maxReceiveCount times,
    # and SQS moved it to the redrive queue
    assert function.bodies().count("poison") == MAX_RECEIVES
    assert sorted(b for b in function.bodies() if b != "poison") == ["ok-1", "ok-2"]
    assert handed == 2 + MAX_RECEIVES
    assert queues.redriven() == ["poison"]
    assert sorted(mapping.received.values()) == ["ok-1", "ok-2", "poison"]


def test_a_function_error_sends_the_whole_batch_back(queues: Queues) -> None:
    # given a function that raises
    queues.send("a", "b")
    function = Function(raises=True)

    # when the mapping settles
    queues.mapping(function).settle(timeout=60)

    # then the batch was delivered maxReceiveCount times, then moved aside whole
    assert len(function.batches) == MAX_RECEIVES
    assert queues.redriven() == ["a", "b"]


def test_an_identifier_not_in_the_batch_fails_the_whole_batch(queues: Queues) -> None:
    # given a function whose partial batch response names a message it was not given
    queues.send("a", "b")

    def confused(name: str, event: dict[str, Any]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}

    # when the mapping settles, then, as on Lambda, nothing of the batch counts as done
    SqsEventSourceMapping(queues.sqs, queues.url, queues.arn, "Review", confused).settle(60)
    assert queues.redriven() == ["a", "b"]


def test_an_enabled_mapping_delivers_from_its_thread_until_disabled(queues: Queues) -> None:
    # given an enabled mapping
    function = Function()
    mapping = queues.mapping(function, idle_seconds=0.01)
    mapping.enable()
    try:
        # when messages arrive, then they are handed over without anyone asking
        queues.send("one", "two")
        deadline = time.monotonic() + 30
        while len(function.bodies()) < 2:
            assert time.monotonic() < deadline, "the mapping did not deliver"
            time.sleep(0.01)
        assert mapping.settle(timeout=30) == 2
    finally:
        mapping.disable()

    # and once disabled, its thread is gone and nothing more is delivered
    assert not [t for t in threading.enumerate() if t.name == "Review-mapping"]
    queues.send("late")
    time.sleep(0.1)
    assert not mapping.enabled
    assert sorted(function.bodies()) == ["one", "two"]
    (left,) = queues.sqs.receive_message(QueueUrl=queues.url)["Messages"]
    assert left["Body"] == "late"


def test_settle_waits_for_the_batch_in_hand(queues: Queues) -> None:
    # given an enabled mapping whose function is busy with a batch
    busy, release = threading.Event(), threading.Event()

    def slow(name: str, event: dict[str, Any]) -> dict[str, Any]:
        busy.set()
        release.wait(30)
        return {"batchItemFailures": []}

    mapping = SqsEventSourceMapping(queues.sqs, queues.url, queues.arn, "Review", slow)
    queues.send("m")
    mapping.enable()
    try:
        assert busy.wait(30)
        settled: list[int] = []
        waiter = threading.Thread(target=lambda: settled.append(mapping.settle(timeout=30)))
        waiter.start()

        # when the function has not returned yet, then settle has not either
        time.sleep(0.3)
        assert settled == []

        # and once it returns, settle does, with the queue empty
        release.set()
        waiter.join(timeout=30)
        assert settled == [1]
    finally:
        release.set()
        mapping.disable()
    assert queues.sqs.receive_message(QueueUrl=queues.url).get("Messages", []) == []


def test_settle_gives_up_after_its_timeout(queues: Queues) -> None:
    # given a message nobody can take: in flight elsewhere for 30 s
    queues.send("held")
    queues.sqs.receive_message(QueueUrl=queues.url)

    # when settling with a short timeout, then it says so instead of waiting for ever
    with pytest.raises(TimeoutError):
        queues.mapping(Function(), idle_seconds=0.01).settle(timeout=0.2)


def test_an_idle_mapping_backs_off_and_settle_wakes_it(queues: Queues) -> None:
    # given an enabled mapping over an empty queue, its receives counted
    receives: list[float] = []
    received = threading.Event()

    def count(**_: Any) -> None:
        receives.append(time.monotonic())
        received.set()

    queues.sqs.meta.events.register("before-call.sqs.ReceiveMessage", count)
    function = Function()
    mapping = queues.mapping(function, idle_seconds=0.05, max_idle_seconds=1.5)
    mapping.enable()
    try:
        # when it has been idle for 3 s
        time.sleep(3.0)

        # then it asked a few times, with growing pauses (at a fixed 50 ms: 60 times)
        assert 4 <= len(receives) <= 9
        pauses = [b - a for a, b in pairwise(receives)]
        assert pauses[-1] > 0.7

        # and a message sent just after a receive, at the start of a 1.5 s pause, is handed
        # over as soon as settle() looks for it, not when the pause ends
        received.clear()
        assert received.wait(5)
        queues.send("late")
        started = time.monotonic()
        assert mapping.settle(timeout=10) == 1
        assert time.monotonic() - started < 1.0
        assert function.bodies() == ["late"]
    finally:
        mapping.disable()
