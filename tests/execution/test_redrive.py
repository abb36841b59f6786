"""An operator's redrive: named by its content, never by the clock; repeated, it is a no-op;
an unknown review id sends nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from orderflow_cli.dlq import RedriveRefused, redrive
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.stack import Stack
from orderflow_cli.stage import stage_environment
from tests.conftest import order, run, stored_items, write_orders


def _stack(local: EmbeddedAWS) -> Stack:
    return Stack(local.s3, local.dynamodb, local.sqs, stage_environment(local.stage))


def _archived(local: EmbeddedAWS, tmp_path: Path, count: int) -> dict[str, str]:
    """Runs a file of orders the reviewer can only archive; their review ids by OrderId."""
    orders = [order(f"arc-{i}", qty="many") for i in range(count)]
    (record,) = run(local, write_orders(tmp_path / "archive-me.json", orders))
    local.dead_letters.settle()
    reviews = _stack(local).reviews.query(batch_id=record["batch_id"])
    assert [r["decision"] for r in reviews] == ["archive"] * count
    return {r["order_id"]: r["review_id"] for r in reviews}


def _redriven_keys(local: EmbeddedAWS) -> list[str]:
    prefix = f"{local.settings.incoming_prefix}demo/redrive/"
    listed = local.s3.list_objects_v2(Bucket=local.settings.bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_two_redrives_at_the_same_moment_send_both_sets(local: EmbeddedAWS, tmp_path: Path) -> None:
    ids = _archived(local, tmp_path, 2)
    results: list[dict[str, Any]] = []

    def send(order_id: str) -> None:
        edit = {ids[order_id]: order(order_id, qty="2")}
        results.append(redrive(_stack(local), [ids[order_id]], reason=None, edited=edit))

    threads = [threading.Thread(target=send, args=(name,)) for name in ("arc-0", "arc-1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["sent"] for r in results) == [1, 1]
    assert len({r["keys"]["demo"] for r in results}) == 2
    assert sorted(_redriven_keys(local)) == sorted(r["keys"]["demo"] for r in results)
    for _, batch_id in local.deliver_s3_events():
        local.wait(batch_id)
    items = stored_items(local)
    assert (items["arc-0"]["order-info"]["qty"], items["arc-1"]["order-info"]["qty"]) == (2, 2)


def test_the_same_redrive_repeated_or_run_twice_at_once_sends_one_file(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    ids = _archived(local, tmp_path, 3)
    chosen = sorted(ids.values())
    results: list[dict[str, Any]] = []

    def send() -> None:
        results.append(redrive(_stack(local), chosen, reason=None, edited={}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = redrive(_stack(local), chosen, reason=None, edited={})

    assert sum(r["sent"] for r in results) == 3  # one of the two sent the set, the other none
    assert len(_redriven_keys(local)) == 1
    assert again["sent"] == 0
    assert sorted(again["already"]) == chosen


def test_an_unknown_review_id_refuses_the_whole_redrive(local: EmbeddedAWS, tmp_path: Path) -> None:
    ids = _archived(local, tmp_path, 1)

    with pytest.raises(RedriveRefused, match="no review record for no-such-review"):
        redrive(_stack(local), [ids["arc-0"], "no-such-review"], reason=None, edited={})

    assert _redriven_keys(local) == []
    assert not _stack(local).reviews.get(ids["arc-0"]).get("redriven_to")  # type: ignore[union-attr]


def test_an_edit_for_an_order_not_sent_refuses_the_redrive(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    ids = _archived(local, tmp_path, 2)

    with pytest.raises(RedriveRefused, match="does not send"):
        redrive(_stack(local), [ids["arc-0"]], reason=None, edited={ids["arc-1"]: order("arc-1")})

    assert _redriven_keys(local) == []
