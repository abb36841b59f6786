"""`python -m orderflow_cli.deploy`'s steps on moto in-process: what they do, and their mistakes.

The whole deploy against moto's server is tests/infra/test_rehearsed_deploy.py; here each step's
own paths, fast, with a small template.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError
from moto import mock_aws

from orderflow_cli import deploy
from orderflow_cli.exits import ExitCode
from tests.conftest import REPO

TEMPLATE = """
Parameters:
  Stage:
    Type: String
  Email:
    Type: String
    Default: ""
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "app-${Stage}-queue"
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: !Sub "app-${Stage}-machine"
      RoleArn: arn:aws:iam::123456789012:role/machine
      DefinitionS3Location: ../definition.json
Outputs:
  QueueUrl:
    Value: !Ref Queue
"""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(TEMPLATE)
    (tmp_path / "definition.json").write_text('{"StartAt": "A", "States": {}}')
    with mock_aws():
        yield tmp_path / "infra" / "stack.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = deploy.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_a_stack_is_packaged_created_then_left_alone_with_its_parameters_kept(
    aws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "stack", "app-dev", str(aws), "Stage=dev", "Email=ops@example.org") == (
        0,
        "stack app-dev created",
        "",
    )
    packaged = json.loads(Path("build/app-dev.template.json").read_text())
    location = packaged["Resources"]["Machine"]["Properties"]["DefinitionS3Location"]
    assert location["Bucket"] == "orderflow-artifacts-123456789012-us-east-1"
    body = boto3.client("s3").get_object(**location)["Body"].read()
    assert body == b'{"StartAt": "A", "States": {}}'

    # again, without Email: nothing to change, and the address is kept
    assert run(capsys, "stack", "app-dev", str(aws), "Stage=dev") == (
        0,
        "stack app-dev: nothing to change",
        "",
    )
    (stack,) = boto3.client("cloudformation").describe_stacks(StackName="app-dev")["Stacks"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Stage": "dev",
        "Email": "ops@example.org",
    }
    code, out, _ = run(capsys, "output", "app-dev", "QueueUrl")
    assert (code, out.rsplit("/", 1)[-1]) == (0, "app-dev-queue")

    assert run(capsys, "delete-stack", "app-dev") == (0, "stack app-dev deleted", "")
    assert run(capsys, "delete-stack", "app-dev") == (0, "stack app-dev: none to delete", "")


def test_a_file_the_template_names_that_is_missing_is_one_sentence(
    aws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.write_text(TEMPLATE.replace("../definition.json", "../missing.json"))
    code, _, err = run(capsys, "stack", "app-dev", str(aws), "Stage=dev")
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("orderflow deploy: Machine.DefinitionS3Location: no file ")
    assert err.endswith("missing.json")


def test_a_parameter_that_is_not_key_value_is_one_sentence(
    aws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "stack", "app-dev", str(aws), "Stage")
    assert (code, err) == (
        ExitCode.UNREACHABLE,
        "orderflow deploy: parameters are KEY=VALUE: Stage",
    )


def test_a_stack_whose_creation_failed_is_named_with_what_to_do(
    aws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy, "_status", lambda stack: "ROLLBACK_COMPLETE")
    code, _, err = run(capsys, "stack", "app-dev", str(aws), "Stage=dev")
    assert code == ExitCode.UNREACHABLE
    assert err == (
        "orderflow deploy: stack app-dev is ROLLBACK_COMPLETE (its first creation failed):"
        " make destroy, then deploy again"
    )


def _function(name: str) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    created = boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Arn"],
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return str(created["FunctionArn"])


def test_partial_batch_responses_are_set_on_the_functions_mapping(
    aws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _function("app-dev-Reviewer")
    queue = boto3.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    lambda_: Any = boto3.client("lambda")
    lambda_.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=arn, BatchSize=10)

    assert run(capsys, "partial-batch", "app-dev-Reviewer") == (
        0,
        "app-dev-Reviewer: ReportBatchItemFailures on 1 event source mapping(s)",
        "",
    )
    (mapping,) = lambda_.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_partial_batch_without_a_mapping_or_a_function_is_one_sentence(
    aws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _function("app-dev-Reviewer")
    assert run(capsys, "partial-batch", "app-dev-Reviewer") == (
        ExitCode.UNREACHABLE,
        "",
        "orderflow deploy: function app-dev-Reviewer has no event source mapping",
    )
    code, _, err = run(capsys, "partial-batch", "app-dev-Nothing")
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("orderflow deploy: AWS refused GetFunction: ")


def test_make_deploy_without_credentials_stops_before_anything_is_created(
    tmp_path: Path,
) -> None:
    stamp = tmp_path / "installed"
    stamp.touch()
    env = {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        ["make", "deploy", "STAGE=dev", f"BIN={Path(sys.executable).parent}", f"STAMP={stamp}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith("orderflow deploy: no AWS credentials")
    assert "Error 3" in done.stderr
    assert "orderflow_cli.deploy stack" not in done.stdout  # stopped before the stack


class _FailingCloudFormation:
    """A stack whose creation fails: the waiter gives up, the events say why (moto's
    CloudFormation never fails a resource this way)."""

    def get_waiter(self, name: str) -> Any:
        class Waiter:
            def wait(self, **kwargs: Any) -> None:
                raise WaiterError(name, "Waiter encountered a terminal failure state", {})

        return Waiter()

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "StackEvents": [  # newest first, as CloudFormation lists them
                {"LogicalResourceId": "app-dev", "ResourceStatus": "ROLLBACK_COMPLETE"},
                {
                    "LogicalResourceId": "Queue",
                    "ResourceType": "AWS::SQS::Queue",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "Resource creation cancelled",
                },
                {
                    "LogicalResourceId": "Machine",
                    "ResourceType": "AWS::StepFunctions::StateMachine",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "Invalid State Machine Definition",
                },
            ]
        }


def test_a_stack_that_fails_names_its_first_failed_resource_and_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(boto3, "client", lambda service: _FailingCloudFormation())
    with pytest.raises(deploy.DeployError) as failure:
        deploy._wait("app-dev", "stack_create_complete")
    assert str(failure.value) == (
        "stack app-dev did not complete: Machine (AWS::StepFunctions::StateMachine):"
        " Invalid State Machine Definition"
    )
