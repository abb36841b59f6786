"""`in_order`: several requests in flight, results in the items' order, memory bounded."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from chalicelib.pipeline.inflight import in_order

WHO = contextvars.ContextVar("who", default="nobody")


def test_results_come_in_the_items_order_whatever_order_they_finish_in() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.02 * (5 - n % 5))  # the earlier items finish last
        return n * n

    assert list(in_order(slow_first, range(20), width=4)) == [n * n for n in range(20)]


def test_at_most_width_items_are_in_flight_or_held() -> None:
    running, most, taken = 0, 0, 0
    lock = threading.Lock()

    def items() -> Iterator[int]:  # counts how far ahead of the consumer the items are taken
        nonlocal taken
        for n in range(30):
            taken += 1
            yield n

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return n

    for consumed, _ in enumerate(in_order(work, items(), width=3), start=1):
        assert taken - consumed <= 3  # never the whole file's chunks at once
    assert 1 < most <= 3


def test_an_error_is_raised_where_its_result_would_have_come() -> None:
    def work(n: int) -> int:
        if n == 4:
            raise ValueError("item 4")
        return n

    results = in_order(work, range(10), width=3)
    got = [next(results) for _ in range(4)]
    with pytest.raises(ValueError, match="item 4"):
        next(results)
    assert got == [0, 1, 2, 3]


def test_the_work_runs_in_the_callers_context() -> None:
    WHO.set("ValidateOrder")  # as the emulator marks the function a thread runs
    seen = list(in_order(lambda _n: (WHO.get(), threading.current_thread().name), range(6), 3))
    assert {who for who, _ in seen} == {"ValidateOrder"}
    assert any(name.startswith("in-flight") for _, name in seen)  # really other threads


def test_one_at_a_time_is_the_callers_own_thread() -> None:
    names = set(in_order(lambda _n: threading.current_thread().name, range(3), width=1))
    assert names == {threading.current_thread().name}
