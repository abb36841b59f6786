"""The pipeline's capacity on AWS: predicted time, binding limit and cost of a file's path.

    make capacity              # measures a small local run, then models AWS
    python -m bench.capacity --receipt saved.json --set max_concurrency=40

What it does, in order (docs/capacity.md explains each step and every figure it prints):

1. Reads the design as the repository holds it now (`design.py`): chunk size
   (CHUNK_MAX_ORDERS, CHUNK_MAX_BYTES), writes in flight per chunk (STORE_WRITERS), the store's
   retries, the Map's MaxConcurrency and its retry of a throttled Lambda
   (chalicelib/pipeline/ingest.asl.json), each function's memory and reserved concurrency (the "dev"
   stage of .chalice/config.json), the orders table's key shards
   (`chalicelib.pipeline.store.ORDER_SHARDS`) and the S3 requests PrepareFile and RecordBatch
   have in flight (`chalicelib.pipeline.inflight.S3_IN_FLIGHT`).
2. Measures the design's own numbers (`measure.py`, `cpu.py`): a local run of three generated
   files (10% invalid) on the embedded emulator gives each batch's cost receipt, from which the
   requests per order, per chunk and per file are fitted (`workload.py`); ValidateOrder's own
   CPU per order and per chunk, boto3's client side included, is measured with every AWS
   answer stubbed (`stub.py`: no network, no emulator); PrepareFile's streaming and chunking
   per order likewise. `--receipt PATH` reuses a saved measurement (`--save PATH`) or the
   `orders run --json` of three or more batches.
3. Models AWS (`limits.py`: AWS's published figures with their sources) with a discrete-event
   simulation (`simulate.py`, `fluid.py`: the queueing of chunks for Map slots and Lambda
   environments, throttled invocations retried as the definition says, a closed queueing model
   of the writers inside each chunk (`stages.py`), and the table's usable write rate shared by
   every chunk writing at once (`partitions.py`)) and prints, for 100,000 and 1,000,000
   orders, one sender and ten at once, a new on-demand table and one warmed to 40,000
   writes/s: the predicted time, the binding limit and the modelled cost at list prices
   (`predict.py`, `chalicelib.costs`).
4. Checks the same model against the local run (`check.py`: the emulator's parameters, no
   partition limit, the measured cost of a put, one process), prints each aim with PASS or
   FAIL, the per-key write rates of the batches and reviews tables (`report.py`), and a sweep
   of the settings (`sweep.py`). Exits 1 when the design misses an aim (`cli.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository's root, for `chalicelib`, `orderflow_cli` and `app` (the functions measured).
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
