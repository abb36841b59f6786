"""`orders run` says where every order ended, and the counts add up to the file's total: the
DLQ's event source mapping reviews every rejection, however many, and `waiting` counts only
what is in the redrive queue once the reviewer has had its turns."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.orders.validation import ValidOrder
from chalicelib.pipeline.deadletter import DeadLetterQueue
from chalicelib.pipeline.store import OrderStore, StoreOutcome, StoreResult
from chalicelib.review.records import ReviewRecords
from orderflow_cli.main import main
from tests.conftest import order, write_orders


def run_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["run", str(path), "--json"]) == 0
    (batch,) = json.loads(capsys.readouterr().out)["batches"]
    return dict(batch)


def test_every_rejection_is_reviewed_however_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a file of 100 orders, 90 of them invalid beyond repair (the old pump reviewed 70)
    orders = [order(f"ok-{i}") for i in range(10)]
    orders += [order(f"bad-{i}", qty="three") for i in range(90)]

    # when it is run
    batch = run_json(write_orders(tmp_path / "many.json", orders), capsys)

    # then each rejection was reviewed and archived, nothing waits, and the counts add up
    assert (batch["stored"], batch["rejected"]) == (10, 90)
    assert batch["ended"] == {
        "stored": 10, "retried": 0, "repaired": 0, "archived": 90, "waiting": 0,
    }  # fmt: skip
    assert sum(batch["ended"].values()) == batch["total"] == 100
    # and the mapping's thread ended with the emulator
    assert not [t for t in threading.enumerate() if t.name.endswith("-mapping")]


def _refuse_stuck_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table that never accepts the orders named stuck-* (the pipeline's and the reviewer's
    writes both fail)."""
    put = OrderStore.put

    def failing_put(
        self: OrderStore, order: ValidOrder, *, sender: str, batch_id: str, row: int
    ) -> Any:
        if order.order_id.startswith("stuck"):
            return StoreResult(StoreOutcome.STORE_FAILED, "injected: the table refuses it")
        return put(self, order, sender=sender, batch_id=batch_id, row=row)

    monkeypatch.setattr(OrderStore, "put", failing_put)


_STUCK = [order("ok-1"), order("stuck-1"), order("ok-2"), order("bad-1", qty="three")]
_STUCK += [order("stuck-2"), order("ok-3"), order("bad-2", qty="0")]


def test_orders_the_reviewer_cannot_store_are_archived_on_the_last_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two orders the table never accepts, and two orders invalid beyond repair
    _refuse_stuck_orders(monkeypatch)
    path = write_orders(tmp_path / "stuck.json", _STUCK)

    # when it is run, as JSON and as a table
    batch = run_json(path, capsys)
    assert main(["run", str(path)]) == 0
    table = capsys.readouterr().out

    # then the group came back until its last delivery, where the stuck orders were archived
    # with the store's error: every order in one place, nothing left waiting
    assert (batch["stored"], batch["rejected"]) == (3, 4)
    assert batch["ended"] == {
        "stored": 3, "retried": 0, "repaired": 0, "archived": 4, "waiting": 0,
    }  # fmt: skip
    assert sum(batch["ended"].values()) == batch["total"] == 7
    assert "4 archived for review, 0 waiting in the redrive queue" in table


def test_a_group_the_reviewer_cannot_record_waits_whole_in_the_redrive_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a reviews table that refuses every write
    def refuse(self: ReviewRecords, **_: Any) -> None:
        raise RuntimeError("injected: the reviews table refuses writes")

    monkeypatch.setattr(ReviewRecords, "put_group", refuse)
    path = write_orders(tmp_path / "unrecorded.json", _STUCK)

    # when it is run
    batch = run_json(path, capsys)

    # then the two rejections of the chunk, one group, wait in the redrive queue together
    assert batch["ended"] == {
        "stored": 5, "retried": 0, "repaired": 0, "archived": 0, "waiting": 2,
    }  # fmt: skip
    assert sum(batch["ended"].values()) == batch["total"] == 7


def test_rejections_that_never_reached_the_dlq_are_not_called_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a DLQ that silently loses what it is sent
    def lose(self: DeadLetterQueue, bodies: list[str], *_: object) -> None:
        return None

    monkeypatch.setattr(DeadLetterQueue, "_send_batch", lose)
    path = write_orders(tmp_path / "lost.json", [order("ok"), order("x", qty="0")])

    # when it is run
    batch = run_json(path, capsys)

    # then the lost rejection is reported as unaccounted for, not as waiting
    assert batch["ended"] == {
        "stored": 1, "retried": 0, "repaired": 0, "archived": 0, "waiting": 0, "unaccounted": 1,
    }  # fmt: skip
    assert sum(batch["ended"].values()) == batch["total"] == 2
