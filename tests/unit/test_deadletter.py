"""Unit tests for chalicelib.pipeline.deadletter: DeadLetterQueue against a moto queue."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.orders.records import FieldError
from chalicelib.orders.validation import validate_order
from chalicelib.pipeline.deadletter import (
    MAX_MESSAGE_BYTES,
    DeadLetterQueue,
    DeadLetterUnavailable,
    Rejection,
    message_body,
)
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import inject_faults, order

BATCH = "orders-json-0123456789abcdef0123"
SOURCE = {"bucket": "orderflow-local-orders", "key": "incoming/orders.json"}


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def rejection(row: int, **extra: Any) -> Rejection:
    error = FieldError("order-info.qty", "qty.not_positive_integer", "qty must be ...", "zero")
    return Rejection(
        row=row,
        order=order(f"O-{row}", qty="zero", **extra),
        order_id=f"O-{row}",
        reason="invalid",
        errors=(error,),
    )


def make_dlq(local: EmbeddedAWS, client: Any = None) -> tuple[DeadLetterQueue, SleepRecorder]:
    sleeps = SleepRecorder()
    dlq = DeadLetterQueue(client or aws.sqs(), local.settings.dlq_url, sleep=sleeps)
    return dlq, sleeps


def send(dlq: DeadLetterQueue, rejections: list[Rejection]) -> int:
    return dlq.send(rejections, batch_id=BATCH, bucket=SOURCE["bucket"], key=SOURCE["key"])


def by_row(bodies: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    rows = Counter(b["row"] for b in bodies)
    assert all(n == 1 for n in rows.values()), f"duplicated rows: {rows}"
    return {b["row"]: b for b in bodies}


# --- batching ---------------------------------------------------------------------------------


def test_25_rejections_go_out_in_3_batch_calls_with_complete_bodies(local):
    # given 25 rejected orders and a counted DLQ client
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: None)
    dlq, _ = make_dlq(local, client)
    rejections = [rejection(row) for row in range(1, 26)]

    # when they are sent
    sent = send(dlq, rejections)

    # then three calls (10 + 10 + 5) carry 25 messages, each with everything a consumer needs
    assert sent == 25
    assert len(calls) == 3
    messages = by_row(local.drain_dlq())
    assert sorted(messages) == list(range(1, 26))
    for row, body in messages.items():
        assert body["message_id"] == f"{BATCH}:{row}"
        assert body["reason"] == "invalid"
        assert body["errors"] == [
            {
                "field": "order-info.qty",
                "code": "qty.not_positive_integer",
                "message": "qty must be ...",
                "value": "zero",
            }
        ]
        assert body["order"] == order(f"O-{row}", qty="zero")
        assert body["order_id"] == f"O-{row}"
        assert body["source"] == SOURCE
        assert body["batch_id"] == BATCH
        assert "order_truncated" not in body


def test_batches_are_also_bounded_by_bytes(local):
    # given five rejections of about 100 KiB each, and a client that records every call
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: None)
    bytes_per_call: list[list[int]] = []

    def spy(**kwargs: Any) -> Any:
        bytes_per_call.append([len(e["MessageBody"].encode()) for e in kwargs["Entries"]])
        return client.send_message_batch(**kwargs)

    dlq, _ = make_dlq(local, _Proxy(client, send_message_batch=spy))
    rejections = [rejection(row, blob="x" * 100 * 1024) for row in range(1, 6)]
    bodies = [message_body(r, batch_id=BATCH, **SOURCE) for r in rejections]
    assert all(100 * 1024 < len(b.encode()) < MAX_MESSAGE_BYTES // 2 for b in bodies)

    # when they are sent
    sent = send(dlq, rejections)

    # then no call carries more than two of them (three would exceed 256 KiB)
    assert sent == 5
    assert len(calls) == 3
    assert [len(sizes) for sizes in bytes_per_call] == [2, 2, 1]
    assert all(sum(sizes) <= MAX_MESSAGE_BYTES for sizes in bytes_per_call)
    messages = by_row(local.drain_dlq())
    assert sorted(messages) == [1, 2, 3, 4, 5]
    assert all(m["order"]["blob"] == "x" * 100 * 1024 for m in messages.values())


def test_send_keeps_the_order_of_rows_across_batches(local):
    # given 12 rejections and a client that records the entries of each call
    client = aws.sqs()
    rows_per_call: list[list[int]] = []

    def spy(**kwargs: Any) -> Any:
        rows_per_call.append([json.loads(e["MessageBody"])["row"] for e in kwargs["Entries"]])
        return client.send_message_batch(**kwargs)

    dlq, _ = make_dlq(local, _Proxy(client, send_message_batch=spy))

    # when they are sent
    send(dlq, [rejection(row) for row in range(1, 13)])

    # then the first call holds rows 1..10 and the second rows 11..12
    assert rows_per_call == [list(range(1, 11)), [11, 12]]


class _Proxy:
    """Forwards to a real client, with some methods replaced."""

    def __init__(self, client: Any, **replaced: Any) -> None:
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        if name in self._replaced:
            return self._replaced[name]
        return getattr(self._client, name)


# --- failures ---------------------------------------------------------------------------------


def test_a_call_that_fails_entirely_with_a_transient_code_is_retried_without_loss(local):
    # given a DLQ whose first batch call fails as a whole
    client = aws.sqs()
    calls = inject_faults(
        client, "SendMessageBatch", lambda n: "ServiceUnavailable" if n == 1 else None
    )
    dlq, sleeps = make_dlq(local, client)

    # when 15 rejections are sent
    sent = send(dlq, [rejection(row) for row in range(1, 16)])

    # then the failed call is repeated once and every message arrives exactly once
    assert sent == 15
    assert len(calls) == 3  # failed + retried first batch, then the second batch
    assert len(sleeps.delays) == 1
    messages = by_row(local.drain_dlq())
    assert sorted(messages) == list(range(1, 16))


def test_entries_that_fail_inside_a_successful_call_are_resent_alone(local):
    # given a DLQ that, on the first call, accepts only the even entries
    client = aws.sqs()
    entries_per_call: list[int] = []

    def partly(**kwargs: Any) -> Any:
        entries = kwargs["Entries"]
        entries_per_call.append(len(entries))
        if len(entries_per_call) > 1:
            return client.send_message_batch(**kwargs)
        accepted = [e for e in entries if int(e["Id"]) % 2 == 0]
        response = client.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=accepted)
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for e in entries
            if int(e["Id"]) % 2 == 1
        ]
        return {**response, "Failed": failed}

    dlq, sleeps = make_dlq(local, _Proxy(client, send_message_batch=partly))

    # when six rejections are sent
    sent = send(dlq, [rejection(row) for row in range(1, 7)])

    # then only the three refused entries are sent again, and nothing is duplicated
    assert sent == 6
    assert entries_per_call == [6, 3]
    assert len(sleeps.delays) == 1
    messages = by_row(local.drain_dlq())
    assert sorted(messages) == [1, 2, 3, 4, 5, 6]


def test_a_dlq_that_keeps_failing_raises_dead_letter_unavailable(local):
    # given a DLQ that refuses every call
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: "ServiceUnavailable")
    dlq, sleeps = make_dlq(local, client)

    # when rejections are sent, then the chunk is told to retry as a whole
    with pytest.raises(DeadLetterUnavailable, match="ServiceUnavailable") as raised:
        send(dlq, [rejection(row) for row in range(1, 4)])

    # and it gave up after a bounded number of attempts, with growing pauses
    assert "3 message(s)" in str(raised.value)
    assert len(calls) == 4  # the first send and three retries
    assert len(sleeps.delays) == len(calls) - 1
    assert sleeps.delays == sorted(sleeps.delays)
    assert local.drain_dlq() == []


def test_nothing_to_send_makes_no_call(local):
    # given a counted client
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: None)
    dlq, _ = make_dlq(local, client)

    # when no rejection is sent
    sent = send(dlq, [])

    # then no call is made
    assert sent == 0
    assert calls == []


# --- oversized orders -------------------------------------------------------------------------


def test_an_order_too_large_for_one_message_is_truncated_and_still_sent(local):
    # given an order of 300 KB (larger than one SQS message)
    big = rejection(1, blob="é" * 150_000)
    dlq, _ = make_dlq(local)

    # when its message is built and sent
    body = message_body(big, batch_id=BATCH, **SOURCE)
    sent = send(dlq, [big])

    # then the body fits a message, is marked truncated and keeps everything but the full order
    assert len(body.encode()) <= MAX_MESSAGE_BYTES
    assert sent == 1
    [message] = local.drain_dlq()
    assert message["order_truncated"] is True
    assert isinstance(message["order"], str)
    assert message["order"].startswith('{"order-info"')
    assert len(message["order"]) < len(json.dumps(big.order))
    assert message["message_id"] == f"{BATCH}:1"
    assert message["order_id"] == "O-1"
    assert message["row"] == 1
    assert message["errors"][0]["code"] == "qty.not_positive_integer"
    assert message["source"] == SOURCE


def test_an_oversized_invalid_order_whose_error_repeats_it_still_fits_one_message():
    # given a record that is one huge string: validation reports it with the string as value
    raw = "x" * 300_000
    errors = validate_order(raw)
    assert isinstance(errors, list)
    big = Rejection(row=1, order=raw, order_id=None, reason="invalid", errors=tuple(errors))

    # when its message is built
    body = message_body(big, batch_id=BATCH, **SOURCE)

    # then it fits one SQS message
    assert len(body.encode()) <= MAX_MESSAGE_BYTES


def test_an_order_with_a_lone_surrogate_can_be_dead_lettered():
    # given a rejected order holding "\ud800" (valid JSON: json.loads('"\\ud800"'))
    bad = rejection(1, note=json.loads('"\\ud800"'))

    # when its message is built
    body = message_body(bad, batch_id=BATCH, **SOURCE)

    # then it is a body SQS can carry
    assert json.loads(body)["row"] == 1
