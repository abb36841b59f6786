"""The measured workload: the design's own numbers, and the fits that split them.

A batch's cost receipt counts what the whole batch asked for; `fit_requests` splits three or
more of them into what each order, each chunk and each file asks for. `fit_line` splits a
function's CPU into its cost per order (or chunk) and its fixed part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from bench.capacity.limits import EMULATOR_MAP_CONCURRENCY, INVALID
from chalicelib.costs import Requests

# The count fields of a receipt (the GB-second fields are modelled, not fitted).
COUNT_FIELDS = tuple(
    f.name for f in fields(Requests) if isinstance(getattr(Requests(), f.name), int)
)


@dataclass(frozen=True, slots=True)
class RequestRates:
    """A receipt's counts split into what each order, each chunk and each file asks for."""

    per_order: dict[str, float] = field(default_factory=dict)
    per_chunk: dict[str, float] = field(default_factory=dict)
    per_file: dict[str, float] = field(default_factory=dict)

    def total(self, orders: int, chunks: int, files: int) -> dict[str, float]:
        return {
            name: self.per_order.get(name, 0.0) * orders
            + self.per_chunk.get(name, 0.0) * chunks
            + self.per_file.get(name, 0.0) * files
            for name in COUNT_FIELDS
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """One batch's receipt: its counts, and the files, chunks and orders it covered."""

    orders: int
    chunks: int
    requests: Mapping[str, float]
    files: int = 1


@dataclass(frozen=True, slots=True)
class LocalRun:
    """What the local run measured (for the check of the model against it)."""

    orders: int
    chunks: int
    files: int
    wall_seconds: float  # `orders run`'s whole path: uploads to the reviewer's last message
    busy_seconds: dict[str, float]  # CPU of each function's thread, as the emulator records it
    put_seconds: float  # one conditional put through boto3 into moto, in the same process
    s3_put_seconds: float  # one chunk-sized PUT into moto
    s3_get_seconds: float  # one chunk-sized GET from moto
    sqs_seconds: float  # one SendMessageBatch into moto
    map_concurrency: int = EMULATOR_MAP_CONCURRENCY
    chunk_orders: int = 1_000
    # the executions' own time, Step Functions' start to stop, the files one after the other
    execution_seconds: float = 0.0
    # an execution's time in the emulator beyond its functions' (moto's interpreter and its
    # Map): a 20-order file's execution less the CPU of its functions
    file_overhead_seconds: float = 0.0
    process_cpu_seconds: float = 0.0  # the whole process's CPU over the run, every thread


@dataclass(frozen=True, slots=True)
class Measured:
    """The design's own numbers, per order, per chunk and per file (docs/capacity.md)."""

    rates: RequestRates
    invalid_fraction: float = INVALID
    bytes_per_order: float = 200.0  # a chunk's JSON bytes per order
    puts_per_order: float = 0.9  # conditional puts per order (the valid ones)
    wcu_per_put: float = 1.0
    validate_cpu_per_order: float = 350e-6  # s on one core, boto3's client side included
    validate_cpu_per_chunk: float = 2e-3
    validate_requests_per_chunk: dict[str, float] = field(
        default_factory=lambda: {"GetObject": 1.0, "PutObject": 1.0, "SendMessageBatch": 1.0,
                                 "UpdateItem": 1.0}
    )  # fmt: skip
    client_cpu_per_put: float = 240e-6  # boto3's own CPU for one PutItem, no network
    prepare_cpu_per_order: float = 7e-6  # streaming and chunking, one core
    record_cpu_per_chunk: float = 2e-3  # RecordBatch per chunk, one core, AWS stubbed
    record_cpu_per_file: float = 5e-3  # ... and per file
    reviewer_cpu_per_rejection: float = 100e-6  # ReviewDeadLetters per rejected order, likewise
    reviewer_s3_per_group: float = 1.0
    reviewer_dynamodb_per_group: float = 2.0
    reviews_wcu_per_rejection: float = 0.2  # a group record's write units per rejected order
    reviewer_requests_per_group: dict[str, float] = field(default_factory=dict)
    local: LocalRun | None = None
    notes: tuple[str, ...] = ()

    @property
    def groups_per_chunk(self) -> float:
        return 1.0 if self.invalid_fraction > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Measured:
        values = dict(document)
        values["rates"] = RequestRates(**values["rates"])
        if values.get("local") is not None:
            values["local"] = LocalRun(**values["local"])
        values["notes"] = tuple(values.get("notes", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def fit_requests(observations: Sequence[Observation]) -> RequestRates:
    """Least squares of every count field over the batches: count = F*files + C*chunks +
    O*orders. A term the batches cannot tell apart is dropped (files first, then chunks), and
    a negative coefficient is taken as 0."""
    columns: list[str] = ["files", "chunks", "orders"]
    while columns:
        rows = [[float(getattr(o, c)) for c in columns] for o in observations]
        if _rank(rows) == len(columns):
            break
        columns.pop(0)
    if not columns:
        raise ValueError("no batches to fit")
    rates: dict[str, dict[str, float]] = {"files": {}, "chunks": {}, "orders": {}}
    for name in COUNT_FIELDS:
        target = [float(o.requests.get(name, 0.0)) for o in observations]
        solution = _least_squares(rows, target)
        for column, value in zip(columns, solution, strict=True):
            rates[column][name] = max(0.0, round(value, 6))
    return RequestRates(
        per_order=rates["orders"], per_chunk=rates["chunks"], per_file=rates["files"]
    )


def _rank(rows: Sequence[Sequence[float]]) -> int:
    matrix = [list(r) for r in rows]
    rank, width = 0, len(matrix[0]) if matrix else 0
    for column in range(width):
        pivot = max(range(rank, len(matrix)), key=lambda r: abs(matrix[r][column]), default=None)
        if pivot is None or abs(matrix[pivot][column]) < 1e-9:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        for r in range(len(matrix)):
            if r != rank:
                factor = matrix[r][column] / matrix[rank][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
    return rank


def _least_squares(rows: Sequence[Sequence[float]], target: Sequence[float]) -> list[float]:
    """Solves the normal equations (A^T A) x = A^T b by Gaussian elimination."""
    width = len(rows[0])
    normal = [[sum(r[i] * r[j] for r in rows) for j in range(width)] for i in range(width)]
    right = [sum(r[i] * t for r, t in zip(rows, target, strict=True)) for i in range(width)]
    augmented = [normal[i] + [right[i]] for i in range(width)]
    for column in range(width):
        pivot = max(range(column, width), key=lambda r: abs(augmented[r][column]))
        augmented[column], augmented[pivot] = augmented[pivot], augmented[column]
        for r in range(width):
            if r != column:
                factor = augmented[r][column] / augmented[column][column]
                augmented[r] = [
                    a - factor * b for a, b in zip(augmented[r], augmented[column], strict=True)
                ]
    return [augmented[i][width] / augmented[i][i] for i in range(width)]


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) of y over x by least squares, the intercept never negative (a cost
    per chunk or per file is not: a line through the origin then); the mean, slope 0, if x
    never varies."""
    if not points:
        return 0.0, 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if max(xs) - min(xs) < 1e-12:
        return sum(ys) / len(ys), 0.0
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)
    intercept = mean_y - slope * mean_x
    if intercept < 0:
        return 0.0, sum(x * y for x, y in points) / sum(x * x for x in xs)
    return intercept, slope
