"""`orders batches redrive`: a failed batch runs again and ends as it should have; a batch
that is not failed is refused; on a stage it is RedriveExecution of the batch's execution."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.pipeline.trigger import execution_arn
from orderflow_cli.batches import RedriveRefused, redrive_batch
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.stack import Stack
from orderflow_cli.stage import stage_environment
from tests.conftest import inject_faults, order, run, stored_items, write_orders

pytestmark = pytest.mark.usefixtures("quick_waits")  # every retry waits a hundredth (conftest)


def _stack(local: EmbeddedAWS, *, sfn: Any = None, emulated: bool = True) -> Stack:
    names = stage_environment(local.stage)
    return Stack(local.s3, local.dynamodb, local.sqs, names, sfn or local.sfn, emulated)


def _finished(local: EmbeddedAWS, arn: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = local.sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not finish")


def _failed_batch(local: EmbeddedAWS, tmp_path: Path) -> tuple[dict[str, Any], dict[str, bool]]:
    """A batch whose second chunk could not be processed (the DLQ refused everything); the
    returned switch turns the DLQ's refusal off."""
    refusing = {"on": True}
    inject_faults(
        aws.sqs(), "SendMessageBatch", lambda n: "ServiceUnavailable" if refusing["on"] else None
    )
    orders = [order("ok-1"), order("ok-2"), order("ok-3"), order("ok-4"), order("bad", qty="x")]
    (batch,) = run(local, write_orders(tmp_path / "d.json", orders))
    assert (batch["status"], batch["unprocessed"]) == ("failed", 2)
    return batch, refusing


def test_a_failed_batch_runs_again_on_the_emulator_and_ends_recorded(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    batch, refusing = _failed_batch(local, tmp_path)
    refusing["on"] = False  # the DLQ is back

    result = redrive_batch(_stack(local), sender="demo", batch_id=batch["batch_id"])

    assert result["execution_arn"].endswith(f":{batch['batch_id']}-redrive-1")
    assert result["failed_execution_arn"] == local.execution_arn(batch["batch_id"])
    assert _finished(local, result["execution_arn"]) == "SUCCEEDED"
    record = local.batches().get("demo", batch["batch_id"])
    assert record is not None
    assert record["status"] == "succeeded"
    assert (record["total"], record["stored"], record["rejected"], record["unprocessed"]) == (
        5,
        4,
        1,
        0,
    )
    assert set(stored_items(local)) == {"ok-1", "ok-2", "ok-3", "ok-4"}
    (message,) = local.drain_dlq()
    assert [r["order_id"] for r in message["rejections"]] == ["bad"]


def test_a_second_redrive_gets_the_next_name(local: EmbeddedAWS, tmp_path: Path) -> None:
    batch, _ = _failed_batch(local, tmp_path)  # the DLQ keeps refusing: it fails again
    first = redrive_batch(_stack(local), sender="demo", batch_id=batch["batch_id"])
    assert _finished(local, first["execution_arn"]) == "FAILED"

    second = redrive_batch(_stack(local), sender="demo", batch_id=batch["batch_id"])

    assert second["execution_arn"].endswith("-redrive-2")
    _finished(local, second["execution_arn"])


def test_a_batch_that_is_not_failed_is_refused(local: EmbeddedAWS, tmp_path: Path) -> None:
    (batch,) = run(local, write_orders(tmp_path / "ok.json", [order("fine")]))
    before = local.sfn.list_executions(stateMachineArn=local.settings.state_machine_arn)

    with pytest.raises(RedriveRefused, match=r"is succeeded, not failed"):
        redrive_batch(_stack(local), sender="demo", batch_id=batch["batch_id"])
    with pytest.raises(RedriveRefused, match=r"no batch 'nope' of sender 'demo'"):
        redrive_batch(_stack(local), sender="demo", batch_id="nope")

    after = local.sfn.list_executions(stateMachineArn=local.settings.state_machine_arn)
    assert len(after["executions"]) == len(before["executions"])  # nothing started


class _StageSfn:
    """Step Functions on a stage, as far as RedriveExecution goes (moto lacks it)."""

    def __init__(self, refuse: str | None = None, error: str = "States.TaskFailed") -> None:
        self.redriven: list[str] = []
        self._refuse = refuse
        self._error = error  # how the execution failed

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto's
        return {"executionArn": executionArn, "status": "FAILED", "error": self._error}

    def redrive_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto's
        if self._refuse:
            error = {"Error": {"Code": self._refuse, "Message": "not redrivable"}}
            raise ClientError(error, "RedriveExecution")  # type: ignore[arg-type]
        self.redriven.append(executionArn)
        return {"redriveDate": "2026-11-26T08:00:00Z"}


def test_on_a_stage_it_is_redrive_execution_of_the_batchs_own_execution(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    batch, _ = _failed_batch(local, tmp_path)
    sfn = _StageSfn()

    result = redrive_batch(
        _stack(local, sfn=sfn, emulated=False), sender="demo", batch_id=batch["batch_id"]
    )

    expected = execution_arn(local.settings.state_machine_arn, batch["batch_id"])
    assert sfn.redriven == [expected]
    assert (result["how"], result["execution_arn"]) == ("redriven", expected)

    refusing = _StageSfn(refuse="ExecutionNotRedrivable")
    with pytest.raises(RedriveRefused, match="ExecutionNotRedrivable"):
        redrive_batch(
            _stack(local, sfn=refusing, emulated=False), sender="demo", batch_id=batch["batch_id"]
        )


def test_on_a_stage_a_batch_recorded_failed_is_started_again_not_redriven(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # a redrive of an execution that ended in the BatchFailed Fail state restarts there and
    # fails again at once: the batch is processed again from the start instead
    batch, refusing = _failed_batch(local, tmp_path)
    refusing["on"] = False  # the DLQ is back
    described = local.sfn.describe_execution(
        executionArn=execution_arn(local.settings.state_machine_arn, batch["batch_id"])
    )
    assert described.get("error") == "BatchFailed"  # what the real definition ends with
    stage = _StageSfn(error="BatchFailed")
    stage.start_execution = local.sfn.start_execution  # type: ignore[attr-defined]
    stage.describe_execution = local.sfn.describe_execution  # type: ignore[assignment,method-assign]

    result = redrive_batch(
        _stack(local, sfn=stage, emulated=False), sender="demo", batch_id=batch["batch_id"]
    )

    assert stage.redriven == []
    assert result["how"].startswith("started again")
    assert _finished(local, result["execution_arn"]) == "SUCCEEDED"
    record = local.batches().get("demo", batch["batch_id"])
    assert record is not None
    assert record["status"] == "succeeded"
