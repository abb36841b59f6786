"""`orders run`'s progress on stderr: plain lines off a terminal, bars on one."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.main import main
from orderflow_cli.run import process
from tests.conftest import order, write_orders

PLAIN_LINE = re.compile(
    r"orders: (\d+)/(\d+|\?) done( \(\d+%\))?(, \d+ orders/s)?(, about \d+ s left)?; "
    r"reviewer: (\d+) dead letter\(s\) handed"
)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _orders(n: int, bad_every: int = 10) -> list[dict[str, object]]:
    return [order(str(i), qty="0" if i % bad_every == 0 else "1") for i in range(1, n + 1)]


def test_off_a_terminal_progress_is_plain_lines_that_never_repeat(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    path = write_orders(tmp_path / "orders.json", _orders(300))  # 100 chunks of 3
    stream = io.StringIO()
    interval = 0.3
    started = time.monotonic()

    (outcome,) = process(local, [path], progress=stream, progress_seconds=interval)

    elapsed = time.monotonic() - started
    text = stream.getvalue()
    assert "\r" not in text
    assert "\x1b" not in text  # no terminal control sequences
    lines = text.splitlines()
    assert len(lines) >= 2  # the run lasts several intervals
    assert len(lines) == len(set(lines))  # never the same line twice
    matches = [PLAIN_LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    done = [int(m.group(1)) for m in matches if m]
    assert done == sorted(done)
    assert lines[-1].startswith("orders: 300/300 done (100%)")
    assert lines[-1].endswith("reviewer: 30 dead letter(s) handed")
    assert len(lines) <= elapsed / interval + 2  # at most one a interval, and the last
    assert (outcome.total, outcome.rejected) == (300, 30)


def test_orders_run_writes_plain_progress_to_a_stderr_that_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_orders(tmp_path / "orders.json", _orders(200))

    assert main(["run", str(path), "--json"]) == 0

    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines, "no progress shown"
    assert "\r" not in err
    assert len(lines) == len(set(lines))
    assert all(PLAIN_LINE.fullmatch(line) for line in lines), lines
    assert lines[-1] == lines[-1].replace("?", "")  # the total was known at the end
    assert lines[-1].startswith("orders: 200/200 done (100%)")


def test_on_a_terminal_progress_is_bars_with_done_of_total(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    path = write_orders(tmp_path / "orders.json", _orders(60))
    terminal = FakeTerminal()

    process(local, [path], progress=terminal)

    shown = terminal.getvalue()
    assert "\r" in shown  # redrawn in place
    assert "60/60" in shown
    assert "orders/s" in shown  # the rate
    assert "reviewer: 6 dead letter(s) handed" in shown
