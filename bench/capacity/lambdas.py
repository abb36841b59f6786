"""ValidateOrder's execution environments on Lambda, for the simulation."""

from __future__ import annotations

from bench.capacity.limits import Platform


class LambdaPool:
    """ValidateOrder's execution environments: the concurrency it may use, the ones it has,
    and Lambda's scaling rate (a token bucket refilled continuously)."""

    def __init__(self, cap: int, platform: Platform) -> None:
        self.cap = cap
        self.busy = 0
        self.created = 0
        self.capacity = float(platform.scale_environments)
        self.tokens = self.capacity
        self.refill = platform.scale_environments / platform.scale_seconds
        self.last = 0.0
        self.cold = platform.cold_start

    def acquire(self, now: float) -> float | None:
        """The cold start the invocation pays, or None when Lambda throttles it."""
        if self.busy >= self.cap:
            return None
        if self.busy < self.created:
            self.busy += 1
            return 0.0
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.refill)
        self.last = now
        if self.tokens < 1:
            return None
        self.tokens -= 1
        self.created += 1
        self.busy += 1
        return self.cold

    def release(self) -> None:
        self.busy -= 1
