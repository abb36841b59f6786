"""What several of the patches share, and the patch of moto's core.

1. A process-wide lock on every request. Upstream (moto/core/base_backend.py),
`BackendDict.__getitem__` takes `backend_lock`, moto's one global lock, on every lookup of an
account's backends, and every request makes several (its service's, and IAM's to mark the
access key as used), only to create the account's backends the first time. With the functions
of a Map and the event source mapping running as threads, each request queues on that lock
behind whichever thread the interpreter has paused. The patch returns an account's backends
without the lock once they exist (they are created, and registered for moto's reset, in the
same locked step, and a reset removes both); the first lookup takes moto's own locked path.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


def atomically(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    """`method`, run under `lock`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return wrapper


_lookups_applied = False


def patch_backend_lookup_lock() -> None:
    """Looks up an account's existing backends without moto's global lock (idempotent)."""
    global _lookups_applied
    if _lookups_applied:
        return
    from moto.core.base_backend import BackendDict

    locked_lookup = BackendDict.__getitem__

    def lookup(backends: BackendDict[Any], account_id: str) -> Any:
        try:
            return dict.__getitem__(backends, account_id)
        except KeyError:
            return locked_lookup(backends, account_id)

    setattr(BackendDict, "__getitem__", lookup)  # noqa: B010 - a dunder replaced on the class
    _lookups_applied = True
