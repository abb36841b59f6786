"""Unit tests for chalicelib.pipeline.deadletter: rejection groups, and DeadLetterQueue against
the stack's dead-letter queue alone in moto (tests/unit/conftest.py)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.contracts.deadletter import Reason
from chalicelib.orders.records import FieldError
from chalicelib.orders.validation import validate_order
from chalicelib.pipeline.deadletter import (
    MAX_MESSAGE_BYTES,
    DeadLetterQueue,
    DeadLetterUnavailable,
    Rejection,
    group_messages,
)
from tests.conftest import inject_faults, order
from tests.unit.conftest import MotoStack

BATCH = "orders-json-0123456789abcdef0123"
CHUNK = 7
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
        reason=Reason.INVALID,
        errors=(error,),
    )


def make_dlq(url: str, client: Any = None) -> tuple[DeadLetterQueue, SleepRecorder]:
    sleeps = SleepRecorder()
    dlq = DeadLetterQueue(client or aws.sqs(), url, sleep=sleeps)
    return dlq, sleeps


def send(dlq: DeadLetterQueue, rejections: list[Rejection]) -> int:
    return dlq.send(
        rejections,
        sender="demo",
        batch_id=BATCH,
        chunk=CHUNK,
        bucket=SOURCE["bucket"],
        key=SOURCE["key"],
    )


def messages_of(rejections: list[Rejection]) -> list[str]:
    return group_messages(rejections, sender="demo", batch_id=BATCH, chunk=CHUNK, **SOURCE)


def by_row(messages: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The entries of every message, by row: each row exactly once."""
    entries = [e for m in messages for e in m["rejections"]]
    rows = Counter(e["row"] for e in entries)
    assert all(n == 1 for n in rows.values()), f"duplicated rows: {rows}"
    return {e["row"]: e for e in entries}


# --- one group per chunk -----------------------------------------------------------------------


def test_25_rejections_of_a_chunk_go_out_as_one_message_with_complete_entries(
    moto_stack: MotoStack, dlq_url: str
):
    # given 25 rejected orders of one chunk and a counted DLQ client
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: None)
    dlq, _ = make_dlq(dlq_url, client)
    rejections = [rejection(row) for row in range(1, 26)]

    # when they are sent
    sent = send(dlq, rejections)

    # then one call carries one message, the chunk's rejection group, with every entry whole
    assert sent == 25
    assert len(calls) == 1
    [message] = moto_stack.drain(dlq_url)
    assert message["message_id"] == f"{BATCH}:{CHUNK}"
    assert message["batch_id"] == BATCH
    assert message["chunk"] == CHUNK
    assert message["group"] == "000007"
    assert message["source"] == SOURCE
    assert "part" not in message
    assert "parts" not in message
    entries = by_row([message])
    assert list(entries) == list(range(1, 26))  # in row order
    for row, entry in entries.items():
        assert entry == {
            "row": row,
            "order_id": f"O-{row}",
            "reason": "invalid",
            "errors": [
                {
                    "field": "order-info.qty",
                    "code": "qty.not_positive_integer",
                    "message": "qty must be ...",
                    "value": "zero",
                }
            ],
            "order": order(f"O-{row}", qty="zero"),
        }


def test_a_group_larger_than_a_message_is_split_into_numbered_parts(
    moto_stack: MotoStack, dlq_url: str
):
    # given five rejections of about 100 KiB each (the group is about 500 KiB)
    client = aws.sqs()
    bytes_per_call: list[list[int]] = []

    def spy(**kwargs: Any) -> Any:
        bytes_per_call.append([len(e["MessageBody"].encode()) for e in kwargs["Entries"]])
        return client.send_message_batch(**kwargs)

    dlq, _ = make_dlq(dlq_url, _Proxy(client, send_message_batch=spy))
    rejections = [rejection(row, blob="x" * 100 * 1024) for row in range(1, 6)]

    # when they are sent
    sent = send(dlq, rejections)

    # then they travel in three parts of two, two and one orders, each under 256 KiB, each
    # call under 256 KiB; the parts are numbered in row order and carry whole orders
    assert sent == 5
    assert all(sum(sizes) <= MAX_MESSAGE_BYTES for sizes in bytes_per_call)
    assert sorted(size for sizes in bytes_per_call for size in sizes)[-1] <= MAX_MESSAGE_BYTES
    messages = sorted(moto_stack.drain(dlq_url), key=lambda m: m["part"])
    assert [m["message_id"] for m in messages] == [f"{BATCH}:{CHUNK}:{n}" for n in (1, 2, 3)]
    assert [m["group"] for m in messages] == ["000007-001", "000007-002", "000007-003"]
    assert [[e["row"] for e in m["rejections"]] for m in messages] == [[1, 2], [3, 4], [5]]
    assert {m["parts"] for m in messages} == {3}
    entries = by_row(messages)
    assert all(e["order"]["blob"] == "x" * 100 * 1024 for e in entries.values())


def test_the_same_rejections_always_make_the_same_messages():
    # a resent group (the chunk run again) must be recognised by its message ids
    rejections = [rejection(row, blob="y" * 60 * 1024) for row in range(1, 9)]

    first, again = messages_of(rejections), messages_of(list(rejections))

    assert first == again
    assert len(first) > 1
    assert len({json.loads(m)["message_id"] for m in first}) == len(first)


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


def test_a_call_that_fails_entirely_with_a_transient_code_is_retried_without_loss(
    moto_stack: MotoStack, dlq_url: str
):
    # given a DLQ whose first batch call fails as a whole
    client = aws.sqs()
    calls = inject_faults(
        client, "SendMessageBatch", lambda n: "ServiceUnavailable" if n == 1 else None
    )
    dlq, sleeps = make_dlq(dlq_url, client)

    # when 15 rejections are sent
    sent = send(dlq, [rejection(row) for row in range(1, 16)])

    # then the failed call is repeated once and the group arrives exactly once
    assert sent == 15
    assert len(calls) == 2  # failed + retried
    assert len(sleeps.delays) == 1
    messages = moto_stack.drain(dlq_url)
    assert len(messages) == 1
    assert sorted(by_row(messages)) == list(range(1, 16))


def test_entries_that_fail_inside_a_successful_call_are_resent_alone(
    moto_stack: MotoStack, dlq_url: str
):
    # given a DLQ whose first call succeeds but refuses its entry (a part of a split group:
    # adjacent parts never fit one call together, so each part is a call of its own)
    client = aws.sqs()
    entries_per_call: list[list[str]] = []

    def partly(**kwargs: Any) -> Any:
        entries = kwargs["Entries"]
        entries_per_call.append([json.loads(e["MessageBody"])["message_id"] for e in entries])
        if len(entries_per_call) > 1:
            return client.send_message_batch(**kwargs)
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for e in entries
        ]
        return {"Successful": [], "Failed": failed}

    dlq, sleeps = make_dlq(dlq_url, _Proxy(client, send_message_batch=partly))

    # when a group of two parts is sent
    sent = send(dlq, [rejection(row, blob="z" * 200 * 1024) for row in (1, 2)])

    # then the refused part is sent again alone, then the next, and nothing is duplicated
    assert sent == 2
    first, second = f"{BATCH}:{CHUNK}:1", f"{BATCH}:{CHUNK}:2"
    assert entries_per_call == [[first], [first], [second]]
    assert len(sleeps.delays) == 1
    messages = moto_stack.drain(dlq_url)
    assert len(messages) == 2
    assert sorted(by_row(messages)) == [1, 2]


def test_a_dlq_that_keeps_failing_raises_dead_letter_unavailable(
    moto_stack: MotoStack, dlq_url: str
):
    # given a DLQ that refuses every call
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: "ServiceUnavailable")
    dlq, sleeps = make_dlq(dlq_url, client)

    # when rejections are sent, then the chunk is told to retry as a whole
    with pytest.raises(DeadLetterUnavailable, match="ServiceUnavailable") as raised:
        send(dlq, [rejection(row) for row in range(1, 4)])

    # and it gave up after a bounded number of attempts, with growing pauses
    assert "1 message(s)" in str(raised.value)  # the chunk's one group
    assert len(calls) == 4  # the first send and three retries
    assert len(sleeps.delays) == len(calls) - 1
    assert sleeps.delays == sorted(sleeps.delays)
    assert moto_stack.drain(dlq_url) == []


def test_nothing_to_send_makes_no_call(moto_stack: MotoStack, dlq_url: str):
    # given a counted client
    client = aws.sqs()
    calls = inject_faults(client, "SendMessageBatch", lambda _n: None)
    dlq, _ = make_dlq(dlq_url, client)

    # when no rejection is sent
    sent = send(dlq, [])

    # then no call is made
    assert sent == 0
    assert calls == []


# --- oversized orders -------------------------------------------------------------------------


def test_an_order_too_large_for_one_message_is_truncated_and_still_sent(
    moto_stack: MotoStack, dlq_url: str
):
    # given an order of 300 KB (larger than one SQS message)
    big = rejection(1, blob="é" * 150_000)
    dlq, _ = make_dlq(dlq_url)

    # when its group is built and sent beside a small one
    small = rejection(2)
    [body] = messages_of([big, small])
    sent = send(dlq, [big, small])

    # then the body fits a message; the big entry is marked truncated and keeps everything but
    # the full order; its neighbour is whole
    assert len(body.encode()) <= MAX_MESSAGE_BYTES
    assert sent == 2
    [message] = moto_stack.drain(dlq_url)
    assert message["message_id"] == f"{BATCH}:{CHUNK}"
    assert message["source"] == SOURCE
    entries = by_row([message])
    entry = entries[1]
    assert entry["order_truncated"] is True
    assert isinstance(entry["order"], str)
    assert entry["order"].startswith('{"order-info"')
    assert len(entry["order"]) < len(json.dumps(big.order))
    assert entry["order_id"] == "O-1"
    assert entry["errors"][0]["code"] == "qty.not_positive_integer"
    assert entries[2]["order"] == small.order
    assert "order_truncated" not in entries[2]


def test_an_oversized_invalid_order_whose_error_repeats_it_still_fits_one_message():
    # given a record that is one huge string: validation reports it with the string as value
    raw = "x" * 300_000
    errors = validate_order(raw)
    assert isinstance(errors, list)
    big = Rejection(row=1, order=raw, order_id=None, reason=Reason.INVALID, errors=tuple(errors))

    # when its group is built
    [body] = messages_of([big])

    # then it fits one SQS message
    assert len(body.encode()) <= MAX_MESSAGE_BYTES


def test_an_order_with_a_lone_surrogate_can_be_dead_lettered():
    # given a rejected order holding "\ud800" (valid JSON: json.loads('"\\ud800"'))
    bad = rejection(1, note=json.loads('"\\ud800"'))

    # when its group is built
    [body] = messages_of([bad])

    # then it is a body SQS can carry
    assert body.isascii()
    assert json.loads(body)["rejections"][0]["row"] == 1
