"""An operator's command aimed at a deployed stage, before any request reaches AWS: without
credentials it is one sentence and exit code 3 in well under a second, even where the EC2
instance metadata address swallows packets (botocore would wait a second per request there,
for each client), and it imports neither moto, nor the emulator, nor Chalice (issue 23)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow_cli.exits import ExitCode
from orderflow_cli.main import main
from orderflow_cli.stack import open_stack
from tests.conftest import REPO

NO_CREDENTIALS = (
    "orders senders list: no --endpoint, and no AWS credentials for stage prod: give --endpoint"
    " URL (the 'emulated S3' address that `orders serve` printed), or configure credentials"
    " (aws configure, AWS_PROFILE)"
)
# Runs `orders senders list --stage prod` as the console script does, then says which of the
# modules a deployed-stage command must not need were imported.
_PROBE = """
import json, sys
from orderflow_cli.main import main
code = main(["senders", "list", "--stage", "prod"])
print(json.dumps({
    "code": code,
    "moto": any(m == "moto" or m.startswith("moto.") for m in sys.modules),
    "emulator": any(m.startswith("orderflow_cli.emulator") for m in sys.modules),
    "chalice": any(m == "chalice" or m.startswith("chalice.") for m in sys.modules),
}))
"""
_BOUND_SECONDS = 3.0  # generous: measured 0.5-0.75 s on a busy 2-core machine (9.4 s before)


@pytest.fixture
def silent_metadata_service() -> Iterator[str]:
    """An address that accepts connections and never answers, as a dropped 169.254.169.254."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def _no_aws(tmp_path: Path, **more: str) -> dict[str, str]:
    """The environment without any AWS credentials, and without the metadata service turned off
    (`AWS_EC2_METADATA_DISABLED`): botocore looks everywhere, as on an operator's laptop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERFLOW_"))}
    return {
        **env,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        **more,
    }


def test_a_stage_without_credentials_is_one_line_in_well_under_a_second_without_moto(
    tmp_path: Path, silent_metadata_service: str
) -> None:
    env = _no_aws(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=silent_metadata_service)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started

    assert done.stderr.strip().splitlines() == [NO_CREDENTIALS], done.stderr
    imported = json.loads(done.stdout)
    assert imported == {"code": 3, "moto": False, "emulator": False, "chalice": False}
    assert seconds < _BOUND_SECONDS, f"{seconds:.2f} s"


def _use(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    """This process's environment becomes `environment` for AWS (nothing else of AWS kept)."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "ORDERFLOW_"))]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def test_partial_credentials_are_the_same_sentence_not_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, _no_aws(tmp_path, AWS_ACCESS_KEY_ID="AKIDONLY"))  # and no secret

    assert main(["senders", "list", "--stage", "prod"]) == ExitCode.UNREACHABLE
    assert capsys.readouterr().err.strip().splitlines() == [NO_CREDENTIALS]


def test_a_profile_that_does_not_exist_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, _no_aws(tmp_path, AWS_PROFILE="nowhere"))

    assert main(["dlq", "list", "--stage", "prod"]) == ExitCode.UNREACHABLE
    assert capsys.readouterr().err.strip().splitlines() == [
        "orders dlq list: The config profile (nowhere) could not be found (AWS_PROFILE): name"
        " one that `aws configure list-profiles` shows"
    ]


@pytest.mark.parametrize(
    ("environment", "region"),
    [
        ({}, "us-east-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-central-1"}, "eu-central-1"),
        ({"AWS_REGION": ""}, "us-east-1"),
    ],
)
def test_a_stages_region_is_aws_region_else_botocores_else_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: dict[str, str], region: str
) -> None:
    keys = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret"}
    _use(monkeypatch, _no_aws(tmp_path, **keys, **environment))

    stack = open_stack(None, "prod")

    assert {c.meta.region_name for c in (stack.s3, stack.dynamodb, stack.sqs)} == {region}
