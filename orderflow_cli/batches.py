"""`orders batches redrive`: run a failed batch's execution again.

On a stage it is Step Functions' RedriveExecution: the batch's own execution (named after the
batch) continues from its unsuccessful step with the same input, keeping its ARN and the results
of the steps that succeeded. That helps an execution that failed in a step (a function that
kept failing, a timeout). A batch that RecordBatch recorded `failed` (chunks left unprocessed)
ends in the `BatchFailed` Fail state, and a redrive would restart there and fail again at
once: such a batch is started again instead, as below.

The emulated AWS has no RedriveExecution (moto's Step Functions does not implement it), so
there the closest honest equivalent is taken: a new execution of the same state machine with
the failed execution's input, named `<batch_id>-redrive-<n>`. It runs from the start, not from
the failed step, and records the same batch: every step is safe to run again (the conditional
puts store nothing twice and count an order already stored as `unchanged`, a chunk's outcome is
written again, a rejection group goes to the DLQ under the same message id, which the reviewer
takes once), so it ends where a redrive would, at the cost of redoing what had succeeded.

Only a batch whose record says `failed` is redriven: any other status is refused in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.pipeline.batches import FAILED, BatchRecords
from chalicelib.pipeline.trigger import execution_arn
from orderflow_cli.stack import Stack

_MAX_NAME = 80  # Step Functions' limit on an execution's name
RECORDED_FAILED = "BatchFailed"  # the Fail state's error (chalicelib/pipeline/ingest.asl.json)
_NOT_REDRIVABLE = {"ExecutionNotRedrivable", "ExecutionDoesNotExist", "ExecutionLimitExceeded"}


class RedriveRefused(Exception):
    """The batch cannot be redriven: unknown, not failed, or refused by Step Functions."""


def redrive_batch(stack: Stack, *, sender: str, batch_id: str) -> dict[str, Any]:
    """Redrives the failed batch's execution (see the module); returns what was started."""
    record = BatchRecords(stack.dynamodb, stack.names["BATCHES_TABLE"]).get(sender, batch_id)
    if record is None:
        raise RedriveRefused(f"no batch {batch_id!r} of sender {sender!r}")
    status = record.get("status")
    if status != FAILED:
        raise RedriveRefused(
            f"batch {batch_id} is {status}, not failed: only a failed batch is redriven"
        )
    sfn = stack.sfn
    assert sfn is not None, "open_stack gives every stack a Step Functions client"
    machine = _state_machine_arn(stack)
    failed = execution_arn(machine, batch_id)
    if stack.emulated:
        try:
            original = sfn.describe_execution(executionArn=failed)
        except ClientError as error:
            raise RedriveRefused(f"batch {batch_id} has no execution to start again") from error
        return _start_again(stack, machine, failed, original, batch_id, sender)
    described = sfn.describe_execution(executionArn=failed)
    if described.get("error") == RECORDED_FAILED:
        return _start_again(stack, machine, failed, described, batch_id, sender)
    try:
        answer = sfn.redrive_execution(executionArn=failed)
    except ClientError as error:
        info = error.response.get("Error", {})
        if info.get("Code") in _NOT_REDRIVABLE:
            raise RedriveRefused(
                f"Step Functions refused to redrive {failed}: {info.get('Code')}:"
                f" {info.get('Message', '')}".rstrip(": ")
            ) from error
        raise
    return {
        "sender": sender,
        "batch_id": batch_id,
        "how": "redriven",
        "execution_arn": failed,
        "redrive_date": str(answer.get("redriveDate", "")),
    }


def _start_again(
    stack: Stack,
    machine: str,
    failed: str,
    original: Mapping[str, Any],
    batch_id: str,
    sender: str,
) -> dict[str, Any]:
    """The failed execution (`original`, as described) started again: its input, in a new
    execution."""
    sfn = stack.sfn
    assert sfn is not None
    number = 1
    while True:
        name = f"{batch_id[: _MAX_NAME - 12]}-redrive-{number}"
        try:
            started = sfn.start_execution(
                stateMachineArn=machine, name=name, input=original.get("input", "{}")
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            number += 1
            continue
        return {
            "sender": sender,
            "batch_id": batch_id,
            "how": "started again (from the start: see docs/pipeline.md, Batches)",
            "execution_arn": started["executionArn"],
            "failed_execution_arn": failed,
        }


def _state_machine_arn(stack: Stack) -> str:
    """The stage's state machine; a stage's name carries `{region}` and `{account}`, filled
    here as the functions fill them (chalicelib.settings)."""
    arn = stack.names["STATE_MACHINE_ARN"]
    if "{account}" not in arn and "{region}" not in arn:
        return arn
    assert stack.sfn is not None
    region = stack.sfn.meta.region_name
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    return arn.replace("{account}", account).replace("{region}", region)
