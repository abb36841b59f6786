"""`orderflow_cli.progress`: when plain lines are written, and what a bar shows."""

from __future__ import annotations

import io

from orderflow_cli.progress import (
    PlainProgress,
    Progress,
    Snapshot,
    TerminalProgress,
    line,
    progress_for,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_plain_line_at_most_every_interval_and_only_when_something_changed() -> None:
    clock, out = Clock(), io.StringIO()
    progress = PlainProgress(out, interval=5.0, clock=clock)

    progress.show(Snapshot(10, None, 0))  # too soon
    clock.now += 5
    progress.show(Snapshot(20, 100, 0))  # shown
    clock.now += 1
    progress.show(Snapshot(30, 100, 0))  # changed, but too soon
    clock.now += 5
    progress.show(Snapshot(30, 100, 0))  # shown: changed since the last line
    clock.now += 10
    progress.show(Snapshot(30, 100, 0))  # nothing changed
    progress.close()  # nothing new to show

    assert out.getvalue().splitlines() == [
        "orders: 20/100 done (20%), 4 orders/s, about 20 s left; reviewer: 0 dead letter(s) handed",
        "orders: 30/100 done (30%), 3 orders/s, about 26 s left; reviewer: 0 dead letter(s) handed",
    ]


def test_closing_shows_the_last_counts_once() -> None:
    clock, out = Clock(), io.StringIO()
    with PlainProgress(out, interval=5.0, clock=clock) as progress:
        clock.now += 2
        progress.show(Snapshot(100, 100, 7))

    assert out.getvalue() == (
        "orders: 100/100 done (100%), 50 orders/s; reviewer: 7 dead letter(s) handed\n"
    )


def test_a_line_leaves_out_what_is_not_known_yet() -> None:
    assert line(Snapshot(0, None, 0), 0.0) == "orders: 0/? done; reviewer: 0 dead letter(s) handed"
    assert line(Snapshot(5, 0, 0), 1.0) == (
        "orders: 5/0 done, 5 orders/s; reviewer: 0 dead letter(s) handed"
    )


def test_the_stream_chooses_bars_lines_or_nothing() -> None:
    assert isinstance(progress_for(FakeTerminal()), TerminalProgress)
    assert isinstance(progress_for(io.StringIO()), PlainProgress)
    assert type(progress_for(None)) is Progress


def test_a_bar_shows_done_of_total_rate_and_the_reviewer() -> None:
    terminal = FakeTerminal()
    with progress_for(terminal) as progress:
        progress.show(Snapshot(10, None, 0))
        progress.show(Snapshot(40, 400, 3))
        progress.show(Snapshot(400, 400, 12))

    shown = terminal.getvalue()
    assert "400/400" in shown
    assert "orders/s" in shown
    assert "reviewer: 12 dead letter(s) handed" in shown


def test_counts_are_wanted_only_when_they_would_be_shown() -> None:
    clock, out = Clock(), io.StringIO()
    plain = PlainProgress(out, interval=5.0, clock=clock)
    assert not plain.wants_counts()  # the first line is due after one interval
    clock.now += 5
    assert plain.wants_counts()
    plain.show(Snapshot(20, 100, 0))  # shown: the next one is due an interval later
    assert not plain.wants_counts()
    clock.now += 5
    assert plain.wants_counts()

    assert not Progress().wants_counts()  # shows nothing: never worth a read
    terminal = TerminalProgress(FakeTerminal())
    assert terminal.wants_counts()  # bars are redrawn as counts come
    terminal.close()
