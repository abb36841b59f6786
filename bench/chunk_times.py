"""How ValidateOrder's time per chunk changes along one `orders run` (a lead for issue 10).

    python bench/chunk_times.py --orders 30000

Generates a gzip CSV (10% invalid), runs it through the whole path on the embedded emulator as
`orders run` does, and prints the mean `ChunkDuration` (the function's own metric, one per
chunk of 1,000 orders) in each tenth of the run. A flat line means a chunk costs the same
wherever it falls in the file; a rising one, that something grows with the orders processed so
far. Measured on 2026-11-26 at 20,000 orders, the machine idle: 4.1 s a chunk in the first
tenth, then flat at 4.4-5.2 s (at 30,000 beside a test suite it rose from 4.4 to 6.2 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import generate_csv
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.run import process


def chunk_durations(metric_lines: Iterable[str]) -> list[float]:
    """The ChunkDuration of every chunk, in the order the chunks ended (milliseconds; the
    emulator keeps its last METRIC_LINES_KEPT lines, several times a million orders' chunks)."""
    durations = []
    for line in metric_lines:
        document = json.loads(line)
        if "ChunkDuration" in document:
            durations.append(float(document["ChunkDuration"]))
    return durations


def tenths(values: list[float]) -> list[float]:
    """The mean of each tenth of `values` (fewer parts when there are fewer than ten)."""
    size = max(1, len(values) // 10)
    return [
        sum(part) / len(part)
        for part in (values[i : i + size] for i in range(0, len(values), size))
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--invalid", type=float, default=0.10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunks.csv.gz"
        generate_csv(path, args.orders, args.invalid)
        with EmbeddedAWS(poll_dead_letters=True) as local:
            started = time.perf_counter()
            process(local, [path], progress=None)
            seconds = time.perf_counter() - started
            durations = chunk_durations(local.metric_lines)
    print(f"{args.orders} orders in {seconds:.1f} s, {len(durations)} chunks")
    print(
        "mean ChunkDuration by tenth of the run (s):",
        [round(d / 1000, 2) for d in tenths(durations)],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
