"""The operator's commands against a running `orders serve`, given the wrong address or a reader
that leaves early: one sentence and a documented exit code (tests/cli/test_mistakes.py has the
mistakes that need no server)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orderflow_cli.exits import ExitCode
from orderflow_cli.main import main
from tests.api.conftest import Served
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["report", "some-batch"], "orders report"),
        (["dlq", "list"], "orders dlq list"),
        (["dlq", "redrive", "x:1"], "orders dlq redrive"),
    ],
)
def test_the_apis_address_as_endpoint_is_named_as_such_and_exit_3(
    served: Served, command: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--endpoint", served.url]) == ExitCode.UNREACHABLE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == (
        f"{named}: {served.url} answers, but not as the emulated AWS (is it the API's address?):"
        " give --endpoint the 'emulated S3' address that `orders serve` printed"
    )


def test_another_stage_than_the_servers_is_exit_3(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list", "--endpoint", served.s3_url, "--stage", "dev"]) == 3
    assert "has no table orderflow-dev-batches" in capsys.readouterr().err


def test_a_reader_that_leaves_early_ends_the_command_quietly(served: Served) -> None:
    # `orders dlq review | head` with head gone before the output: the pipe is closed as soon
    # as the command starts, so every write it makes finds no reader.
    command = [sys.executable, "-m", "orderflow_cli.main", "dlq", "review"]
    process = subprocess.Popen(
        [*command, "--endpoint", served.s3_url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert err == ""  # no BrokenPipeError, no "Exception ignored"
    assert process.returncode == ExitCode.BROKEN_PIPE


def test_a_shell_pipe_into_head_keeps_the_first_lines(served: Served) -> None:
    done = subprocess.run(
        f"{sys.executable} -m orderflow_cli.main dlq review --endpoint {served.s3_url} --json"
        " | head -n 1; echo status ${PIPESTATUS[0]}",
        shell=True,  # the pipe is the point; every word is ours
        executable="/bin/bash",
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines()[-1] in {"status 0", "status 141"}
