"""A batch's cost receipt: the requests the pipeline meters (chalicelib.metering), checked
against an independent count of the calls its functions made (this test's own botocore
`before-call` hook, as the bench counts), and the state transitions it counts from the
definition (pipeline.transitions), checked against the states the execution entered (the
execution's history, as the emulator's Step Functions recorded it), on every path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws, costs
from orderflow_cli.emulator.lambdas import current_function
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import inject_faults, order, run, write_orders
from tests.driver import completion_events

pytestmark = pytest.mark.usefixtures("quick_waits")  # every retry waits a hundredth (conftest)

TOP_LEVEL = {"PrepareFile", "IsReadable", "ProcessChunks", "RecordBatch", "DidBatchFail",
             "BatchRecorded", "BatchFailed", "RecordBatchAfterRetries"}  # fmt: skip

PIPELINE = {"PrepareFile", "ValidateOrder", "RecordBatch"}


class PipelineCalls:
    """Every AWS call the pipeline's functions make, by `service.Operation` (failed ones too:
    registered before any fault is injected, it sees each call first)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, params: Any = None, **_: Any) -> None:
        if current_function.get() in PIPELINE or _report_upload(params):
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def watch(self, *clients: Any) -> PipelineCalls:
        for client in clients:
            service = client.meta.service_model.service_name
            for operation in client.meta.service_model.operation_names:
                client.meta.events.register(f"before-call.{service}.{operation}", self)
        return self


def _report_upload(params: Any) -> bool:
    """RecordBatch's rejection report, uploaded by s3transfer's own threads (which do not
    carry the function's context)."""
    path = str((params or {}).get("url_path", "")) if isinstance(params, dict) else ""
    return "/rejections." in path


def test_the_receipt_counts_what_the_batch_asked_of_each_service(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    calls = PipelineCalls().watch(aws.s3(), aws.dynamodb(), aws.order_writes(), aws.sqs())
    throttled = {1, 3}  # two writes throttled once each: two retries
    inject_faults(
        aws.order_writes(), "PutItem", lambda n: "ThrottlingException" if n in throttled else None
    )
    orders = [order(f"o{i}") for i in range(7)] + [order("bad", qty="zero")]
    path = write_orders(tmp_path / "receipt.json", orders)

    (batch,) = run(local, path)

    assert batch["status"] == "succeeded"
    assert (batch["stored"], batch["rejected"], batch["chunks"]) == (7, 1, 3)
    receipt = batch["receipt"]
    requests = receipt["requests"]
    seen = calls.calls
    # DynamoDB: one unit per order stored, one per retry, one per batch record update (its
    # start, what the file was read as, its counts, each chunk's progress, its end); reads: the
    # sender, the record's start.
    record_updates = 3 + batch["chunks"] + 1
    assert requests["dynamodb_write_units"] == 7 + len(throttled) + record_updates
    assert (
        requests["dynamodb_write_units"] == seen["dynamodb.PutItem"] + seen["dynamodb.UpdateItem"]
    )
    assert requests["dynamodb_read_units"] == seen["dynamodb.GetItem"] == 2
    # S3 and SQS, as the functions' own calls were seen (small objects and messages: one
    # request each)
    assert requests["s3_get"] == seen["s3.GetObject"] + seen["s3.HeadObject"]
    assert requests["s3_put"] == seen["s3.PutObject"] + seen["s3.CopyObject"]
    assert requests["s3_list"] == seen["s3.ListObjectsV2"] + seen["s3.ListObjects"] == 0
    assert requests["sqs_requests"] == seen["sqs.SendMessageBatch"] == 1
    assert requests["lambda_invocations"] == 1 + batch["chunks"] + 1
    assert requests["sfn_express_requests"] == batch["chunks"]
    assert requests["eventbridge_events"] == 1
    assert requests["lambda_gb_seconds"] > 0
    # the cost is these requests at the one price table
    assert receipt["cost_usd"] == costs.Requests().add(requests).cost_usd()
    assert receipt["cost_usd"]["total"] == pytest.approx(
        sum(v for k, v in receipt["cost_usd"].items() if k != "total")
    )
    assert receipt["cost_usd"]["dynamodb"] == pytest.approx(
        requests["dynamodb_write_units"] * costs.DYNAMODB_PER_WRITE_UNIT
        + requests["dynamodb_read_units"] * costs.DYNAMODB_PER_READ_UNIT
    )
    assert receipt["prices"] == {
        "region": costs.REGION,
        "as_of": costs.PRICES_AS_OF,
        "on_demand": True,
    }
    # the same receipt travels in the completion event
    events = completion_events(local)
    (event,) = [e for e in events if e["detail"]["batch_id"] == batch["batch_id"]]
    assert event["detail"]["receipt"] == receipt


def test_a_quarantined_batch_has_a_receipt_of_its_own_path(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    calls = PipelineCalls().watch(aws.s3(), aws.dynamodb(), aws.order_writes(), aws.sqs())
    path = tmp_path / "broken.json"
    path.write_text('{"orders": [')

    (batch,) = run(local, path)

    assert batch["status"] == "quarantined"
    requests = batch["receipt"]["requests"]
    seen = calls.calls
    assert requests["s3_get"] == seen["s3.GetObject"] + seen["s3.HeadObject"]
    assert requests["s3_put"] == seen["s3.PutObject"] + seen["s3.CopyObject"] == 2
    # the record's start, what the file was read as, its end
    assert requests["dynamodb_write_units"] == seen["dynamodb.UpdateItem"] == 3
    assert requests["sqs_requests"] == 0
    assert requests["sfn_state_transitions"] == states_entered(local, batch["batch_id"]) == 5
    assert requests["lambda_invocations"] == 2


def states_entered(local: EmbeddedAWS, batch_id: str) -> int:
    """The top-level states the batch's execution entered, from its history."""
    history = local.sfn.get_execution_history(
        executionArn=local.execution_arn(batch_id), maxResults=1000
    )["events"]
    return len(
        [
            e
            for e in history
            if e["type"].endswith("StateEntered")
            and e["stateEnteredEventDetails"]["name"] in TOP_LEVEL
        ]
    )


def test_the_receipt_adds_the_standard_transitions_it_saw_in_the_history(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    (batch,) = run(local, write_orders(tmp_path / "t.json", [order("a"), order("b")]))

    assert batch["receipt"]["requests"]["sfn_state_transitions"] == states_entered(
        local, batch["batch_id"]
    )


def test_the_transitions_of_a_failed_prepare_file_are_the_historys(
    local: EmbeddedAWS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chalicelib.pipeline.prepare as prepare

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("reader exploded")

    monkeypatch.setattr(prepare, "read_records", crash)

    (batch,) = run(local, write_orders(tmp_path / "c.json", [order("c-1")]))

    assert batch["error"]["code"] == "pipeline.prepare_failed"
    transitions = batch["receipt"]["requests"]["sfn_state_transitions"]
    assert transitions == states_entered(local, batch["batch_id"]) == 4


def test_the_transitions_of_record_batch_after_its_retries_are_the_historys(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # the DLQ refuses every send: RecordBatch's retries are spent, RecordBatchAfterRetries
    # records the batch failed
    inject_faults(aws.sqs(), "SendMessageBatch", lambda n: "ServiceUnavailable")

    (batch,) = run(local, write_orders(tmp_path / "d.json", [order("ok"), order("b", qty="x")]))

    assert batch["error"]["code"] == "pipeline.chunks_unprocessed"
    transitions = batch["receipt"]["requests"]["sfn_state_transitions"]
    assert transitions == states_entered(local, batch["batch_id"]) == 7
