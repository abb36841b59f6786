"""The conservation model, bounded for `make test`: a fixed seed and a few sequences. `make soak`
runs the same model for longer with fresh seeds (tests/model/soak.py)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.model.conservation import ConservationModel

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "8"))
STEPS = int(os.environ.get("MODEL_STEPS", "12"))


pytestmark = pytest.mark.usefixtures("quick_waits")  # every retry waits a hundredth (conftest)


def test_every_order_of_every_version_ends_in_exactly_one_place() -> None:
    run_state_machine_as_test(
        ConservationModel,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
            # no shrinking in the bounded run: a sequence takes seconds, and concurrency makes
            # replays inexact; `make soak` shrinks what it finds
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
    assert ConservationModel.orders_checked > 0  # the model really looked at orders
