"""`orders`: order files through the whole pipeline on the embedded emulator, a local server,
and the operator's tools (reports, the dead-letter queue, senders).

    orders run PATH... [--json] [--export DIR] [--sender ID] [--mapping FILE] [--dry-run]
    orders serve [--port P] [--s3-port P] [--api-key KEY] [--json]
    orders report BATCH_ID [--format jsonl|csv] (--endpoint URL | --stage STAGE)
    orders dlq list|review|redrive ... (--endpoint URL | --stage STAGE) [--json]
    orders batches redrive BATCH_ID [--sender ID] (--endpoint URL | --stage STAGE) [--json]
    orders senders add ID --name NAME | list | rotate-key ID | disable ID
                   | profile ID (--mapping FILE | --clear)
                   | link ID [--days N] [--url BASE] (--endpoint | --stage)

Every mistake is one line on stderr and an exit code (`orderflow_cli.exits`, docs/cli.md's table);
`--debug`, anywhere on the line, adds the traceback. The subcommands live in
`orderflow_cli.commands`, one module per family; this module is the group and the entry point.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Sequence

import click

from orderflow_cli.commands.batches import batches
from orderflow_cli.commands.dlq import dlq
from orderflow_cli.commands.local import run, serve
from orderflow_cli.commands.options import DEBUG_FLAG, Group, ReaderGone, debug_option
from orderflow_cli.commands.report import report
from orderflow_cli.commands.senders import senders
from orderflow_cli.exits import CliError, ExitCode


@click.group(cls=Group, help=__doc__.split("\n\n")[0], context_settings={"max_content_width": 100})
@debug_option
def cli() -> None:
    pass


for _command in (run, serve, report, dlq, batches, senders):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `orders` and returns its exit code (`ExitCode`); the console script exits with it."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args[: args.index("--")] if "--" in args else DEBUG_FLAG in args
    debug = debug or os.environ.get("ORDERFLOW_DEBUG", "") not in {"", "0"}
    try:
        code = cli.main(args=args, prog_name="orders", standalone_mode=False)
        sys.stdout.flush()  # here, so that a reader gone (`| head`) is seen below, not at exit
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.format_message(), err=True)
        return ExitCode.USAGE
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx else "orders"
        _fail(f"{where}: {error.format_message()} (see {where} --help)", error, debug)
        return ExitCode.USAGE
    except click.ClickException as error:
        _fail(f"orders: {error.format_message()}", error, debug)
        return ExitCode.USAGE
    except CliError as error:
        _fail(f"{error.command or 'orders'}: {error}", error, debug)
        return error.code
    except click.Abort as error:
        _fail("orders: interrupted", error, debug)
        return ExitCode.INTERRUPTED
    except (BrokenPipeError, ReaderGone):
        _quiet_stdout()  # the reader left (`| head`): nothing more to say, and no one to say it
        return ExitCode.BROKEN_PIPE
    return int(code or 0)


def _fail(message: str, error: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(error)
    click.echo(message, err=True)


def _quiet_stdout() -> None:
    """Points stdout at /dev/null, so the interpreter's last flush finds no closed pipe."""
    # Not a real file (a test's capture): then nothing will flush into a closed pipe either.
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
