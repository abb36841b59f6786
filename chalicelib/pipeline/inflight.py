"""A few requests in flight at once, in order, with bounded memory.

PrepareFile uploads a file's chunks and RecordBatch reads their outcomes: each one S3 round
trip of tens of milliseconds, a thousand of them for a million orders. One after the other that
is half a minute of waiting in each function (`make capacity`); `S3_IN_FLIGHT` at once overlaps
the waits. `in_order` keeps the results in the items' order and holds at most that many items
and results at a time, so a file's chunks are never all in memory. ValidateOrder's writers use
it too (`STORE_WRITERS` puts in flight). Each piece of work runs in a copy of the caller's
context (`contextvars`: `ContextThreadPool`), as if the caller had run it: its AWS calls count
in the caller's meter (chalicelib.metering), its logs name the caller's function.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

S3_IN_FLIGHT = 8

_T = TypeVar("_T")
_R = TypeVar("_R")


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose every piece of work runs in a copy of its submitter's context
    (s3transfer takes it as its `executor_cls`)."""

    def submit(self, fn: Callable[..., _R], /, *args: Any, **kwargs: Any) -> Future[_R]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def in_order(
    work: Callable[[_T], _R], items: Iterable[_T], width: int = S3_IN_FLIGHT
) -> Iterator[_R]:
    """`work(item)` for each item, up to `width` at once, yielded in the items' order. An
    error of one item's work is raised where its result would have been yielded."""
    if width <= 1:
        yield from map(work, items)
        return
    with ContextThreadPool(width, thread_name_prefix="in-flight") as pool:
        pending: deque[Future[_R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= width:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # a consumer that stopped early: drop what has not started
                future.cancel()
