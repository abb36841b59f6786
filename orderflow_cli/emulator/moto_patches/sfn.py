"""moto's Step Functions interpreter (5.2.x) patched to behave as Step Functions does.

1. Distributed Map items by recursion. Upstream (moto/stepfunctions/parser/.../
distributed_item_processor_worker.py), `DistributedItemProcessorWorker._eval_pool` evaluates a
job, then calls itself for the next one: a worker over 1,000 chunks (a million orders) is
1,000 nested calls deep and overflows Python's stack. The patch runs the same steps in a loop:
the same frames opened and deleted, the same jobs closed, in the same order.

2. Starting a Step Functions execution is not atomic. Upstream (moto/stepfunctions/parser/
models.py), `StepFunctionsParserBackend.start_execution` looks for an execution of the same name
and appends the new one afterwards, with no lock: two callers at once both start one. On AWS a
name is used once: the same name and input while it runs return the running execution, anything
else is ExecutionAlreadyExists. The patch makes the look-up and the start one step under one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from orderflow_cli.emulator.moto_patches.core import atomically

_starts_applied = False
_start_lock = threading.RLock()


def patch_sfn_atomic_starts() -> None:
    """Makes the look-up of an execution's name and its start one atomic step (idempotent)."""
    global _starts_applied
    if _starts_applied:
        return
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution
    setattr(StepFunctionsParserBackend, "start_execution", atomically(start, _start_lock))  # noqa: B010
    _starts_applied = True


_map_loop_applied = False


def patch_distributed_map_loop() -> None:
    """Runs a Distributed Map worker's jobs in a loop instead of by recursion (idempotent)."""
    global _map_loop_applied
    if _map_loop_applied:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )

    def eval_pool(worker: Any, job: Any, worker_frame: Any) -> None:
        while job is not None:
            job_frame = worker_frame.open_inner_frame()
            worker._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or worker.stopped():
                break
            next_job = worker._job_pool.next_job()
            if next_job is None:
                break
            worker._job_pool.close_job(job)
            job = next_job
        worker._env.delete_frame(worker_frame)
        if job is not None:
            worker._job_pool.close_job(job)

    setattr(DistributedItemProcessorWorker, "_eval_pool", eval_pool)  # noqa: B010
    _map_loop_applied = True
