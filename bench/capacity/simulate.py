"""The discrete-event simulation of one scenario's files on AWS.

Discrete: each file's S3 event, PrepareFile, its Map's children (at most MaxConcurrency at
once), each child's invocation of ValidateOrder (throttled by Lambda beyond the function's
concurrency or scaling rate, retried as the definition's Retry says, else the chunk is left to
RecordBatch), the round trips before and after a chunk's writes, RecordBatch (reprocessing what
failed, then reading every outcome), and the DLQ reviewer's groups. Fluid: the writes, sharing
the table's usable rate (`fluid.FluidClock`).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from bench.capacity.design import Design
from bench.capacity.fluid import FluidClock
from bench.capacity.lambdas import LambdaPool
from bench.capacity.limits import EXPRESS_MAX_SECONDS, Platform, Scenario
from bench.capacity.outcome import Outcome
from bench.capacity.partitions import usable_write_rate
from bench.capacity.stages import (
    ChunkPlan,
    chunk_sizes,
    effective_chunk_orders,
    mean_backoff,
    peak_rate,
    plan_chunk,
    prepare_seconds,
    record_seconds,
    reviewer_group_seconds,
)
from bench.capacity.units import duration
from bench.capacity.workload import Measured
from chalicelib import costs


@dataclass(slots=True)
class _Chunk:
    file: int
    index: int
    orders: int
    started: float = 0.0
    invoked: float = 0.0


@dataclass(slots=True)
class _Run:
    """One file's execution."""

    pending: deque[_Chunk]
    running: int = 0
    failed: list[_Chunk] = field(default_factory=list)
    map_started: float = 0.0
    map_ended: float = 0.0
    prepare: float = 0.0
    record_started: float = 0.0
    ended: float = 0.0


class Simulation(FluidClock):
    """A fluid discrete-event simulation of the files of one scenario on AWS (the module's
    docstring). `usable_wcu`, `prepare_scale`, `record_scale` and `cpu_scale` lift a limit to
    see what it costs (`predict.relaxations`)."""

    def __init__(
        self,
        design: Design,
        measured: Measured,
        platform: Platform,
        scenario: Scenario,
        *,
        seed: int = 11,
        usable_wcu: float | None = None,
        prepare_scale: float = 1.0,
        record_scale: float = 1.0,
        cpu_scale: float = 1.0,
    ) -> None:
        keys = scenario.senders * design.order_shards
        super().__init__(
            (
                usable_write_rate(scenario.table_wcu, keys, platform.partition_wcu)
                if usable_wcu is None
                else usable_wcu
            ),
            writers_per_chunk=design.store_writers,
            wcu_per_put=measured.wcu_per_put,
            backoff=mean_backoff(design),
            retries=design.store_max_throttle_retries,
        )
        self.design = design
        self.measured = measured
        self.platform = platform
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.cpu_scale = cpu_scale
        self.prepare_scale = prepare_scale
        self.record_scale = record_scale
        self.per_chunk = effective_chunk_orders(design, measured)
        self.runs: list[_Run] = []
        self.plans: dict[tuple[int, int], ChunkPlan] = {}
        self._set_up_lambda()
        self._set_up_tallies()

    def _set_up_lambda(self) -> None:
        """The Map's slots, ValidateOrder's environments, the reviewer's, the timeout."""
        design, platform, senders = self.design, self.platform, self.scenario.senders
        concurrency = design.max_concurrency or platform.map_max_children
        self.map_slots = min(concurrency, platform.map_max_children)
        unreserved = platform.account_concurrency - design.other_reserved - 2 * senders
        cap = design.validate_reserved if design.validate_reserved is not None else unreserved
        self.pool = LambdaPool(max(0, min(cap, platform.account_concurrency)), platform)
        self.timeout = min(design.validate_timeout, EXPRESS_MAX_SECONDS)
        self.reviewers_free = design.reviewer_reserved or platform.account_concurrency
        self.review_queue: deque[tuple[int, float]] = deque()  # (sender, rejected orders)

    def _set_up_tallies(self) -> None:
        self.throttled = 0
        self.failed_total = 0
        self.timeouts = 0  # invocations longer than their function may run
        self.chunk_max = 0.0
        self.validate_busy = 0.0
        self.record_busy = 0.0
        self.express = 0.0
        self.prepare_busy = 0.0
        self.progress: list[list[tuple[float, float]]] = [[] for _ in range(self.scenario.senders)]
        self.reviews: list[list[tuple[float, float]]] = [[] for _ in range(self.scenario.senders)]
        self.reviewer_end = 0.0
        # S3 requests a second on one batch's prefix beside the chunks' own (one GET and one
        # PUT a chunk): PrepareFile's uploads and RecordBatch's reads, `n` at a time
        chunk_bytes = self.per_chunk * self.measured.bytes_per_order
        self.upload_rate = self.design.prepare_uploads / self.platform.s3_seconds(chunk_bytes)
        self.read_rate = self.design.record_reads / self.platform.s3_seconds(0)

    def run(self) -> Outcome:
        for sender in range(self.scenario.senders):
            sizes = chunk_sizes(self.scenario.orders, self.per_chunk)
            chunks = deque(_Chunk(sender, i, n) for i, n in enumerate(sizes))
            self.runs.append(_Run(chunks))
            self.at(self.platform.s3_event, partial(self.start_prepare, sender))
        self.run_events()
        return self.outcome()

    # -- a file's path ------------------------------------------------------------------------
    def start_prepare(self, f: int) -> None:
        run = self.runs[f]
        chunks = len(run.pending)
        seconds = self.prepare_scale * prepare_seconds(
            self.scenario.orders, chunks, self.design, self.measured, self.platform
        )
        run.prepare = seconds
        self.prepare_busy += seconds
        self.at(self.now + seconds + self.platform.s3_request, lambda: self.start_map(f))

    def start_map(self, f: int) -> None:
        self.runs[f].map_started = self.now
        self.fill(f)

    def fill(self, f: int) -> None:
        run = self.runs[f]
        while run.running < self.map_slots and run.pending:
            chunk = run.pending.popleft()
            run.running += 1
            chunk.started = self.now
            self.at(self.now + self.platform.child_start, partial(self.attempt, chunk, 0))
        if not run.pending and run.running == 0 and run.map_ended == 0.0:
            run.map_ended = self.now
            self.start_record(f)

    def plan(self, orders: int, memory_mb: int) -> ChunkPlan:
        key = (orders, memory_mb)
        if key not in self.plans:
            measured = self.measured
            if self.cpu_scale != 1.0:
                measured = replace(
                    measured,
                    validate_cpu_per_order=measured.validate_cpu_per_order / self.cpu_scale,
                    validate_cpu_per_chunk=measured.validate_cpu_per_chunk / self.cpu_scale,
                )
            self.plans[key] = plan_chunk(
                orders, memory_mb, self.design.store_writers, measured, self.platform
            )
        return self.plans[key]

    def attempt(self, chunk: _Chunk, retry: int) -> None:
        cold = self.pool.acquire(self.now)
        if cold is None:
            self.throttled += 1
            if retry < self.design.invoke_retry_attempts:
                base = self.design.invoke_retry_interval * self.design.invoke_retry_backoff**retry
                if self.design.invoke_retry_max_delay is not None:
                    base = min(base, self.design.invoke_retry_max_delay)
                delay = self.rng.uniform(0, base)  # JitterStrategy FULL
                self.at(self.now + delay, lambda: self.attempt(chunk, retry + 1))
            else:  # caught: ChunkFailed, and RecordBatch processes it again
                self.failed_total += 1
                self.runs[chunk.file].failed.append(chunk)
                self.end_child(chunk)
            return
        chunk.invoked = self.now
        plan = self.plan(chunk.orders, self.design.validate_memory_mb)
        self.at(self.now + cold + plan.before, lambda: self.writes_of(chunk, plan, self.chunk_done))

    def writes_of(self, chunk: _Chunk, plan: ChunkPlan, done: Callable[[_Chunk], None]) -> None:
        def after() -> None:
            self.at(self.now + plan.after, lambda: done(chunk))

        if plan.write_seconds > 0:
            self.write(plan.write_seconds, plan.wcu_rate, after)
        else:
            self.at(self.now + plan.cpu_only, after)

    def chunk_done(self, chunk: _Chunk) -> None:
        self.pool.release()
        seconds = self.now - chunk.invoked
        self.chunk_max = max(self.chunk_max, seconds)
        if seconds > self.timeout:
            self.timeouts += 1
        self.validate_busy += seconds
        self.chunk_side_effects(chunk)
        self.end_child(chunk)

    def chunk_side_effects(self, chunk: _Chunk) -> None:
        self.progress[chunk.file].append((self.now, 1.0))  # the batch record's progress
        if self.measured.invalid_fraction > 0 and chunk.orders:
            self.review_queue.append((chunk.file, chunk.orders * self.measured.invalid_fraction))
            self.review()

    def end_child(self, chunk: _Chunk) -> None:
        self.express += self.now - chunk.started
        run = self.runs[chunk.file]
        run.running -= 1
        self.fill(chunk.file)

    def start_record(self, f: int) -> None:
        run = self.runs[f]
        run.record_started = self.now
        self.at(self.now + self.platform.cold_start, lambda: self.reprocess(f))

    def reprocess(self, f: int) -> None:
        run = self.runs[f]
        if run.failed:
            chunk = run.failed.pop(0)
            plan = self.plan(chunk.orders, self.design.record_memory_mb)

            def done(c: _Chunk) -> None:
                self.chunk_side_effects(c)
                self.reprocess(f)

            self.at(self.now + plan.before, lambda: self.writes_of(chunk, plan, done))
            return
        chunks = len(chunk_sizes(self.scenario.orders, self.per_chunk))
        tail = self.record_scale * (
            record_seconds(chunks, self.design, self.measured, self.platform)
            - self.platform.cold_start
        )
        self.at(self.now + tail, lambda: self.end_file(f))

    def end_file(self, f: int) -> None:
        run = self.runs[f]
        run.ended = self.now
        self.record_busy += self.now - run.record_started
        if self.now - run.record_started > self.design.record_timeout:
            self.timeouts += 1
        if run.prepare > self.design.prepare_timeout:
            self.timeouts += 1

    # -- the DLQ reviewer (not on the batch's path; its writes are the reviews table's) -------
    def review(self) -> None:
        while self.reviewers_free > 0 and self.review_queue:
            batch = [
                self.review_queue.popleft()
                for _ in range(min(self.design.reviewer_batch_size, len(self.review_queue)))
            ]
            self.reviewers_free -= 1
            ended = self.now
            for sender, rejections in batch:
                ended += reviewer_group_seconds(
                    self.design, self.measured, self.platform, rejections
                )
                units = rejections * self.measured.reviews_wcu_per_rejection
                self.reviews[sender].append((ended, units))
            finished = ended
            self.reviewer_end = max(self.reviewer_end, finished)
            self.at(finished, self.reviewer_free)

    def reviewer_free(self) -> None:
        self.reviewers_free += 1
        self.review()

    # -- the answer ----------------------------------------------------------------------------
    def outcome(self) -> Outcome:
        end = max(run.ended for run in self.runs)
        design, first = self.design, self.runs[0]
        chunks = sum(len(chunk_sizes(self.scenario.orders, self.per_chunk)) for _ in self.runs)
        progress_peak = max(peak_rate(p) for p in self.progress)
        record = max(run.ended - run.record_started for run in self.runs)
        exhausted = self.exhausted / self.accepted if self.accepted else 0.0
        if design.paced:
            exhausted = 0.0
        return Outcome(
            seconds=end,
            per_order_seconds=end / (self.scenario.orders * self.scenario.senders),
            prepare_seconds=first.prepare,
            record_seconds=record,
            map_seconds=first.map_ended - first.map_started,
            usable_wcu=self.usable,
            demand_peak_wcu=self.demand_peak,
            refused_fraction=self.refused / self.accepted if self.accepted else 0.0,
            exhausted_fraction=exhausted,
            throttled_invokes=self.throttled,
            failed_chunks=self.failed_total,
            chunks=chunks,
            chunk_seconds_max=self.chunk_max,
            timeouts=self.timeouts,
            validate_gb_seconds=self.validate_busy * design.validate_memory_mb / 1024,
            express_gb_seconds=self.express * costs.SFN_EXPRESS_MIN_MEMORY_GB,
            prepare_gb_seconds=self.prepare_busy * design.prepare_memory_mb / 1024,
            record_gb_seconds=self.record_busy * design.record_memory_mb / 1024,
            batches_key_wcu=progress_peak,
            reviews_key_wcu=max(peak_rate(r) for r in self.reviews),
            reviewer_end=self.reviewer_end,
            s3_put_prefix_peak=max(progress_peak, self.upload_rate),
            s3_get_prefix_peak=max(progress_peak, self.read_rate),
            notes=self._notes(record, exhausted),
        )

    def _notes(self, record: float, exhausted: float) -> list[str]:
        """What the time alone does not say: timeouts, dead-lettered puts, throttles."""
        design, first = self.design, self.runs[0]
        notes: list[str] = []
        if self.chunk_max > self.timeout:
            notes.append(
                f"chunks run up to {self.chunk_max:.0f} s: ValidateOrder's {self.timeout:.0f} s"
                " would end them (not simulated)"
            )
        if record > design.record_timeout:
            notes.append(f"RecordBatch runs {duration(record)}: beyond its timeout")
        if first.prepare > design.prepare_timeout:
            notes.append(f"PrepareFile runs {duration(first.prepare)}: beyond its timeout")
        if exhausted > 0.001:
            notes.append(
                f"~{exhausted:.1%} of the puts refused on all"
                f" {1 + design.store_max_throttle_retries} attempts: dead-lettered, the reviewer"
                " stores them later"
            )
        if self.throttled:
            notes.append(f"{self.throttled:,} throttled invocations")
        if self.failed_total:
            notes.append(f"{self.failed_total:,} chunks left to RecordBatch")
        return notes


def simulate(
    design: Design,
    measured: Measured,
    platform: Platform,
    scenario: Scenario,
    **relaxed: Any,
) -> Outcome:
    return Simulation(design, measured, platform, scenario, **relaxed).run()
