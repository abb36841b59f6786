"""The pipeline's capacity on AWS: predicted time, binding limit and cost of a file's path.

    make capacity              # measures a small local run, then models AWS
    python -m bench.capacity --receipt saved.json --set max_concurrency=40

Exits 1 when the design misses an aim (docs/capacity.md).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from bench.capacity.check import check_aims
from bench.capacity.design import parse_settings, read_design
from bench.capacity.limits import PUT_RTT_SECONDS, S3_REQUEST_SECONDS, Platform, scenarios
from bench.capacity.measure import measure, measured_from_receipt
from bench.capacity.predict import predict
from bench.capacity.report import (
    print_aims,
    print_design,
    print_keys,
    print_local_check,
    print_measured,
    print_platform,
    print_predictions,
)
from bench.capacity.sweep import print_sweep


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=5_000, help="the local run's orders (5,000)")
    parser.add_argument("--receipt", type=Path, help="a saved measurement or receipts (JSON)")
    parser.add_argument("--save", type=Path, help="write the measurement here for --receipt")
    parser.add_argument("--put-rtt-ms", type=float, default=PUT_RTT_SECONDS * 1e3)
    parser.add_argument("--s3-ms", type=float, default=S3_REQUEST_SECONDS * 1e3)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model a changed design, e.g. max_concurrency=40 validate_reserved=none",
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip the settings sweep")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    design = read_design()
    if args.receipt is not None:
        measured = measured_from_receipt(args.receipt, design)
    else:
        measured = measure(design, args.orders)
    if args.save is not None:
        args.save.write_text(json.dumps({"measured": measured.to_json()}, indent=2))
    design = parse_settings(design, args.set)
    platform = Platform(put_rtt=args.put_rtt_ms / 1e3, s3_request=args.s3_ms / 1e3)
    print("orderflow on AWS: the capacity model (bench/capacity/, docs/capacity.md)\n")
    print_design(design, measured)
    print_measured(measured)
    print_platform(platform)
    print_local_check(design, measured)
    predictions = [predict(design, measured, platform, s) for s in scenarios()]
    print_predictions(predictions)
    aims = check_aims(predictions)
    print_aims(aims)
    print_keys(design, measured, platform, predictions)
    if not args.no_sweep:
        print_sweep(design, measured, platform)
    missed = [aim for aim in aims if not aim.passed]
    if missed:
        print(f"\n{len(missed)} of {len(aims)} aims missed: the design needs changing (above).")
        return 1
    print(f"\nAll {len(aims)} aims met.")
    return 0
