"""The `orders` command's exit codes and the one error it raises to say why it stops.

docs/cli.md's table "Exit codes of `orders`" documents each code (a test compares the two)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # the job ran and found problems: a batch failed, no such batch, a refusal
    USAGE = 2  # the command line is wrong: an unknown option, a missing file, a directory
    UNREACHABLE = 3  # AWS or the emulated AWS cannot be used: nothing answers, not the
    # emulator, no credentials, a stage not deployed
    PORT_IN_USE = 4  # `orders serve` cannot listen on a port
    INTERNAL = 5  # an unexpected error (a bug): `--debug` shows its traceback
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # stdout was closed early (`| head`), as for any tool (128 + SIGPIPE)


class CliError(Exception):
    """A mistake or a condition the operator can fix: one sentence, and the exit code."""

    def __init__(
        self, message: str, code: ExitCode = ExitCode.PROBLEMS, command: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.command = command  # `orders dlq list`: named in the message; set where it is known
