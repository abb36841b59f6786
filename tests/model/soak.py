"""`make soak`: the conservation model for a long time with fresh random seeds.

    python -m tests.model.soak --minutes 20

Runs rounds of random sequences until the time is up, then prints how many sequences, steps,
settled checks and order checks it covered. A counterexample stops it with the shrunk sequence
(and its reproduction blob) printed and exit status 1: make it a plain regression test.
"""

from __future__ import annotations

import argparse
import sys
import time

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.model.conservation import ConservationModel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--steps", type=int, default=20, help="steps per sequence at most")
    parser.add_argument("--round", type=int, default=10, help="sequences per round")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        try:
            run_state_machine_as_test(
                ConservationModel,
                settings=settings(
                    max_examples=args.round,
                    stateful_step_count=args.steps,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    print_blob=True,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                ),
            )
        except BaseException:
            _report(rounds, started, "COUNTEREXAMPLE found (above)")
            raise
        _report(rounds, started, "no counterexample so far")
    return 0


def _report(rounds: int, started: float, verdict: str) -> None:
    m = ConservationModel
    print(
        f"soak: {(time.monotonic() - started) / 60:.1f} min, {rounds} round(s),"
        f" {m.sequences} sequences, {m.steps} steps, {m.settles} settled checks,"
        f" {m.orders_checked} order checks: {verdict}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
