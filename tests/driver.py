"""What only the tests do to the embedded emulator, as functions of an `EmbeddedAWS`.

`EmbeddedAWS` (orderflow_cli/emulator/runtime.py) keeps what `orders run`, the local server and
the benchmarks use; these are the tests' own ways in: a rule that routes the completion events
to a queue, as a user of the stack would add one (the `local` fixture adds it), and reading
a queue to its end.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.pipeline import events as completion
from orderflow_cli.emulator import triggers
from orderflow_cli.emulator.runtime import EmbeddedAWS


def route_completion_events(local: EmbeddedAWS) -> str:
    """A rule for the completion events with a queue as its target; returns the queue's URL."""
    return triggers.rule_to_queue(_completions(local), completion.PATTERN)


def completion_events(local: EmbeddedAWS) -> list[dict[str, Any]]:
    """Every completion event the rule delivered so far (received and deleted)."""
    url = local.sqs.get_queue_url(QueueName=_completions(local))["QueueUrl"]
    return [json.loads(body) for body in triggers.drain(url)]


def drain(url: str) -> list[str]:
    """Every message waiting in the emulator's queue at `url` (received and deleted), as sent."""
    return triggers.drain(url)


def _completions(local: EmbeddedAWS) -> str:
    return f"{local.function_prefix}completions"
