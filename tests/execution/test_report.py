"""The rejection report and the completion event, for every shipped format."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import SAMPLES, order, run, stored_items, write_orders
from tests.driver import completion_events

EXPECTED = {
    "mixed.json": {
        3: "contact-info.missing",
        4: "order-info.missing",
        5: "qty.not_positive_integer",
        6: "email.invalid",
    },
    "orders.csv": {4: "name.empty", 5: "qty.not_positive_integer"},
    "array.json": {3: "qty.not_positive_integer", 4: "email.missing"},
    "orders.jsonl": {3: "row.invalid_json", 5: "qty.not_positive_integer", 7: "email.invalid"},
    # a quoted field spanning lines 3-4 comes before the bad rows; line 7 is blank
    "orders-crlf-bom.csv": {5: "row.field_count", 6: "qty.not_positive_integer", 9: "name.empty"},
    "orders.jsonl.gz": {3: "qty.missing", 4: "row.invalid_json"},
}


def read_report(local: EmbeddedAWS, batch: dict[str, Any], form: str) -> str:
    key = batch["report_keys"][form]
    body = local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read()
    return str(body.decode())


def report_lines(local: EmbeddedAWS, batch: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_report(local, batch, "jsonl").splitlines()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rejected_row_is_reported_with_its_code(local: EmbeddedAWS, name: str) -> None:
    (batch,) = run(local, SAMPLES / name)

    lines = report_lines(local, batch)
    assert {line["row"]: line["errors"][0]["code"] for line in lines} == EXPECTED[name]
    assert [line["row"] for line in lines] == sorted(EXPECTED[name])  # in file order
    assert batch["report_keys"]["jsonl"].startswith(f"work/demo/{batch['batch_id']}/")
    rows = list(csv.DictReader(io.StringIO(read_report(local, batch, "csv"))))
    assert [int(r["_row"]) for r in rows] == sorted(EXPECTED[name])


def test_report_lines_carry_field_code_message_and_the_value_sent(local: EmbeddedAWS) -> None:
    (batch,) = run(local, SAMPLES / "mixed.json")

    by_row = {line["row"]: line for line in report_lines(local, batch)}
    assert by_row[5] == {
        "row": 5,
        "order_id": "1005",
        "reason": "invalid",
        "errors": [
            {
                "field": "order-info.qty",
                "code": "qty.not_positive_integer",
                "message": by_row[5]["errors"][0]["message"],
                "value": "0",
            }
        ],
        "order": {  # the order as the pipeline read it (GET /batches/{id}/rejections pages it)
            "order-info": {
                "OrderId": "1005",
                "item-id": "101",
                "item-desc": "Item One",
                "qty": "0",
            },
            "contact-info": {"name": "Zero Qty", "email": "zero@example.com"},
        },
    }
    assert by_row[5]["errors"][0]["message"]


def test_a_batch_without_rejections_has_no_report(local: EmbeddedAWS) -> None:
    (batch,) = run(local, SAMPLES / "seed-example.json")
    assert batch["report_keys"] is None


def test_the_csv_report_can_be_fixed_and_sent_again(local: EmbeddedAWS, tmp_path: Path) -> None:
    (batch,) = run(local, SAMPLES / "orders-crlf-bom.csv")
    rows = list(csv.DictReader(io.StringIO(read_report(local, batch, "csv"))))
    assert list(rows[0])[:6] == ["OrderId", "item-id", "item-desc", "qty", "name", "email"]
    assert "gift-note" in rows[0]  # the sender's own extra column
    fixes = {"5003": {"qty": "1", "name": "Short Row", "email": "short@example.com"}}
    fixes["5004"] = {"qty": "2"}
    fixes["5006"] = {"name": "Named Now"}
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[c for c in rows[0] if c != "_raw"])
        writer.writeheader()
        for row in rows:
            if row.get("_raw"):  # the short row: its text, re-keyed by hand
                row = {"OrderId": "5003", "item-id": "310", "item-desc": "Desk lamp"}
            row.update(fixes[row["OrderId"]])
            writer.writerow({k: v for k, v in row.items() if k != "_raw"})
    again = tmp_path / "orders-crlf-bom.csv"  # and the whole original file once more
    again.write_bytes((SAMPLES / "orders-crlf-bom.csv").read_bytes())

    fixed_batch, resent = run(local, fixed, again)

    assert (fixed_batch["stored"], fixed_batch["rejected"]) == (3, 0)
    assert (resent["stored"], resent["unchanged"]) == (3, 3)  # the first three, no-ops
    items = stored_items(local)
    assert sorted(items) == ["5001", "5002", "5003", "5004", "5005", "5006"]
    assert "_errors" not in items["5004"]
    assert "_row" not in items["5004"]


def test_a_gzip_json_document_is_reported_by_position(local: EmbeddedAWS, tmp_path: Path) -> None:
    path = tmp_path / "orders.json.gz"
    orders = [order("g-1"), order("g-2", email="nope"), order("g-3")]
    path.write_bytes(gzip.compress(json.dumps({"orders": orders}).encode()))

    (batch,) = run(local, path)

    assert [(line["row"], line["order_id"]) for line in report_lines(local, batch)] == [(2, "g-2")]


def test_the_completion_event_reaches_a_rule_target(local: EmbeddedAWS, tmp_path: Path) -> None:
    good, bad = write_orders(tmp_path / "ok.json", [order("e-1")]), tmp_path / "bad.json"
    bad.write_text("{")

    first, second = run(local, good, bad)

    events = {e["detail"]["batch_id"]: e for e in completion_events(local)}
    assert set(events) == {first["batch_id"], second["batch_id"]}
    event = events[first["batch_id"]]
    assert (event["source"], event["detail-type"]) == ("orderflow", "Batch Completed")
    detail = event["detail"]
    assert detail["file"] == {"bucket": local.settings.bucket, "key": "incoming/demo/ok.json"}
    assert (detail["status"], detail["total"], detail["stored"], detail["rejected"]) == (
        "succeeded",
        1,
        1,
        0,
    )
    assert events[second["batch_id"]]["detail"]["status"] == "quarantined"
    assert events[second["batch_id"]]["detail"]["error"]["code"] == "file.invalid_json"
