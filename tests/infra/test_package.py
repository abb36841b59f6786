"""`chalice package` for each stage, and what the generated Terraform must wire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import policies
from infra.merge_terraform import merge_file
from orderflow_cli.emulator.definition import DEFINITION_PATH
from tests.conftest import REPO


@pytest.fixture(scope="module", params=policies.STAGES)
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    stage: str = request.param
    out = tmp_path_factory.mktemp(f"package-{stage}")
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "ORDERFLOW_DEPLOY_BUCKET": f"orderflow-{stage}-orders-123456789012-us-east-1",
    }
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice), "package", "--pkg-format", "terraform", "--stage", stage, str(out)]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (out / "deployment.zip").stat().st_size > 0
    merge_file(out / "chalice.tf.json")  # what `make package` does next
    return stage, json.loads((out / "chalice.tf.json").read_text())["resource"]


def test_the_s3_trigger_watches_the_incoming_prefix_of_the_stack_bucket(packaged: Any) -> None:
    stage, resources = packaged
    (notification,) = resources["aws_s3_bucket_notification"].values()
    assert notification["bucket"] == f"orderflow-{stage}-orders-123456789012-us-east-1"
    (target,) = notification["lambda_function"]
    assert target["filter_prefix"] == "incoming/"
    assert target["lambda_function_arn"] == "${aws_lambda_function.on_file_uploaded.arn}"


def test_the_reviewer_reads_the_dlq_with_partial_batch_responses(packaged: Any) -> None:
    stage, resources = packaged
    mapping = resources["aws_lambda_event_source_mapping"]["ReviewDeadLetters-sqs-event-source"]
    assert mapping["event_source_arn"].endswith(f":orderflow-{stage}-dlq")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["batch_size"] == 10


def test_every_function_is_given_the_stack_names_and_its_own_policy(packaged: Any) -> None:
    stage, resources = packaged
    functions = resources["aws_lambda_function"]
    assert set(functions) == set(policies.statements(stage))
    for name, function in functions.items():
        env = function["environment"]["variables"]
        assert env["ORDERS_TABLE"] == f"orderflow-{stage}-orders"  # stack.yaml's names
        assert env["BATCHES_TABLE"] == f"orderflow-{stage}-batches"
        assert env["REVIEWS_TABLE"] == f"orderflow-{stage}-reviews"
        assert env["BUCKET_NAME"] == f"orderflow-{stage}-orders-{{account}}-{{region}}"
        assert env["DLQ_URL"].endswith(f"/orderflow-{stage}-dlq")
        assert env["STATE_MACHINE_ARN"].endswith(f":stateMachine:orderflow-{stage}-ingest")
        role_policy = resources["aws_iam_role_policy"][f"{name}_role"]["policy"]
        assert json.loads(role_policy) == policies.policy(stage, name)
        assert function["tracing_config"] == {"mode": "Active"}, name  # "xray": true
    # ten files at once, each its Map's MaxConcurrency of chunks (make capacity, docs/capacity.md)
    definition = json.loads(DEFINITION_PATH.read_text())
    max_concurrency = definition["States"]["ProcessChunks"]["MaxConcurrency"]
    assert functions["ValidateOrder"]["reserved_concurrent_executions"] == 10 * max_concurrency


def test_the_webhook_function_follows_the_completion_event(packaged: Any) -> None:
    from chalicelib.pipeline.events import PATTERN

    _, resources = packaged
    (rule,) = resources["aws_cloudwatch_event_rule"].values()
    assert json.loads(rule["event_pattern"]) == PATTERN
