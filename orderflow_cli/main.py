"""`orders`: order files through the whole pipeline on the embedded emulator, a local server,
and the operator's tools (reports, the dead-letter queue, senders).

    orders run PATH... [--json] [--export DIR] [--sender ID] [--mapping FILE] [--dry-run]
    orders serve [--port P] [--s3-port P] [--api-key KEY] [--json]
    orders report BATCH_ID [--format jsonl|csv] (--endpoint URL | --stage STAGE)
    orders dlq list|review|redrive ... (--endpoint URL | --stage STAGE) [--json]
    orders batches redrive BATCH_ID [--sender ID] (--endpoint URL | --stage STAGE) [--json]
    orders senders add ID --name NAME | list | rotate-key ID | disable ID
                   | profile ID (--mapping FILE | --clear) (--endpoint | --stage)

Every mistake is one line on stderr and an exit code (`orderflow_cli.exits`, README's table);
`--debug`, anywhere on the line, adds the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import urlparse

import click

from orderflow_cli.exits import CliError, ExitCode
from orderflow_cli.text import shown

F = TypeVar("F", bound=Callable[..., Any])
_DEBUG_FLAG = "--debug"


class _Command(click.Command):
    """A command whose errors carry its name (`orders dlq list: ...`); anything unexpected
    becomes a `CliError` with exit code 5, its traceback kept for `--debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            error.command = error.command or ctx.command_path
            raise
        except BrokenPipeError as error:  # click would exit 1 on it, silently
            raise _ReaderGone from error
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise CliError(
                f"unexpected error: {type(error).__name__}: {first_line}"
                f" ({_DEBUG_FLAG} shows where)",
                ExitCode.INTERNAL,
                ctx.command_path,
            ) from error


class _ReaderGone(Exception):
    """stdout's reader has gone (`orders dlq review | head`)."""


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups are `_Group`s too


_debug_option = click.option(
    _DEBUG_FLAG,
    is_flag=True,
    expose_value=False,
    help="On an error, print its traceback as well (also ORDERFLOW_DEBUG=1).",
)


def _weather(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """`--weather SPEC`: checked here, then handed to the emulator as ORDERFLOW_WEATHER."""
    if value is None:
        return
    from orderflow_cli.emulator.weather import ENVIRONMENT_VARIABLE, Weather, WeatherError

    try:
        Weather.parse(value)
    except WeatherError as error:
        raise CliError(f"--weather: {error}", ExitCode.USAGE) from error
    os.environ[ENVIRONMENT_VARIABLE] = value


_weather_option = click.option(
    "--weather",
    metavar="SPEC",
    expose_value=False,
    callback=_weather,
    help="AWS's weather on the emulator: throttles and latency, as dynamodb=3%,s3=2%,latency=5ms"
    " (README, 'AWS's weather'; also ORDERFLOW_WEATHER).",
)


def _endpoint_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise click.BadParameter(f"{value!r} is not a URL: give it as http://127.0.0.1:PORT")
    return value


def _stack_options(with_json: bool = True) -> Callable[[F], F]:
    """Where an operator's command reads and writes: `orders serve` or a stage; and --json."""
    options = [
        click.option(
            "--endpoint",
            envvar="ORDERFLOW_ENDPOINT",
            show_envvar=True,
            callback=_endpoint_url,
            metavar="URL",
            help="The emulated AWS of a running `orders serve` (its 'emulated S3' line).",
        ),
        click.option(
            "--stage",
            default="local",
            show_default=True,
            metavar="STAGE",
            help="The stage whose resources to use; without --endpoint, on AWS with your"
            " credentials.",
        ),
    ]
    if with_json:
        options.append(
            click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
        )

    def decorate(command: F) -> F:
        for option in reversed([*options, _debug_option]):
            command = option(command)
        return command

    return decorate


@click.group(cls=_Group, help=__doc__.split("\n\n")[0], context_settings={"max_content_width": 100})
@_debug_option
def cli() -> None:
    pass


@cli.command(
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
@_weather_option
@_debug_option
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
    column_mapping = _mapping_file(mapping) if mapping is not None else None
    return run_files(
        list(paths),
        as_json=as_json,
        export=export,
        sender=sender,
        mapping=column_mapping,
        dry_run=dry_run,
    )


def _mapping_file(path: Path) -> Any:
    """The column mapping in a JSON file, validated; a mistake is a usage error."""
    from chalicelib.orders.readers.columns import ColumnMapping, MappingError

    try:
        return ColumnMapping.from_json(path.read_bytes())
    except OSError as error:
        raise CliError(f"--mapping {path}: {error.strerror or error}", ExitCode.USAGE) from error
    except MappingError as error:
        raise CliError(f"--mapping {path}: {error.message}", ExitCode.USAGE) from error


@cli.command(
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
@_weather_option
@_debug_option
def serve(port: int, s3_port: int, api_key: str | None, as_json: bool) -> int:
    return serve_api(port, s3_port, api_key, as_json=as_json)


@cli.command(
    short_help="Print a batch's rejection report.",
    help="Print a batch's rejection report (JSON Lines with the reviewer's decisions, or CSV).",
)
@click.argument("batch_id")
@click.option(
    "--format",
    "form",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines (one JSON document per rejection) or the CSV a sender can fix.",
)
@click.option("--sender", metavar="ID", help="The batch's sender  [default: the only sender]")
@_stack_options(with_json=False)  # its JSON is --format jsonl, the default: one per rejection
def report(batch_id: str, form: str, sender: str | None, endpoint: str | None, stage: str) -> int:
    return print_report(batch_id, form, endpoint, stage, sender)


_only_sender = click.option(
    "--sender", metavar="ID", help="Only this sender's records  [default: every sender's]"
)


@cli.group(cls=_Group, help="What the pipeline refused: list, review, redrive.")
@_debug_option
def dlq() -> None:
    pass


@dlq.command("list", help="Messages waiting in the DLQ and its redrive queue, by reason.")
@_stack_options()
def dlq_list(endpoint: str | None, stage: str, as_json: bool) -> int:
    return dlq_command(_args("list", endpoint, stage, as_json))


@dlq.command("review", help="The reviewer's records: what was retried, repaired, archived.")
@click.option("--batch", metavar="ID", help="Only this batch.")
@click.option("--reason", help="Only this reason (invalid, conflict, ...).")
@_only_sender
@_stack_options()
def dlq_review(
    batch: str | None,
    reason: str | None,
    sender: str | None,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    return dlq_command(
        _args("review", endpoint, stage, as_json, batch=batch, reason=reason, sender=sender)
    )


@dlq.command("redrive", help="Send archived orders (possibly edited) back through the pipeline.")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--reason", help="Every archived order of this reason.")
@click.option(
    "--edited",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help='JSON Lines of {"review_id", "order"}: send these orders instead.',
)
@_only_sender
@_stack_options()
def dlq_redrive(
    ids: tuple[str, ...],
    reason: str | None,
    edited: Path | None,
    sender: str | None,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    if not ids and not reason:
        raise click.UsageError("needs review ids or --reason")
    return dlq_command(
        _args(
            "redrive",
            endpoint,
            stage,
            as_json,
            ids=list(ids),
            reason=reason,
            sender=sender,
            edited=_edits(edited) if edited else {},
        )
    )


@cli.group(cls=_Group, help="The batches the pipeline ran: redrive a failed one.")
@_debug_option
def batches() -> None:
    pass


@batches.command(
    "redrive",
    short_help="Run a failed batch's execution again.",
    help="Run a failed batch's execution again: on a stage, Step Functions' RedriveExecution"
    " (it continues from the failed step); on the emulated AWS of `orders serve`, which lacks"
    " it, a new execution of the same input named BATCH_ID-redrive-N (from the start; every"
    " step is safe to run again). A batch that is not failed is refused (exit code 1).",
)
@click.argument("batch_id")
@click.option("--sender", metavar="ID", help="The batch's sender  [default: the only sender]")
@_stack_options()
def batches_redrive(
    batch_id: str, sender: str | None, endpoint: str | None, stage: str, as_json: bool
) -> int:
    return redrive_batch_command(batch_id, sender, endpoint, stage, as_json=as_json)


@cli.group(cls=_Group, help="The senders (tenants) and their API keys.")
@_debug_option
def senders() -> None:
    pass


_sender_id = click.argument("sender_id", metavar="ID")


@senders.command(
    "add", help="Add a sender (ID: lower-case letters, digits, hyphens); prints its key, once."
)
@_sender_id
@click.option("--name", required=True, help="The sender's display name.")
@_stack_options()
def senders_add(sender_id: str, name: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    return senders_command(_args("add", endpoint, stage, as_json, sender_id=sender_id, name=name))


@senders.command("list", help="Every sender: id, status, name, live keys.")
@_stack_options()
def senders_list(endpoint: str | None, stage: str, as_json: bool) -> int:
    return senders_command(_args("list", endpoint, stage, as_json))


@senders.command(
    "rotate-key", help="A new API key for the sender (printed once); its old key stops at once."
)
@_sender_id
@_stack_options()
def senders_rotate_key(sender_id: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    return senders_command(_args("rotate-key", endpoint, stage, as_json, sender_id=sender_id))


@senders.command("disable", help="Refuse every key of the sender from now on (its data stays).")
@_sender_id
@_stack_options()
def senders_disable(sender_id: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    return senders_command(_args("disable", endpoint, stage, as_json, sender_id=sender_id))


@senders.command(
    "webhook",
    help="Where the sender's batch completions go when a batch names no callback URL, signed"
    " with the sender's own secret (printed once; --rotate: a new one, both sign until"
    " --end-rotation).",
)
@_sender_id
@click.option("--url", help="The webhook URL (https on AWS).")
@click.option("--remove", is_flag=True, help="No webhook for this sender any more.")
@click.option("--rotate", is_flag=True, help="A new signing secret; the old one still signs.")
@click.option("--end-rotation", is_flag=True, help="Only the newest secret signs from now on.")
@_stack_options()
def senders_webhook(
    sender_id: str,
    url: str | None,
    remove: bool,
    rotate: bool,
    end_rotation: bool,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    if sum((bool(url), remove, end_rotation)) != 1 or (rotate and not url):
        raise click.UsageError(
            "give --url URL (with --rotate to rotate), --remove or --end-rotation"
        )
    return senders_command(
        _args(
            "webhook",
            endpoint,
            stage,
            as_json,
            sender_id=sender_id,
            url=url,
            remove=remove,
            rotate=rotate,
            end_rotation=end_rotation,
        )
    )


@senders.command("limits", help="The sender's own limits (unset: the stage's).")
@_sender_id
@click.option("--max-orders", type=click.IntRange(1), help="Orders per POST /orders.")
@click.option("--max-upload-bytes", type=click.IntRange(1), help="Bytes per presigned upload.")
@_stack_options()
def senders_limits(
    sender_id: str,
    max_orders: int | None,
    max_upload_bytes: int | None,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    return senders_command(
        _args(
            "limits",
            endpoint,
            stage,
            as_json,
            sender_id=sender_id,
            max_orders=max_orders,
            max_upload_bytes=max_upload_bytes,
        )
    )


@senders.command(
    "profile",
    help="The sender's saved column mapping (JSON: columns, sheet, delimiter), applied to every"
    " file of the sender that comes without a mapping of its own.",
)
@_sender_id
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The mapping to save (validated first).",
)
@click.option("--clear", is_flag=True, help="No saved mapping for this sender any more.")
@_stack_options()
def senders_profile(
    sender_id: str,
    mapping: Path | None,
    clear: bool,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    if (mapping is None) == (not clear):
        raise click.UsageError("give --mapping FILE or --clear")
    column_mapping = _mapping_file(mapping) if mapping is not None else None
    return senders_command(
        _args("profile", endpoint, stage, as_json, sender_id=sender_id, mapping=column_mapping)
    )


def _args(
    command: str, endpoint: str | None, stage: str, as_json: bool, **more: Any
) -> SimpleNamespace:
    """What an operator's command body reads: the subcommand, where, --json, its own options."""
    return SimpleNamespace(
        dlq_command=command,
        senders_command=command,
        endpoint=endpoint,
        stage=stage,
        json=as_json,
        **more,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `orders` and returns its exit code (`ExitCode`); the console script exits with it."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _DEBUG_FLAG in args[: args.index("--")] if "--" in args else _DEBUG_FLAG in args
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
    except (BrokenPipeError, _ReaderGone):
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


def dlq_command(args: SimpleNamespace) -> int:
    from orderflow_cli import dlq
    from orderflow_cli.stack import connect

    stack = connect(args.endpoint, args.stage)
    result: Any
    if args.dlq_command == "list":
        result = dlq.waiting(stack)
        lines = dlq.describe_waiting(result)
    elif args.dlq_command == "review":
        result = stack.reviews.query(sender=args.sender, batch_id=args.batch, reason=args.reason)
        lines = [
            f"{shown(r['review_id']):<45} {shown(r.get('order_id') or '-'):<12} "
            f"{shown(r['reason']):<13} {r['decision']:<8} {r['ended']:<9} {shown(r.get('why', ''))}"
            for r in result
        ] or ["no review records"]
    else:
        if not args.ids and not args.reason:
            print("orders: dlq redrive needs review ids or --reason", file=sys.stderr)
            return 2
        edited: dict[str, Any] = args.edited  # read before anything was asked of the stack
        try:
            result = dlq.redrive(
                stack, args.ids, reason=args.reason, edited=edited, sender=args.sender
            )
        except dlq.RedriveRefused as refused:
            print(f"orders: dlq redrive: {refused}", file=sys.stderr)
            return 1
        lines = [f"sent {result['sent']} order(s) as {', '.join(result['keys'].values())}"]
        if result["already"]:
            lines.append(f"already redriven: {', '.join(sorted(result['already']))}")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("\n".join(lines))
    return 0


def _edits(path: Path) -> dict[str, Any]:
    """`--edited`: one `{"review_id", "order"}` per line, by review id."""
    edited: dict[str, Any] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            edited[str(entry["review_id"])] = entry["order"]
        except (ValueError, TypeError, KeyError) as error:
            raise CliError(
                f'--edited {path}, line {number}: not a JSON object {{"review_id", "order"}}:'
                " nothing was sent",
                ExitCode.USAGE,
            ) from error
    return edited


def senders_command(args: SimpleNamespace) -> int:
    from chalicelib.senders import SenderError, SenderRegistry
    from orderflow_cli.stack import connect

    stack = connect(args.endpoint, args.stage)
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])
    result: Any
    try:
        if args.senders_command == "add":
            sender, key = registry.add(args.sender_id, args.name)
            result = {**sender.to_dict(), "api_key": key}
            lines = [f"sender {sender.sender_id} added; its API key (shown once): {key}"]
        elif args.senders_command == "rotate-key":
            key = registry.rotate_key(args.sender_id)
            result = {"sender_id": args.sender_id, "api_key": key}
            lines = [f"sender {args.sender_id}: new API key (shown once): {key}; the old one"
                     " no longer works"]  # fmt: skip
        elif args.senders_command == "disable":
            result = registry.disable(args.sender_id).to_dict()
            lines = [f"sender {args.sender_id} disabled: its keys are refused from now on"]
        elif args.senders_command == "webhook":
            result, lines = _webhook(registry, args, stack.names)
        elif args.senders_command == "profile":
            mapping = args.mapping.to_dict() if args.mapping is not None else None
            result = registry.set_profile(args.sender_id, mapping).to_dict()
            lines = [
                f"sender {args.sender_id}: profile saved: {json.dumps(result['profile'])}"
                if mapping
                else f"sender {args.sender_id}: no saved mapping any more"
            ]
        elif args.senders_command == "limits":
            result = registry.set_limits(
                args.sender_id,
                max_orders_per_request=args.max_orders,
                max_upload_bytes=args.max_upload_bytes,
            ).to_dict()
            orders = result["max_orders_per_request"] or "the stage's"
            size = result["max_upload_bytes"] or "the stage's"
            lines = [f"sender {args.sender_id}: at most {orders} orders per request, {size}"
                     " bytes per upload"]  # fmt: skip
        else:
            result = [s.to_dict() for s in registry.every()]
            lines = [
                f"{s['sender_id']:<40} {s['status']:<9} keys {s['keys']}  {shown(s['name'])}"
                for s in result
            ] or ["no senders"]
    except SenderError as error:
        print(f"orders: senders {args.senders_command}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else "\n".join(lines))
    return 0


def _webhook(
    registry: Any, args: SimpleNamespace, names: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    if args.url and not args.remove:
        _check_webhook(args.url, names)
    if args.end_rotation:
        registry.end_rotation(args.sender_id)
        return {"sender_id": args.sender_id}, [
            f"sender {args.sender_id}: only the newest secret signs from now on"
        ]
    secret = registry.set_webhook(args.sender_id, None if args.remove else args.url,
                                  rotate=args.rotate)  # fmt: skip
    result = {"sender_id": args.sender_id, "webhook_url": args.url, "secret": secret}
    if args.remove:
        return result, [f"sender {args.sender_id}: no webhook any more"]
    shown = f"; its signing secret (shown once): {secret}" if secret else " (its secret is kept)"
    return result, [f"sender {args.sender_id}: completions go to {args.url}{shown}"]


def _check_webhook(url: str, names: dict[str, str]) -> None:
    """The address is checked now as DeliverCallback will check it before each delivery (the
    stage's https and loopback rules): one delivery would refuse is refused here, in a sentence."""
    from chalicelib.callbacks import CallbackPolicy, CallbackRefused, check_url

    policy = CallbackPolicy(
        require_https=names.get("CALLBACK_REQUIRE_HTTPS", "true").lower() != "false",
        allow_loopback=names.get("CALLBACK_ALLOW_LOOPBACK", "false").lower() == "true",
    )
    try:
        check_url(url, policy)
    except CallbackRefused as refused:
        message = str(refused).replace("callback_url", "the webhook URL", 1)
        raise CliError(f"--url: {message}: nothing was changed", ExitCode.USAGE) from refused


def redrive_batch_command(
    batch_id: str, sender: str | None, endpoint: str | None, stage: str, *, as_json: bool
) -> int:
    from chalicelib.senders import SenderError
    from orderflow_cli.batches import RedriveRefused, redrive_batch
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    try:
        sender = stack.sender_for(sender)
    except SenderError as error:
        raise CliError(str(error), ExitCode.USAGE) from error
    try:
        result = redrive_batch(stack, sender=sender, batch_id=batch_id)
    except RedriveRefused as refused:
        raise CliError(str(refused), ExitCode.PROBLEMS) from refused
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(f"batch {batch_id}: {result['how']}: {result['execution_arn']}")
    return 0


def print_report(
    batch_id: str, form: str, endpoint: str | None, stage: str, sender: str | None = None
) -> int:
    """Prints the report of a batch processed by `orders serve` (--endpoint) or a stage."""
    from chalicelib.pipeline.batches import BatchRecords
    from chalicelib.senders import SenderError
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    names, s3 = stack.names, stack.s3
    try:
        sender = stack.sender_for(sender)
    except SenderError as error:
        raise CliError(f"report: {error}", ExitCode.USAGE) from error
    record = BatchRecords(stack.dynamodb, names["BATCHES_TABLE"]).get(sender, batch_id)
    if record is None:
        print(f"orders: no batch {batch_id!r} of sender {sender!r} in stage {stage}",
              file=sys.stderr)  # fmt: skip
        return 1
    keys = record.get("report_keys")
    if not keys:
        print(
            f"orders: batch {batch_id} ({record.get('status')}) rejected nothing", file=sys.stderr
        )
        return 0
    body = s3.get_object(Bucket=names["BUCKET_NAME"], Key=keys[form])["Body"]
    if form == "csv":
        for part in body.iter_chunks():
            sys.stdout.buffer.write(part)
        sys.stdout.flush()
        return 0
    # JSON Lines: each rejection with what the DLQ reviewer decided, once it has run.
    reviewed = {r.get("row"): r for r in stack.reviews.query(sender=sender, batch_id=batch_id)}
    for line in body.iter_lines():
        rejection = json.loads(line)
        review = reviewed.get(rejection["row"])
        if review:
            rejection["review"] = {k: review.get(k) for k in ("decision", "ended", "why")}
        print(json.dumps(rejection, ensure_ascii=False))
    return 0


def serve_api(port: int, s3_port: int, api_key: str | None, *, as_json: bool = False) -> int:
    if port and port == s3_port:
        raise CliError(f"--port and --s3-port are both {port}: give two ports", ExitCode.USAGE)
    for number, option in ((port, "--port"), (s3_port, "--s3-port")):
        _check_free(number, option)  # before the emulator starts: moto's server would hang

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
    if as_json:
        shown = {"api": server.url, "endpoint": server.s3_url, "api_key": server.api_key}
        print(json.dumps(shown), flush=True)
    else:
        print(f"orderflow API   {server.url}", flush=True)
        print(f"emulated S3     {server.s3_url}", flush=True)
        print(
            f"API key         {server.api_key}   (sender 'demo'; send it as: -H 'x-api-key: ...')",
            flush=True,
        )
        print("Ctrl-C stops the server.", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
        print("stopping", flush=True)
    finally:
        server.stop()
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
