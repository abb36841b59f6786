"""An operator's mistakes, tried as a new user would: each is one line on stderr and a documented
exit code (docs/cli.md, "Exit codes of `orders`"), never a traceback, never a hang. Each test runs
the command as a user does, in its own process (the emulated AWS of a running server: tests/api)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow_cli.emulator.server import free_port
from orderflow_cli.exits import ExitCode
from orderflow_cli.main import main
from tests.conftest import REPO

# No credentials anywhere boto3 looks (environment, files, the instance's metadata).
_NO_CREDENTIALS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _without_aws(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERFLOW_"))}
    return {**env, **_NO_CREDENTIALS, **more}


def orders(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orderflow_cli.main", *args]
    return subprocess.run(
        command,
        cwd=REPO,
        env=env or {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on, as another `orders serve` would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_serve_on_a_port_in_use_says_so_and_exits_4(taken_port: int) -> None:
    done = orders("serve", "--port", str(taken_port))
    assert done.returncode == 4  # ExitCode.PORT_IN_USE
    assert one_line(done.stderr) == (
        f"orders serve: port {taken_port} is in use (another orders serve?): choose another"
        " with --port"
    )


def test_serve_with_its_s3_port_in_use_says_so_instead_of_hanging(taken_port: int) -> None:
    done = orders("serve", "--port", str(free_port()), "--s3-port", str(taken_port), timeout=30)
    assert done.returncode == ExitCode.PORT_IN_USE
    assert f"port {taken_port} is in use" in one_line(done.stderr)
    assert "--s3-port" in done.stderr


def test_serve_with_one_port_for_both_is_a_usage_error() -> None:
    done = orders("serve", "--port", "18001", "--s3-port", "18001")
    assert done.returncode == ExitCode.USAGE
    assert "both 18001" in one_line(done.stderr)


def test_debug_adds_the_traceback_to_the_same_sentence(taken_port: int) -> None:
    done = orders("serve", "--port", str(taken_port), "--debug")
    assert done.returncode == ExitCode.PORT_IN_USE
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("orders serve: port")


@pytest.mark.parametrize(
    "command",
    [
        ["report", "some-batch"],
        ["dlq", "list"],
        ["dlq", "review"],
        ["senders", "list"],
        ["batches", "redrive", "some-batch"],
    ],
)
def test_nothing_listening_at_the_endpoint_is_exit_3(command: list[str]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    done = orders(*command, "--endpoint", endpoint)
    assert done.returncode == 3  # ExitCode.UNREACHABLE
    assert one_line(done.stderr) == (
        f"orders {' '.join(command[:2] if command[0] != 'report' else command[:1])}: nothing"
        f" answers at {endpoint}: give --endpoint the 'emulated S3' address that `orders serve`"
        " printed"
    )


@pytest.mark.parametrize("command", [["report", "some-batch"], ["dlq", "list"]])
def test_no_endpoint_and_no_credentials_is_exit_3_and_names_both_ways(command: list[str]) -> None:
    done = orders(*command, env=_without_aws())
    assert done.returncode == ExitCode.UNREACHABLE
    line = one_line(done.stderr)
    assert "no --endpoint, and no AWS credentials for stage local" in line
    assert "give --endpoint URL" in line


def test_credentials_missing_for_a_stage_is_exit_3() -> None:
    done = orders("dlq", "review", "--stage", "dev", env=_without_aws())
    assert done.returncode == ExitCode.UNREACHABLE
    assert "no AWS credentials for stage dev" in one_line(done.stderr)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq", "list", "--endpoint", "localhost:4566"], "'localhost:4566' is not a URL"),
        (["dlq", "list", "--stage", "qa"], "there is no stage 'qa'"),
        (["report"], "Missing argument 'BATCH_ID'"),
        (["report", "b", "--format", "xml"], "'xml' is not one of 'jsonl', 'csv'"),
        (["dlq", "purge"], "No such command 'purge'"),
        (["run", "--jsno", "x.json"], "No such option '--jsno'"),
        (["run", "no/such/file.json"], "no such file: no/such/file.json"),
        (["dlq", "redrive", "--endpoint", "http://127.0.0.1:9"], "needs review ids or --reason"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2  # ExitCode.USAGE
    assert says in one_line(capsys.readouterr().err)


def test_a_directory_given_to_run_is_named_as_one(tmp_path: Path) -> None:
    done = orders("run", str(tmp_path))
    assert done.returncode == ExitCode.USAGE
    assert one_line(done.stderr) == (
        f"orders run: {tmp_path}: a directory, not a file: give the files in it"
        f" (orders run {tmp_path}/*)"
    )


def test_a_malformed_edits_file_sends_nothing_and_says_which_line(tmp_path: Path) -> None:
    edits = tmp_path / "edits.jsonl"
    edits.write_text('{"review_id": "b:1", "order": {}}\nnot json\n')
    done = orders("dlq", "redrive", "b:1", "--edited", str(edits), "--endpoint", "http://x:1")
    assert done.returncode == ExitCode.USAGE
    assert f"--edited {edits}, line 2: not a JSON object" in one_line(done.stderr)


def test_help_is_exit_0_and_every_option_has_help() -> None:
    from orderflow_cli.main import cli

    def commands(group: object, path: str) -> Iterator[tuple[str, object]]:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            yield f"{path} {name}", command
            if hasattr(command, "commands"):
                yield from commands(command, f"{path} {name}")

    for path, command in commands(cli, "orders"):
        assert command.help, f"{path} has no help"  # type: ignore[attr-defined]
        for param in command.params:  # type: ignore[attr-defined]
            if param.param_type_name == "option":
                assert param.help, f"{path} {param.opts[0]} has no help"
    assert orders("dlq", "redrive", "--help").returncode == 0


def test_make_package_works_offline_without_any_aws_configuration(tmp_path: Path) -> None:
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than the requirement files: make builds no venv
    env = _without_aws(HOME=str(tmp_path), PATH="/usr/bin:/bin")  # no AWS CLI, no region
    done = subprocess.run(
        ["make", "package", "STAGE=dev", f"BIN={Path(sys.executable).parent}",
         f"STAMP={stamp}", f"PACKAGE_DIR={tmp_path / 'out'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AWS_DEFAULT_REGION=us-east-1" in done.stdout
    assert (tmp_path / "out" / "chalice.tf.json").stat().st_size > 0


def test_make_destroy_without_credentials_is_a_sentence_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    stamp = tmp_path / "installed"
    stamp.touch()
    env = _without_aws(HOME=str(tmp_path), PATH="/usr/bin:/bin")
    done = subprocess.run(
        ["make", "destroy", "STAGE=dev", f"BIN={Path(sys.executable).parent}", f"STAMP={stamp}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == (
        "orderflow deploy: no AWS credentials: configure them (aws configure, or AWS_PROFILE);"
        " see docs/deploy.md"
    )
    assert "Error 3" in done.stderr  # make names the exit code of the step that stopped it
    assert "chalice delete" not in done.stdout  # stopped before anything was deleted


@pytest.mark.parametrize(
    "argv", [["credentials"], ["output", "orderflow-dev", "BucketName"], ["empty-bucket", "b"]]
)
def test_the_deploy_helpers_without_credentials_are_one_sentence(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orderflow_cli.deploy", *argv],
        cwd=REPO, env=_without_aws(AWS_DEFAULT_REGION="us-east-1"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.UNREACHABLE
    assert "no AWS credentials" in one_line(done.stderr)
