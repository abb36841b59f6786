"""The bench's seed design (bench/seed.asl.json) runs on the emulator: each order is validated
by its own Lambda and stored or dead-lettered by its own task."""

from __future__ import annotations

from bench.seed_design import seed_cost_per_million, seed_run
from tests.conftest import order


def test_the_seed_design_stores_valid_orders_and_dead_letters_the_rest() -> None:
    orders = [order(f"seed-{i}", qty="0" if i % 4 == 0 else "2") for i in range(8)]

    run = seed_run(orders)

    assert (run["orders"], run["stored"], run["dead_lettered"], run["invocations"]) == (8, 6, 2, 8)
    costs = seed_cost_per_million(run)
    assert costs["Step Functions express requests"] == 1.0  # one child per order: $1 a million
    assert round(costs["DynamoDB write units"], 4) == round(0.625 * 6 / 8, 4)
