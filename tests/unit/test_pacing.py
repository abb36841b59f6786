"""The chunk's writers slow down together when DynamoDB throttles: fewer in flight, a pause that
grows while throttles go on, and back up once puts go through."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.pipeline.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_throttle_halves_the_writes_in_flight_and_successes_bring_them_back() -> None:
    clock = Clock()
    pacer = Pacer(8, base_seconds=0.05, clock=clock)
    assert pacer.window == 8

    pacer.acquire()
    pacer.release(throttled=True)
    assert pacer.window == 4
    clock.now += 1  # past the pause
    pacer.acquire()
    pacer.release(throttled=True)
    assert pacer.window == 2

    # additive increase: a window's worth of successes adds one
    clock.now += 1  # past the second pause
    for _ in range(40):
        pacer.acquire()
        pacer.release(throttled=False)
    assert pacer.window == 8  # never above the writers it was given
    stats = pacer.stats()
    assert (stats.throttles, stats.least_in_flight) == (2, 2)


def test_a_run_of_throttles_pauses_for_longer_each_time_and_the_base_after_a_success() -> None:
    clock = Clock()
    pacer = Pacer(4, base_seconds=0.05, max_seconds=0.3, clock=clock)
    pauses = []
    for _ in range(5):
        pacer.acquire()
        before = clock.now
        pacer.release(throttled=True)
        pauses.append(round(pacer._not_before - before, 3))
        clock.now = pacer._not_before  # the pause is over
    assert pauses == [0.05, 0.1, 0.2, 0.3, 0.3]  # doubling, up to its cap

    pacer.acquire()
    pacer.release(throttled=False)
    pacer.acquire()
    before = clock.now
    pacer.release(throttled=True)
    assert round(pacer._not_before - before, 3) == 0.05  # a new run starts from the base


def test_throttles_during_a_pause_do_not_lengthen_it() -> None:
    clock = Clock()
    pacer = Pacer(4, base_seconds=0.05, clock=clock)
    for _ in range(3):  # three writers in flight when the throttle came back for all three
        pacer.acquire()
    for _ in range(3):
        pacer.release(throttled=True)
    assert round(pacer._not_before - clock.now, 3) == 0.05
    assert pacer.stats().paused_seconds == 0.05


def test_writers_wait_for_the_pause_and_never_exceed_the_window() -> None:
    pacer = Pacer(4, base_seconds=0.2)
    pacer.acquire()
    pacer.release(throttled=True)  # window 2, pause 0.2 s
    in_flight, most = 0, 0
    lock = threading.Lock()
    started = time.monotonic()
    first_start: list[float] = []

    def writer() -> None:
        nonlocal in_flight, most
        pacer.acquire()
        with lock:
            first_start.append(time.monotonic() - started)
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        pacer.release(throttled=False)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert min(first_start) >= 0.15  # nobody started during the pause
    assert most <= 3  # the window, growing by at most one while they ran


def test_a_pacer_needs_at_least_one_writer() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Pacer(0)
