"""Progress of `orders run` on stderr: orders done of the total, their rate and the time left,
and the DLQ reviewer's progress (messages handed to it).

On a terminal, two tqdm bars redrawn in place. Anywhere else (a file, a pipe, CI logs), plain
lines that never repeat: at most one every `interval` seconds, only when a count changed, and
one last line when the run ends, if it changed since the last one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

PLAIN_SECONDS = 5.0  # at most one plain line this often


@dataclass(frozen=True)
class Snapshot:
    done: int  # orders done (stored or dead-lettered), every file together
    total: int | None  # orders in every file; None while a file is still being read
    handed: int  # dead letters handed to the reviewer so far (a redelivery counts again)


class Progress:
    """Shows nothing; the base of the two that do. Use as a context manager."""

    def show(self, snapshot: Snapshot) -> None:
        """Records the latest counts (called often; shows them when it is time)."""

    def wants_counts(self) -> bool:
        """Whether counts read now would be shown: reading them costs the emulator's time,
        which a run's own work shares, so nothing asks for counts nobody sees."""
        return False

    def close(self) -> None:
        """Shows the last counts, if anything is still to show."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def progress_for(stream: TextIO | None, interval: float = PLAIN_SECONDS) -> Progress:
    """Bars on a terminal, plain lines elsewhere, nothing without a stream."""
    if stream is None:
        return Progress()
    if stream.isatty():
        return TerminalProgress(stream)
    return PlainProgress(stream, interval)


class TerminalProgress(Progress):
    def __init__(self, stream: TextIO) -> None:
        self._orders = tqdm(
            desc="orders", unit=" orders", total=None, file=stream, position=0, leave=True
        )
        self._reviewer = tqdm(
            desc="reviewer",
            unit=" messages",
            file=stream,
            position=1,
            leave=True,
            bar_format="{desc}: {n_fmt} dead letter(s) handed [{elapsed}, {rate_fmt}]",
        )

    def show(self, snapshot: Snapshot) -> None:
        if snapshot.total is not None and self._orders.total != snapshot.total:
            self._orders.total = snapshot.total
            self._orders.refresh()
        self._orders.update(snapshot.done - self._orders.n)
        self._reviewer.update(snapshot.handed - self._reviewer.n)

    def wants_counts(self) -> bool:
        return True

    def close(self) -> None:
        self._orders.close()
        self._reviewer.close()


class PlainProgress(Progress):
    def __init__(
        self,
        stream: TextIO,
        interval: float = PLAIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._next_line = self._started + interval
        self._latest: Snapshot | None = None
        self._shown: Snapshot | None = None

    def show(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        if self.wants_counts() and snapshot != self._shown:
            self._write(snapshot)

    def wants_counts(self) -> bool:
        return self._clock() >= self._next_line

    def close(self) -> None:
        if self._latest is not None and self._latest != self._shown:
            self._write(self._latest)

    def _write(self, snapshot: Snapshot) -> None:
        now = self._clock()
        self._next_line = now + self._interval
        self._shown = snapshot
        print(line(snapshot, now - self._started), file=self._stream, flush=True)


def line(snapshot: Snapshot, seconds: float) -> str:
    """`orders: 120/400 done (30%), 40 orders/s, about 7 s left; reviewer: 12 dead letter(s)
    handed`, without what is not known yet."""
    done, total = snapshot.done, snapshot.total
    rate = done / seconds if seconds > 0 else 0.0
    parts = [f"orders: {done}/{'?' if total is None else total} done"]
    if total:
        parts[0] += f" ({100 * done // total}%)"
    if rate > 0:
        parts.append(f"{rate:.0f} orders/s")
        if total is not None and total > done:
            parts.append(f"about {(total - done) / rate:.0f} s left")
    return ", ".join(parts) + f"; reviewer: {snapshot.handed} dead letter(s) handed"
