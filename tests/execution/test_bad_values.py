"""One order holding a value no order may hold (a lone surrogate, nesting thousands deep, a
number such as 1e400) is rejected on its own, executed through the state machine: its
neighbours are stored, the batch succeeds, and the counts add up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.run_output import export as _export
from tests.conftest import dlq_orders, order, run, stored_items


def _text(order_id: str, **extra: str) -> str:
    """An order's JSON text; `order_id` and the extra values are written as they stand, so
    that they can hold escapes and literals json.dumps would never write."""
    text = json.dumps(order("ID")).replace('"ID"', f'"{order_id}"')
    for name, value in extra.items():
        text = text[:-1] + f', "{name}": {value}}}'
    return text


def _deep(levels: int) -> str:
    return "[" * (levels - 1) + "1" + "]" * (levels - 1)


def _messages_by_row(local: EmbeddedAWS) -> dict[int, dict[str, Any]]:
    return {message["row"]: message for message in dlq_orders(local)}


def test_a_lone_surrogate_and_a_deep_order_leave_their_28_neighbours_alone(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given 30 orders; order 7 holds a lone low surrogate, order 19 is 5,000 levels deep
    texts = [_text(f"n-{row}") for row in range(1, 31)]
    texts[6] = _text("n-7\\udfff")
    texts[18] = _text("n-19", extra=_deep(5000))
    path = tmp_path / "thirty.json"
    path.write_text('{"orders": [' + ",\n".join(texts) + "]}")

    # when it runs through the state machine (chunks of 3, four at a time)
    (batch,) = run(local, path)

    # then the batch succeeds with 28 stored and 2 rejected, and the counts add up
    assert batch["status"] == "succeeded"
    assert batch["error"] is None
    assert (batch["total"], batch["stored"], batch["rejected"]) == (30, 28, 2)
    assert batch["rejected_by_reason"] == {"invalid": 2}
    assert batch["total"] == batch["stored"] + batch["rejected"]
    stored = stored_items(local)
    assert sorted(stored) == sorted(f"n-{row}" for row in range(1, 31) if row not in (7, 19))
    # and each rejection is dead-lettered with its own code and its text exactly as sent
    messages = _messages_by_row(local)
    assert sorted(messages) == [7, 19]
    assert [e["code"] for e in messages[7]["errors"]] == ["order.invalid_text"]
    assert messages[7]["errors"][0]["field"] == "order-info.OrderId"
    assert messages[7]["errors"][0]["value"] == "n-7\\udfff"
    assert [e["code"] for e in messages[19]["errors"]] == ["order.too_deep"]
    for row in (7, 19):
        assert messages[row]["reason"] == "invalid"
        assert messages[row]["order"] == texts[row - 1]
        assert messages[row]["review_id"] == f"{batch['batch_id']}:{row}"


def test_orders_once_collapsed_into_one_are_each_rejected_and_nothing_becomes_a_question_mark(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given JSON Lines whose orders 2 and 3 differ only in a lone high surrogate (a lossy
    # decoder made both "h-?", the second a false conflict), one 1e400 and one 400 deep
    lines = [
        _text("h-1"),
        _text("h-\\ud800"),
        _text("h-\\ud801"),
        _text("h-4", price="1e400"),
        _text("h-5", extra=_deep(400)),
        _text("h-6", extra=_deep(32)),  # 32 levels: allowed
        _text("h-7", big="123456789012345678901234"),
    ]
    path = tmp_path / "collapsed.jsonl"
    path.write_text("\n".join(lines) + "\n")

    (batch,) = run(local, path)

    assert batch["status"] == "succeeded"
    assert (batch["total"], batch["stored"], batch["rejected"]) == (7, 3, 4)
    assert batch["rejected_by_reason"] == {"invalid": 4}  # no false "conflict"
    stored = stored_items(local)
    assert sorted(stored) == ["h-1", "h-6", "h-7"]
    assert not any("?" in order_id for order_id in stored)
    assert stored["h-7"]["big"] == 123456789012345678901234
    messages = _messages_by_row(local)
    assert {row: m["errors"][0]["code"] for row, m in messages.items()} == {
        2: "order.invalid_text",
        3: "order.invalid_text",
        4: "order.number_out_of_range",
        5: "order.too_deep",
    }
    assert messages[2]["order"] != messages[3]["order"]
    assert all("?" not in json.dumps(m) for m in messages.values())


def test_export_writes_text_that_is_not_valid_unicode_as_json_escapes(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # given what the tables and the DLQ could hold from elsewhere: text with lone surrogates
    items = [{"OrderId": "x-\udfff", "name": "Ana Núñez"}]
    dlq = [{"review_id": "b:1", "message_id": "b:0", "order": {"OrderId": "x-\ud800"},
            "reason": "invalid"}]  # fmt: skip

    # when orders run --export writes them
    _export(local, tmp_path, items, dlq, [])

    # then every file is written, reads back as the same values, and stays readable
    written = (tmp_path / "orders.jsonl").read_text(encoding="utf-8")
    assert "Ana Núñez" in written
    assert "\\udfff" in written
    assert [json.loads(line) for line in written.splitlines()] == items
    dead = (tmp_path / "dlq.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in dead] == dlq
    assert (tmp_path / "reviews.jsonl").read_text(encoding="utf-8").count("\n") == 1
