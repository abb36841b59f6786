"""`orders run` and `orders serve`: the pipeline on the embedded emulator, in this process.

The only commands that start the emulator (and so moto and Chalice): they import it when they
run, after their options are checked; `serve` checks its ports before it starts anything,
since moto's server would hang on a port in use.
"""

from __future__ import annotations

import errno
import json
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orderflow_cli.commands.options import Command, debug_option, mapping_file, weather_option
from orderflow_cli.exits import CliError, ExitCode

if TYPE_CHECKING:
    from orderflow_cli.emulator.server import LocalServer


@click.command(
    cls=Command,
    short_help="Process order files on the embedded emulator.",
    help="Process order files on the embedded emulator and report where each order ended.",
)
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option(
    "--export",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write the table, the DLQ, the batches, the reviews and the reports to DIR.",
)
@click.option(
    "--sender",
    default="demo",
    show_default=True,
    metavar="ID",
    help="Whose files they are: they are uploaded into its folder (the sender is registered).",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A column mapping (JSON) for the files of this run; it wins over the sender's profile.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read, validate and count every order, and write the rejection report, as the real run"
    " would; store nothing and dead-letter nothing.",
)
@weather_option
@debug_option
def run(
    paths: tuple[Path, ...],
    as_json: bool,
    export: Path | None,
    sender: str,
    mapping: Path | None,
    dry_run: bool,
) -> int:
    directories = [str(p) for p in paths if p.is_dir()]
    if directories:
        raise CliError(
            f"{', '.join(directories)}: a directory, not a file: give the files in it"
            f" (orders run {directories[0].rstrip('/')}/*)",
            ExitCode.USAGE,
        )
    from chalicelib.senders import SenderError, check_id
    from orderflow_cli.run import run_files  # the emulator: imported only by what uses it

    try:
        check_id(sender)
    except SenderError as error:
        raise CliError(f"--sender: {error}", ExitCode.USAGE) from error
    return run_files(
        list(paths),
        as_json=as_json,
        export=export,
        sender=sender,
        mapping=mapping_file(mapping) if mapping is not None else None,
        dry_run=dry_run,
    )


@click.command(
    cls=Command,
    short_help="Serve the API and the emulated AWS locally.",
    help="Serve the HTTP API and the emulated AWS on 127.0.0.1 until Ctrl-C.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The API's port (0: a free one).",
)
@click.option(
    "--s3-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="The emulated AWS's port (S3, SQS, DynamoDB...)  [default: a free one]",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="The demo sender's API key, 8 to 200 characters  [default: a new random one]",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the addresses and key as one JSON line."
)
@weather_option
@debug_option
def serve(port: int, s3_port: int, api_key: str | None, as_json: bool) -> int:
    return serve_api(port, s3_port, api_key, as_json=as_json)


def serve_api(port: int, s3_port: int, api_key: str | None, *, as_json: bool = False) -> int:
    """Serves the API and the emulated AWS until SIGINT or SIGTERM."""
    if port and port == s3_port:
        raise CliError(f"--port and --s3-port are both {port}: give two ports", ExitCode.USAGE)
    for number, option in ((port, "--port"), (s3_port, "--s3-port")):
        _check_free(number, option)  # before the emulator starts: moto's server would hang
    server = _started(port, s3_port, api_key)
    _announce(server, as_json)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
        print("stopping", flush=True)
    finally:
        server.stop()
    return ExitCode.OK


def _started(port: int, s3_port: int, api_key: str | None) -> LocalServer:
    from chalicelib.senders import SenderError
    from orderflow_cli.emulator.server import IN_MEMORY_NOTICE, LocalServer

    print(IN_MEMORY_NOTICE, file=sys.stderr, flush=True)
    server = LocalServer(port, s3_port, api_key)
    try:
        server.start()
    except SenderError as error:  # the --api-key the demo sender cannot have
        server.stop()
        raise CliError(f"--api-key: {error}", ExitCode.USAGE) from error
    except OSError as error:  # a port taken between the check and the start
        server.stop()
        raise CliError(
            f"cannot listen on 127.0.0.1: {error.strerror or error}", ExitCode.PORT_IN_USE
        ) from error
    return server


def _announce(server: LocalServer, as_json: bool) -> None:
    """The addresses and the demo sender's key, on stdout."""
    if as_json:
        shown = {
            "api": server.url,
            "page": server.url + "/",
            "endpoint": server.s3_url,
            "api_key": server.api_key,
        }
        print(json.dumps(shown), flush=True)
        return
    print(f"orderflow API   {server.url}", flush=True)
    print(
        f"partners' page  {server.url}/   (open it in a browser, sign in with the key)", flush=True
    )
    print(f"emulated S3     {server.s3_url}", flush=True)
    print(
        f"API key         {server.api_key}   (sender 'demo'; send it as: -H 'x-api-key: ...')",
        flush=True,
    )
    print("Ctrl-C stops the server.", flush=True)


def _check_free(port: int, option: str) -> None:
    """Refuses a port something already listens on (0 asks for a free one: nothing to check)."""
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CliError(
                    f"port {port} is in use (another orders serve?): choose another with {option}",
                    ExitCode.PORT_IN_USE,
                ) from error
            raise CliError(
                f"cannot listen on port {port} ({option}): {error.strerror or error}",
                ExitCode.PORT_IN_USE,
            ) from error
