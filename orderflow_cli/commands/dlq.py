"""`orders dlq list | review | redrive`: what the pipeline refused, from `orders serve` or a
stage. The work is `orderflow_cli.dlq`'s; here are the options, `--edited`'s file and the lines
a terminal shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from orderflow_cli.commands.options import Group, answer, debug_option, stack_options
from orderflow_cli.exits import CliError, ExitCode
from orderflow_cli.text import shown

_only_sender = click.option(
    "--sender", metavar="ID", help="Only this sender's records  [default: every sender's]"
)


@click.group(cls=Group, help="What the pipeline refused: list, review, redrive.")
@debug_option
def dlq() -> None:
    pass


@dlq.command("list", help="Messages waiting in the DLQ and its redrive queue, by reason.")
@stack_options()
def dlq_list(endpoint: str | None, stage: str, as_json: bool) -> int:
    from orderflow_cli.dlq import describe_waiting, waiting
    from orderflow_cli.stack import connect

    listing = waiting(connect(endpoint, stage))
    return answer(listing, describe_waiting(listing), as_json)


@dlq.command("review", help="The reviewer's records: what was retried, repaired, archived.")
@click.option("--batch", metavar="ID", help="Only this batch.")
@click.option("--reason", help="Only this reason (invalid, conflict, ...).")
@_only_sender
@stack_options()
def dlq_review(
    batch: str | None,
    reason: str | None,
    sender: str | None,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    records = stack.reviews.query(sender=sender, batch_id=batch, reason=reason)
    return answer(records, _review_lines(records), as_json)


def _review_lines(records: list[dict[str, Any]]) -> list[str]:
    """One line per review record: its id, order, reason, decision, where it ended and why."""
    return [
        f"{shown(r['review_id']):<45} {shown(r.get('order_id') or '-'):<12} "
        f"{shown(r['reason']):<13} {r['decision']:<8} {r['ended']:<9} {shown(r.get('why', ''))}"
        for r in records
    ] or ["no review records"]


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
@stack_options()
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
    edits = _edits(edited) if edited else {}  # read before anything is asked of the stack
    from orderflow_cli import dlq as operations
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    try:
        result = operations.redrive(stack, list(ids), reason=reason, edited=edits, sender=sender)
    except operations.RedriveRefused as refused:
        print(f"orders: dlq redrive: {refused}", file=sys.stderr)
        return ExitCode.PROBLEMS
    lines = [f"sent {result['sent']} order(s) as {', '.join(result['keys'].values())}"]
    if result["already"]:
        lines.append(f"already redriven: {', '.join(sorted(result['already']))}")
    return answer(result, lines, as_json)


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
