"""The state machine, executed on moto's interpreter with the app's own functions in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import SAMPLES, dlq_orders, order, run, stored_items, write_orders


def dlq_by_row(local: EmbeddedAWS) -> dict[int, dict[str, Any]]:
    return {m["row"]: m for m in dlq_orders(local)}


def test_seed_example_is_stored_normalised(local: EmbeddedAWS) -> None:
    (batch,) = run(local, SAMPLES / "seed-example.json")

    assert batch["status"] == "succeeded"
    assert (batch["total"], batch["stored"], batch["rejected"]) == (1, 1, 0)
    item = stored_items(local)["1"]
    assert item["order-info"]["qty"] == 1
    assert item["contact-info"]["email"] == "foobar@test.com"
    assert item["batch_id"] == batch["batch_id"]
    assert dlq_orders(local) == []


def test_mixed_file_stores_valid_and_dead_letters_invalid_with_reasons(local: EmbeddedAWS) -> None:
    (batch,) = run(local, SAMPLES / "mixed.json")

    assert batch["status"] == "succeeded"
    assert (batch["total"], batch["stored"], batch["rejected"]) == (6, 2, 4)
    assert set(stored_items(local)) == {"1001", "1002"}
    messages = dlq_by_row(local)
    assert sorted(messages) == [3, 4, 5, 6]
    codes = {row: [e["code"] for e in m["errors"]] for row, m in messages.items()}
    assert codes == {
        3: ["contact-info.missing"],
        4: ["order-info.missing"],
        5: ["qty.not_positive_integer"],
        6: ["email.invalid"],
    }
    message = messages[6]
    assert message["reason"] == "invalid"
    assert message["order"]["contact-info"]["email"] == "not-an-email"  # the order as received
    assert message["source"] == {"bucket": local.settings.bucket, "key": "incoming/demo/mixed.json"}
    assert message["batch_id"] == batch["batch_id"]
    assert message["order_id"] == "1006"


def test_csv_rows_are_reported_by_line(local: EmbeddedAWS) -> None:
    (batch,) = run(local, SAMPLES / "orders.csv")

    assert (batch["total"], batch["stored"], batch["rejected"]) == (4, 2, 2)
    assert set(stored_items(local)) == {"2001", "2002"}
    assert stored_items(local)["2002"]["order-info"]["item-desc"] == "Blue mug, 350 ml"
    messages = dlq_by_row(local)
    assert {row: m["errors"][0]["code"] for row, m in messages.items()} == {
        4: "name.empty",
        5: "qty.not_positive_integer",
    }


def test_many_chunks_are_all_counted(local: EmbeddedAWS, tmp_path: Path) -> None:
    orders = [order(f"o-{i}") for i in range(20)] + [order("bad", qty="0")]
    (batch,) = run(local, write_orders(tmp_path / "many.json", orders))

    assert batch["chunks"] == 7  # CHUNK_MAX_ORDERS is 3 in the tests
    assert (batch["total"], batch["stored"], batch["rejected"]) == (21, 20, 1)
    assert len(stored_items(local)) == 20


def test_bad_lines_of_json_lines_do_not_sink_their_neighbours(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    lines = [json.dumps(order("j-1")), "{not json", "", json.dumps(order("j-2"))]
    path.write_text("\n".join(lines) + "\n")

    (batch,) = run(local, path)

    assert (batch["total"], batch["stored"], batch["rejected"]) == (3, 2, 1)
    (message,) = dlq_orders(local)
    assert message["row"] == 2
    assert message["errors"][0]["code"] == "row.invalid_json"
    assert message["order"] == "{not json"


def test_gzip_csv_is_read(local: EmbeddedAWS, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress((SAMPLES / "orders.csv").read_bytes()))

    (batch,) = run(local, path)

    assert (batch["total"], batch["stored"], batch["rejected"]) == (4, 2, 2)
