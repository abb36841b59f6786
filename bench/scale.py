"""Scale checks for the bench: linear time, flat memory, files in the users' formats.

- `generate_csv`: a (gzip) CSV of generated orders, a fraction of them invalid, streamed.
- `orders_run`: `orders run FILE --json` in a child process: its seconds, its peak RSS and what
  it printed (every order accounted for).
- `emulator_holding`: the resident size of a child process whose emulated orders table holds
  the items `orders run` stores for the same file (each valid order, as the pipeline's store
  makes its item), read once they are all there (its peak can be start-up's, before any item):
  what the emulator itself needs for those items, the yardstick of `orders run`'s memory growth.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = "OrderId,item-id,item-desc,qty,name,email\n"

_MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - started
print(done.returncode, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stdout)
sys.stderr.write(done.stderr[-2000:])
"""

_HOLD = """
import resource, sys
from chalicelib import wiring
from chalicelib.orders.readers import read_records
from chalicelib.orders.validation import ValidOrder, validate_order
from orderflow_cli.emulator.runtime import EmbeddedAWS
path = sys.argv[1]
with EmbeddedAWS() as local:
    store = wiring.order_store(local.settings)
    with open(path, "rb") as body:
        for record in read_records(body, path):
            order = validate_order(record.order)
            if isinstance(order, ValidOrder):
                store.put(order, sender="demo", batch_id="hold", row=record.row)
    # the resident size now, with the items held (the peak may be start-up's, before them)
    status = open("/proc/self/status").read().split("VmRSS:")[1].split()[0]
    print(int(status) if status.isdigit() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def generate_csv(path: Path, count: int, invalid: float, seed: int = 11) -> int:
    """Writes `count` orders as CSV (gzip when the name ends in .gz), the fraction `invalid`
    of them with qty 0; returns how many are invalid."""
    rng = random.Random(seed)
    bad_orders = 0
    with _text_out(path) as out:
        out.write(COLUMNS)
        for i in range(count):
            bad = rng.random() < invalid
            bad_orders += bad
            qty = "0" if bad else str(1 + i % 9)
            out.write(
                f'C-{i:08d},{100 + i % 900},"Item {i % 97}, boxed",{qty},'
                f"Customer {i},customer{i}@example.com\n"
            )
    return bad_orders


def _text_out(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return path.open("w", encoding="utf-8", newline="")


def orders_run(path: Path) -> dict[str, Any]:
    """`orders run PATH --json` in a child process: seconds, peak RSS (MiB), its JSON."""
    command = [sys.executable, "-c", _MEASURE, sys.executable, "-m", "orderflow_cli.main"]
    command += ["run", str(path), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    first, _, rest = done.stdout.partition("\n")
    code, seconds, rss_kib = first.split()
    document = json.loads(rest) if int(code) in (0, 1) and rest.strip() else {}
    return {
        "code": int(code),
        "seconds": float(seconds),
        "wall": time.perf_counter() - started,
        "rss_mib": int(rss_kib) / 1024,
        "document": document,
        "stderr": done.stderr,
    }


def emulator_holding(path: Path) -> float:
    """Resident size (MiB) of a process whose emulated table holds one item per order of `path`."""
    command = [sys.executable, "-c", _HOLD, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    return int(done.stdout.split()[-1]) / 1024


def accounted(document: dict[str, Any]) -> tuple[int, int]:
    """(orders in the file, orders whose end is known) over every batch of a run's JSON."""
    total = known = 0
    for batch in document.get("batches", []):
        total += int(batch.get("total", 0))
        ended = dict(batch.get("ended", {}))
        ended.pop("unaccounted", None)
        known += sum(int(v) for v in ended.values())
    return total, known
