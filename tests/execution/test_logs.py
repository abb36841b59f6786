"""What the functions log while a file goes through: JSON lines, no order content."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from chalicelib.log import JsonFormatter
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import FAST, SAMPLES, run

EMAIL = re.compile(r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything the `orderflow` loggers write, through the functions' own JSON formatter."""
    logger = logging.getLogger("orderflow")
    saved = list(logger.handlers)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("local"))
    logger.handlers = [handler]  # log.configure keeps a JSON handler it finds
    yield buffer
    logger.handlers = saved


def test_a_run_logs_json_with_batch_ids_and_counts_but_no_order_content(
    log_lines: io.StringIO,
) -> None:
    with EmbeddedAWS({**FAST, "LOG_LEVEL": "DEBUG"}) as local:
        (batch,) = run(local, SAMPLES / "mixed.json")

    lines = [line for line in log_lines.getvalue().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(entries) >= 4
    assert all(entry["stage"] == "local" for entry in entries)
    recorded = [e for e in entries if e["message"] == "batch recorded"]
    assert recorded[0]["batch_id"] == batch["batch_id"]
    assert (recorded[0]["total"], recorded[0]["stored"], recorded[0]["rejected"]) == (6, 2, 4)
    assert {e["message"] for e in entries} >= {"file prepared", "chunk processed"}
    text = "\n".join(lines)
    assert not EMAIL.search(text), "an e-mail address reached the logs"
    for value in ("Foo Bar", "Ana María Núñez", "Blue mug", "not-an-email"):
        assert value not in text, f"order content {value!r} reached the logs"
