"""The simulation's clock: discrete events, and the chunks' writes as a fluid.

Each chunk writing asks for its write units a second (the closed queueing model of its
writers, `stages.plan_chunk`); while their sum exceeds the table's usable rate, every one of
them is slowed in proportion. A virtual clock keeps that exact: every write phase has its
length at the table's full speed, and virtual time runs at the fraction of real time the
table allows (all writing chunks progress at the same fraction of their own speed).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from bench.capacity.stages import refused_share


class FluidClock:
    """The event queue, the write phases in flight, and what the table took and refused."""

    def __init__(
        self,
        usable: float,
        *,
        writers_per_chunk: int,
        wcu_per_put: float,
        backoff: float,
        retries: int,
    ) -> None:
        self.usable = usable  # the write units a second the table takes
        self.writers_per_chunk = writers_per_chunk
        self.wcu_per_put = wcu_per_put
        self.backoff = backoff  # a throttled put's mean sleep
        self.retries = retries  # a throttled put's retries, beyond its first attempt
        self.now = 0.0
        self.virtual = 0.0
        self.demand = 0.0
        self.demand_peak = 0.0
        self.accepted = 0.0  # write units taken, and of them weighted by the refused share
        self.refused = 0.0
        self.exhausted = 0.0
        self.writers = 0  # writers of the chunks writing now
        self.sequence = 0
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.writes: list[tuple[float, int, float, Callable[[], None]]] = []

    def at(self, when: float, action: Callable[[], None]) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, self.sequence, action))

    def write(self, seconds: float, rate: float, then: Callable[[], None]) -> None:
        """A chunk's writes: `seconds` at the table's full speed, asking `rate` units/s."""
        self.sequence += 1
        heapq.heappush(self.writes, (self.virtual + seconds, self.sequence, rate, then))
        self.writers += self.writers_per_chunk
        self.demand += rate
        self.demand_peak = max(self.demand_peak, self.demand)

    def _speed(self) -> float:
        return 1.0 if self.demand <= self.usable else self.usable / self.demand

    def _advance(self, until: float) -> None:
        elapsed = until - self.now
        if elapsed > 0 and self.demand > 0:
            speed = self._speed()
            self.virtual += elapsed * speed
            taken = elapsed * min(self.demand, self.usable)
            share = refused_share(
                self.demand / self.wcu_per_put,
                self.usable / self.wcu_per_put,
                self.writers,
                self.backoff,
            )
            self.accepted += taken
            self.refused += taken * share
            self.exhausted += taken * share ** (1 + self.retries)
        self.now = until

    def run_events(self) -> None:
        """Every event and write phase in time order, until none is left."""
        while self.events or self.writes:
            next_event = self.events[0][0] if self.events else math.inf
            next_write = math.inf
            if self.writes:
                next_write = self.now + (self.writes[0][0] - self.virtual) / self._speed()
            if next_write <= next_event:
                self._advance(next_write)
                _, _, rate, then = heapq.heappop(self.writes)
                self.writers -= self.writers_per_chunk
                self.demand = max(0.0, self.demand - rate)
                if not self.writes:
                    self.demand = 0.0
                then()
            else:
                when, _, action = heapq.heappop(self.events)
                self._advance(when)
                action()
