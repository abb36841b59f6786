"""`orders batches redrive BATCH_ID`: run a failed batch's execution again (the work is
`orderflow_cli.batches`')."""

from __future__ import annotations

import click

from orderflow_cli.commands.options import Group, answer, debug_option, stack_options
from orderflow_cli.exits import CliError, ExitCode


@click.group(cls=Group, help="The batches the pipeline ran: redrive a failed one.")
@debug_option
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
@stack_options()
def batches_redrive(
    batch_id: str, sender: str | None, endpoint: str | None, stage: str, as_json: bool
) -> int:
    from chalicelib.senders import SenderError
    from orderflow_cli.batches import RedriveRefused, redrive_batch
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    try:
        owner = stack.sender_for(sender)
    except SenderError as error:
        raise CliError(str(error), ExitCode.USAGE) from error
    try:
        result = redrive_batch(stack, sender=owner, batch_id=batch_id)
    except RedriveRefused as refused:
        raise CliError(str(refused), ExitCode.PROBLEMS) from refused
    line = f"batch {batch_id}: {result['how']}: {result['execution_arn']}"
    return answer(result, [line], as_json)
