"""Back-pressure for a chunk's writers: slow down when DynamoDB throttles, not dead-letter.

A chunk writes its valid orders with up to `writers` conditional puts in flight
(`STORE_WRITERS`). DynamoDB answers a burst above what a partition or the table takes with a
throttle; every writer of the chunk shares one `Pacer`, which reacts as TCP does to loss:

- a throttle halves the writes allowed in flight (never below one) and pauses every writer of
  the chunk before its next put, for a pause that doubles with each throttle that follows
  within it (`base_seconds` up to `max_seconds`) and starts again from the base once puts go
  through;
- each put that goes through without a throttle adds one write in flight, back up to `writers`
  (additive increase: one per window's worth of puts).

So a hard throttle slows the whole chunk within one round trip, instead of each order burning
its own retries (`RetryPolicy`) at full speed and ending in the DLQ as `store_failed`. What
still fails after every retry is dead-lettered with its reason, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# The longest pause a run of throttles grows to: long enough for a partition to recover, short
# enough that a chunk of 1,000 orders stays well inside ValidateOrder's timeout.
PACER_MAX_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class PacerStats:
    throttles: int
    paused_seconds: float  # summed over pauses, not over writers
    least_in_flight: int  # the smallest window the chunk fell to


class Pacer:
    """How many puts may be in flight now, and when the next may start."""

    def __init__(
        self,
        writers: int,
        *,
        base_seconds: float = 0.05,
        max_seconds: float = PACER_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if writers < 1:
            raise ValueError(f"writers must be at least 1, not {writers}")
        self.writers = writers
        self._base = base_seconds
        self._max = max_seconds
        self._clock = clock
        self._cond = threading.Condition()
        self._window = float(writers)
        self._in_flight = 0
        self._not_before = 0.0
        self._pause = 0.0  # the last pause; 0 once a put went through after it
        self._throttles = 0
        self._paused = 0.0
        self._least = writers

    @property
    def window(self) -> int:
        with self._cond:
            return int(self._window)

    def acquire(self) -> None:
        """Waits until a put may start: fewer in flight than the window, and no pause on."""
        with self._cond:
            while True:
                wait = self._not_before - self._clock()
                if wait <= 0 and self._in_flight < int(self._window):
                    self._in_flight += 1
                    return
                self._cond.wait(timeout=wait if wait > 0 else None)

    def release(self, *, throttled: bool) -> None:
        """A put ended: `throttled` if DynamoDB refused it for its rate."""
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self._throttles += 1
                self._window = max(1.0, self._window / 2)
                self._least = min(self._least, int(self._window))
                now = self._clock()
                if self._not_before <= now:  # not already pausing: a new (or longer) pause
                    self._pause = min(self._max, self._pause * 2 if self._pause else self._base)
                    self._not_before = now + self._pause
                    self._paused += self._pause
            else:
                self._pause = 0.0
                self._window = min(float(self.writers), self._window + 1 / self._window)
            self._cond.notify_all()

    def stats(self) -> PacerStats:
        with self._cond:
            return PacerStats(self._throttles, round(self._paused, 3), self._least)
