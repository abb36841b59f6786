"""Unit tests for chalicelib.pipeline.store: OrderStore against a moto orders table alone (created
from infra/stack.yaml by tests/unit/conftest.py), faults injected on its client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib import aws
from chalicelib.dynamo import item_size
from chalicelib.orders.validation import ValidOrder, validate_order
from chalicelib.pipeline.pacing import Pacer
from chalicelib.pipeline.store import (
    MAX_ITEM_BYTES,
    RETRYABLE_ERRORS,
    THROTTLING_ERRORS,
    OrderStore,
    RetryPolicy,
    StoreOutcome,
    order_key,
)
from tests.conftest import inject_faults, order

NO_RETRY_SLEEP = RetryPolicy(max_retries=3, base_seconds=0.001, max_seconds=0.002)


def valid(raw: Any) -> ValidOrder:
    result = validate_order(raw)
    assert isinstance(result, ValidOrder), result
    return result


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def paced_as(policy: RetryPolicy) -> Pacer:
    """The store's own pacer, its pauses held to the policy's (the default's reach 5 s: ten
    throttles in a row would wait a second in real time)."""
    return Pacer(1, base_seconds=policy.base_seconds, max_seconds=policy.max_seconds)


def make_store(table: str, policy: RetryPolicy = NO_RETRY_SLEEP) -> OrderStore:
    return OrderStore(aws.order_writes(), table, policy, sleep=SleepRecorder())


def stored(table: str, order_id: str) -> dict[str, Any] | None:
    response = aws.order_writes().get_item(TableName=table, Key=order_key("demo", order_id))
    return response.get("Item")


def item_count(table: str) -> int:
    return aws.order_writes().scan(TableName=table, Select="COUNT")["Count"]


# --- the conditional write --------------------------------------------------------------------


def test_a_new_order_id_is_stored_with_its_provenance(orders_table):
    # given an empty table and a valid order
    store = make_store(orders_table)
    checked = valid(order("A-1", qty="2"))

    # when it is put
    result = store.put(checked, sender="demo", batch_id="batch-1", row=7)

    # then it is stored once, with its content hash and where it came from
    assert result.outcome is StoreOutcome.STORED
    assert result.attempts == 1
    item = stored(orders_table, "A-1")
    assert item is not None
    assert item["content_hash"] == {"S": checked.content_hash}
    assert item["batch_id"] == {"S": "batch-1"}
    assert item["source_row"] == {"N": "7"}
    assert item["order-info"]["M"]["qty"] == {"N": "2"}
    assert item_count(orders_table) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("batch_id", "partner-batch-17"), ("source_row", "3"), ("sender", "shop-9"),
     ("content_hash", "abc"), ("OrderId", "another-id")],
)  # fmt: skip
def test_an_order_field_our_attribute_would_overwrite_is_refused_not_lost(
    orders_table, field, value
):
    # given an order whose own top-level field has the name of one of the item's attributes
    checked = valid(order("R-1", **{field: value}))

    # when it is put (and checked, as a dry run would)
    store = make_store(orders_table)
    result = store.put(checked, sender="demo", batch_id="batch-1", row=3)
    dry = store.check(checked, sender="demo", batch_id="batch-1", row=3)

    # then nothing is written, and the reason names the field
    assert (result.outcome, dry.outcome) == (StoreOutcome.RESERVED, StoreOutcome.RESERVED)
    assert f"field {field!r} would be overwritten" in result.detail
    assert stored(orders_table, "R-1") is None


def test_an_order_field_holding_what_our_attribute_holds_is_stored(orders_table):
    # an order that repeats its OrderId at the top level, and names its own sender
    checked = valid(order("R-2", OrderId="R-2", sender="demo"))

    result = make_store(orders_table).put(checked, sender="demo", batch_id="batch-1", row=1)

    assert result.outcome is StoreOutcome.STORED
    item = stored(orders_table, "R-2")
    assert item is not None
    assert (item["OrderId"], item["sender"]) == ({"S": "R-2"}, {"S": "demo"})


def test_the_same_content_again_is_unchanged_and_leaves_the_first_item_untouched(orders_table):
    # given an order already stored by a first batch
    store = make_store(orders_table)
    first = valid(order("A-1"))
    assert store.put(first, sender="demo", batch_id="batch-1", row=1).outcome is StoreOutcome.STORED
    before = stored(orders_table, "A-1")

    # when the same content arrives from another batch, at another row
    again = valid(order(" A-1 "))  # trimmed: the same normalised content
    result = store.put(again, sender="demo", batch_id="batch-2", row=99)

    # then nothing is written: the item still names the first batch and row
    assert result.outcome is StoreOutcome.UNCHANGED
    assert result.detail == ""
    after = stored(orders_table, "A-1")
    assert after == before
    assert after is not None
    assert after["batch_id"] == {"S": "batch-1"}
    assert after["source_row"] == {"N": "1"}
    assert item_count(orders_table) == 1


def test_other_content_for_a_stored_order_id_is_a_conflict_naming_the_first_batch(orders_table):
    # given an order stored by a first batch
    store = make_store(orders_table)
    store.put(valid(order("A-1", qty="1")), sender="demo", batch_id="batch-1", row=1)

    # when the same OrderId arrives with another quantity
    result = store.put(valid(order("A-1", qty="5")), sender="demo", batch_id="batch-2", row=3)

    # then it is a conflict that names the OrderId and the first batch, and nothing changed
    assert result.outcome is StoreOutcome.CONFLICT
    assert "'A-1'" in result.detail
    assert "batch-1" in result.detail
    assert "batch-2" not in result.detail
    item = stored(orders_table, "A-1")
    assert item is not None
    assert item["order-info"]["M"]["qty"] == {"N": "1"}
    assert item["batch_id"] == {"S": "batch-1"}


def test_an_extra_field_holding_a_float_is_stored_as_a_number(orders_table):
    # given a valid order carrying floats in extra fields (as JSON parsers give them)
    store = make_store(orders_table)
    checked = valid(order("F-1", weight=1.5, dims={"w": 0.1, "sizes": [2.25, 3]}))

    # when it is put
    result = store.put(checked, sender="demo", batch_id="batch-1", row=1)

    # then it is stored, with the numbers exactly as sent
    assert result.outcome is StoreOutcome.STORED, result.detail
    item = stored(orders_table, "F-1")
    assert item is not None
    assert item["weight"] == {"N": "1.5"}
    dims = item["dims"]["M"]
    assert Decimal(dims["w"]["N"]) == Decimal("0.1")
    assert [Decimal(v["N"]) for v in dims["sizes"]["L"]] == [Decimal("2.25"), 3]


def test_a_float_order_is_unchanged_when_sent_again(orders_table):
    # given an order with a float stored once
    store = make_store(orders_table)
    store.put(valid(order("F-1", weight=1.5)), sender="demo", batch_id="batch-1", row=1)

    # when it is sent again
    result = store.put(valid(order("F-1", weight=1.5)), sender="demo", batch_id="batch-2", row=1)

    # then the content hash still matches: a no-op
    assert result.outcome is StoreOutcome.UNCHANGED


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(RETRYABLE_ERRORS))
def test_a_retryable_error_is_retried_its_budget_then_store_failed(orders_table, code):
    # given a table that answers every write with a retryable error
    client = aws.order_writes()
    calls = inject_faults(client, "PutItem", lambda _n: code)
    sleeps = SleepRecorder()
    policy = RetryPolicy(max_retries=3, base_seconds=0.001, max_seconds=0.004)
    store = OrderStore(client, orders_table, policy, sleep=sleeps, pacer=paced_as(policy))

    # when an order is put
    result = store.put(valid(order("R-1")), sender="demo", batch_id="batch-1", row=1)

    # then it is tried once plus its budget (a throttle's, or a failure's), sleeping between
    # tries, and fails
    budget = policy.max_throttle_retries if code in THROTTLING_ERRORS else policy.max_retries
    assert policy.max_throttle_retries > policy.max_retries
    assert result.outcome is StoreOutcome.STORE_FAILED
    assert result.attempts == budget + 1
    assert len(calls) == budget + 1
    assert len(sleeps.delays) == budget
    assert code in result.detail
    assert item_count(orders_table) == 0


def test_a_retryable_error_that_clears_up_ends_stored(orders_table):
    # given a table that throttles the first two writes only
    client = aws.order_writes()
    calls = inject_faults(client, "PutItem", lambda n: "ThrottlingException" if n <= 2 else None)
    store = OrderStore(client, orders_table, NO_RETRY_SLEEP, sleep=SleepRecorder())

    # when an order is put
    result = store.put(valid(order("R-2")), sender="demo", batch_id="batch-1", row=1)

    # then the third attempt stores it
    assert result.outcome is StoreOutcome.STORED
    assert result.attempts == 3
    assert len(calls) == 3
    assert stored(orders_table, "R-2") is not None


def test_a_non_retryable_error_fails_after_one_attempt(orders_table):
    # given a table that refuses the write as invalid
    client = aws.order_writes()
    calls = inject_faults(client, "PutItem", lambda _n: "ValidationException")
    sleeps = SleepRecorder()
    store = OrderStore(client, orders_table, NO_RETRY_SLEEP, sleep=sleeps)

    # when an order is put
    result = store.put(valid(order("V-1")), sender="demo", batch_id="batch-1", row=1)

    # then it fails at once, with the error as its reason
    assert result.outcome is StoreOutcome.STORE_FAILED
    assert result.attempts == 1
    assert calls == [1]
    assert sleeps.delays == []
    assert result.detail.startswith("ValidationException")


def test_a_connection_error_is_retried_then_store_failed(orders_table):
    # given a client whose every PutItem cannot reach the endpoint
    client = aws.order_writes()
    calls: list[int] = []

    def unreachable(**_: Any) -> None:
        calls.append(1)
        raise EndpointConnectionError(endpoint_url="https://dynamodb.invalid")

    client.meta.events.register("before-call.dynamodb.PutItem", unreachable)
    store = OrderStore(client, orders_table, NO_RETRY_SLEEP, sleep=SleepRecorder())

    # when an order is put
    result = store.put(valid(order("C-1")), sender="demo", batch_id="batch-1", row=1)

    # then it is retried like a throttle and ends store_failed with the error text
    assert result.outcome is StoreOutcome.STORE_FAILED
    assert result.attempts == NO_RETRY_SLEEP.max_retries + 1
    assert len(calls) == NO_RETRY_SLEEP.max_retries + 1
    assert "dynamodb.invalid" in result.detail


def test_sleeps_between_retries_follow_full_jitter(orders_table):
    # given a table that always throttles and a policy whose cap is reached after two retries
    client = aws.order_writes()
    inject_faults(client, "PutItem", lambda _n: "ProvisionedThroughputExceededException")
    sleeps = SleepRecorder()
    policy = RetryPolicy(max_retries=3, max_throttle_retries=6, base_seconds=0.01, max_seconds=0.04)
    store = OrderStore(client, orders_table, policy, sleep=sleeps, pacer=paced_as(policy))

    # when an order is put
    store.put(valid(order("J-1")), sender="demo", batch_id="batch-1", row=1)

    # then sleep k (k = 0, 1, ...) is drawn from [0, min(max, base * 2**k))
    assert len(sleeps.delays) == policy.max_throttle_retries
    for retry, delay in enumerate(sleeps.delays):
        bound = min(policy.max_seconds, policy.base_seconds * 2**retry)
        assert 0 <= delay < bound, (retry, delay, bound)
    assert len(set(sleeps.delays)) > 1  # jittered, not a fixed schedule


def test_retry_delay_grows_exponentially_and_caps_at_max_seconds():
    # given a policy and a random source at the top of its range
    policy = RetryPolicy(max_retries=10, base_seconds=0.05, max_seconds=2.0)

    # when the delays of successive retries are computed
    delays = [policy.delay(retry, rand=lambda: 0.999) for retry in range(10)]

    # then they double until the cap, and stay at the cap after it
    assert delays[:6] == pytest.approx([0.999 * 0.05 * 2**k for k in range(6)])
    assert delays[5] == pytest.approx(0.999 * 1.6)
    assert delays[6:] == pytest.approx([0.999 * 2.0] * 4)
    assert all(d < policy.max_seconds for d in delays)


def test_retry_delay_may_be_zero_full_jitter_has_no_floor():
    # given any retry and a random source at the bottom of its range
    policy = RetryPolicy()

    # then the delay is zero (full jitter, not "equal jitter" with a floor)
    assert [policy.delay(retry, rand=lambda: 0.0) for retry in range(5)] == [0.0] * 5


# --- values DynamoDB refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [float("inf"), 1e-200, 10**40, "\ud800"],
    ids=["infinity", "number-underflow", "too-many-digits", "lone-surrogate"],
)
def test_a_value_dynamodb_cannot_hold_is_unstorable_not_an_exception(orders_table, value):
    # given an order with an extra field DynamoDB cannot hold. The readers refuse infinity and
    # lone surrogates before this (order.number_out_of_range, order.invalid_text), and so does
    # validation for the latter; the store still refuses them for any other caller.
    store = make_store(orders_table)
    raw = order("N-1", weight=value)
    checked = ValidOrder("N-1", raw, "0" * 32) if isinstance(value, str) else valid(raw)

    # when it is put
    result = store.put(checked, sender="demo", batch_id="batch-1", row=1)

    # then that one order is refused as unstorable (retrying could not help), and no exception
    # reaches the chunk's other orders
    assert result.outcome is StoreOutcome.UNSTORABLE
    assert result.detail


# --- items larger than DynamoDB's limit -------------------------------------------------------


def test_item_size_counts_as_dynamodb_documents_it():
    # names and strings in UTF-8 bytes; numbers 1 byte per two significant digits + 1 (+1 sign)
    assert item_size({"a": {"S": "é"}}) == 1 + 2
    assert item_size({"n": {"N": "12345"}}) == 1 + (3 + 2)
    assert item_size({"n": {"N": "-0.00100"}}) == 1 + (1 + 2)  # zeros around are trimmed
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == (1 + 1) + (1 + 1)
    # a map or list: 3 bytes, plus 1 byte and the size of each element (and a map key's name)
    assert item_size({"m": {"M": {"ké": {"S": "v"}}}}) == 1 + 3 + (1 + 3 + 1)
    assert item_size({"l": {"L": [{"S": "ab"}, {"L": []}]}}) == 1 + 3 + (1 + 2) + (1 + 3)
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3


def big_order(order_id: str, size: int) -> ValidOrder:
    """A valid order whose item, put by batch-1 at row 1, is `size` bytes as item_size counts."""
    checked = valid(order(order_id, note=""))
    store = OrderStore(aws.order_writes(), "t", NO_RETRY_SLEEP)
    item = store.item_for(checked, sender="demo", batch_id="batch-1", row=1)
    base = item_size({k: store._serialize(v) for k, v in item.items()})
    return valid(order(order_id, note="x" * (size - base)))


def test_an_order_larger_than_dynamodb_allows_is_too_large_and_never_sent(orders_table):
    # given a valid order whose item would be one byte over DynamoDB's limit
    client = aws.order_writes()
    calls = inject_faults(client, "PutItem", lambda _n: None)  # counts the calls, lets them by
    sleeps = SleepRecorder()
    store = OrderStore(client, orders_table, NO_RETRY_SLEEP, sleep=sleeps)
    checked = big_order("L-1", MAX_ITEM_BYTES + 1)

    # when it is put
    result = store.put(checked, sender="demo", batch_id="batch-1", row=1)

    # then it is refused before any write, not retried, with its size and the limit
    assert result.outcome is StoreOutcome.TOO_LARGE
    assert calls == []
    assert sleeps.delays == []
    assert f"{MAX_ITEM_BYTES + 1:,} bytes" in result.detail
    assert "400 KB" in result.detail
    assert item_count(orders_table) == 0


def test_an_order_just_under_the_limit_is_stored(orders_table):
    # given a valid order of about 395 KB (DynamoDB's and moto's limits are a little above)
    store = make_store(orders_table)

    # when it is put
    result = store.put(big_order("L-2", 395 * 1024), sender="demo", batch_id="batch-1", row=1)

    # then it is stored: the size check refuses nothing DynamoDB would take
    assert result.outcome is StoreOutcome.STORED, result.detail
    assert stored(orders_table, "L-2") is not None


def test_dynamodbs_own_item_size_refusal_is_too_large_and_not_retried(orders_table):
    # given a table that refuses the write as DynamoDB does an item over 400 KB (a size the
    # estimate did not foresee)
    client = aws.order_writes()
    calls: list[int] = []

    def refuse(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        calls.append(1)
        message = "Item size has exceeded the maximum allowed size"
        parsed = {
            "Error": {"Code": "ValidationException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://injected", 400, HTTPHeaders(), None), parsed

    client.meta.events.register("before-call.dynamodb.PutItem", refuse)
    sleeps = SleepRecorder()
    store = OrderStore(client, orders_table, NO_RETRY_SLEEP, sleep=sleeps)

    # when an order is put
    result = store.put(valid(order("L-3")), sender="demo", batch_id="batch-1", row=1)

    # then it is too large after one attempt, like the size check's refusal
    assert result.outcome is StoreOutcome.TOO_LARGE
    assert result.attempts == 1
    assert calls == [1]
    assert sleeps.delays == []
    assert "400 KB" in result.detail


def test_a_pending_record_made_after_the_execution_started_keeps_status_and_adds_callback(
    batches_table,
):
    from chalicelib.pipeline.batches import BatchRecords

    batches = BatchRecords(aws.dynamodb(), batches_table)
    # the S3 event overtook the API: the execution already marked the batch running
    batches.start("demo", "api-race", bucket="b", key="incoming/api/api-race.json", version="v1")

    batches.create_pending("demo", "api-race", bucket="b", key="incoming/demo/api/api-race.json",
        via="POST /orders", callback_url="http://127.0.0.1:9/hook",
    )  # fmt: skip

    record = batches.get("demo", "api-race")
    assert record is not None
    assert record["status"] == "running"
    assert record["callback"]["url"] == "http://127.0.0.1:9/hook"
    assert record["via"] == "POST /orders"
    batches.create_pending("demo", "api-new", bucket="b", key="k", via="POST /uploads")
    assert (batches.get("demo", "api-new") or {})["status"] == "pending"
