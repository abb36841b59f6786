"""`orders report BATCH_ID`: a batch's rejection report, from `orders serve` or a stage.

JSON Lines (the default) carry, for each rejection the DLQ reviewer has had, what it decided;
the CSV is the file as a sender can fix it, copied byte for byte."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from orderflow_cli.commands.options import Command, stack_options
from orderflow_cli.exits import CliError, ExitCode

if TYPE_CHECKING:
    from orderflow_cli.stack import Stack


@click.command(
    cls=Command,
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
@stack_options(with_json=False)  # its JSON is --format jsonl, the default: one per rejection
def report(batch_id: str, form: str, sender: str | None, endpoint: str | None, stage: str) -> int:
    return print_report(batch_id, form, endpoint, stage, sender)


def print_report(
    batch_id: str, form: str, endpoint: str | None, stage: str, sender: str | None = None
) -> int:
    """Prints the report of a batch processed by `orders serve` (--endpoint) or a stage."""
    from chalicelib.pipeline.batches import BatchRecords
    from chalicelib.senders import SenderError
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    try:
        sender = stack.sender_for(sender)
    except SenderError as error:
        raise CliError(f"report: {error}", ExitCode.USAGE) from error
    record = BatchRecords(stack.dynamodb, stack.names["BATCHES_TABLE"]).get(sender, batch_id)
    if record is None:
        print(f"orders: no batch {batch_id!r} of sender {sender!r} in stage {stage}",
              file=sys.stderr)  # fmt: skip
        return ExitCode.PROBLEMS
    keys = record.get("report_keys")
    if not keys:
        print(
            f"orders: batch {batch_id} ({record.get('status')}) rejected nothing", file=sys.stderr
        )
        return ExitCode.OK
    body = stack.s3.get_object(Bucket=stack.names["BUCKET_NAME"], Key=keys[form])["Body"]
    if form == "csv":
        for part in body.iter_chunks():
            sys.stdout.buffer.write(part)
        sys.stdout.flush()
    else:
        _print_reviewed(stack, sender, batch_id, body.iter_lines())
    return ExitCode.OK


def _print_reviewed(stack: Stack, sender: str, batch_id: str, lines: Any) -> None:
    """JSON Lines: each rejection with what the DLQ reviewer decided, once it has run."""
    reviewed = {r.get("row"): r for r in stack.reviews.query(sender=sender, batch_id=batch_id)}
    for line in lines:
        rejection = json.loads(line)
        review = reviewed.get(rejection["row"])
        if review:
            rejection["review"] = {k: review.get(k) for k in ("decision", "ended", "why")}
        print(json.dumps(rejection, ensure_ascii=False))
