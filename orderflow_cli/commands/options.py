"""What every `orders` subcommand shares: the command classes that turn any error into one
sentence and an exit code, the `--debug`, `--weather` and stack options (`--endpoint`,
`--stage`, `--json`), reading a `--mapping` file, and printing an answer as lines or JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import click

from orderflow_cli.exits import CliError, ExitCode

if TYPE_CHECKING:
    from chalicelib.orders.readers.columns import ColumnMapping

F = TypeVar("F", bound=Callable[..., Any])
DEBUG_FLAG = "--debug"


class Command(click.Command):
    """A command whose errors carry its name (`orders dlq list: ...`); anything unexpected
    becomes a `CliError` with exit code 5, its traceback kept for `--debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            error.command = error.command or ctx.command_path
            raise
        except BrokenPipeError as error:  # click would exit 1 on it, silently
            raise ReaderGone from error
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise CliError(
                f"unexpected error: {type(error).__name__}: {first_line}"
                f" ({DEBUG_FLAG} shows where)",
                ExitCode.INTERNAL,
                ctx.command_path,
            ) from error


class ReaderGone(Exception):
    """stdout's reader has gone (`orders dlq review | head`)."""


class Group(click.Group):
    command_class = Command
    group_class = type  # subgroups are `Group`s too


debug_option = click.option(
    DEBUG_FLAG,
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


weather_option = click.option(
    "--weather",
    metavar="SPEC",
    expose_value=False,
    callback=_weather,
    help="AWS's weather on the emulator: throttles and latency, as dynamodb=3%,s3=2%,latency=5ms"
    " (docs/operations.md, 'AWS's weather'; also ORDERFLOW_WEATHER).",
)


def _endpoint_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise click.BadParameter(f"{value!r} is not a URL: give it as http://127.0.0.1:PORT")
    return value


def stack_options(with_json: bool = True) -> Callable[[F], F]:
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
        for option in reversed([*options, debug_option]):
            command = option(command)
        return command

    return decorate


def mapping_file(path: Path) -> ColumnMapping:
    """The column mapping in a JSON file, validated; a mistake is a usage error."""
    from chalicelib.orders.readers.columns import ColumnMapping, MappingError

    try:
        return ColumnMapping.from_json(path.read_bytes())
    except OSError as error:
        raise CliError(f"--mapping {path}: {error.strerror or error}", ExitCode.USAGE) from error
    except MappingError as error:
        raise CliError(f"--mapping {path}: {error.message}", ExitCode.USAGE) from error


def answer(result: Any, lines: list[str], as_json: bool) -> int:
    """Prints a command's answer: one JSON document (`--json`), else its lines; exit code 0."""
    print(json.dumps(result, indent=2, default=str) if as_json else "\n".join(lines))
    return ExitCode.OK
