"""`orders run`: the user's entry point to the pipeline on the embedded emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orderflow_cli.main import main
from tests.conftest import SAMPLES, order, write_orders


def test_run_json_reports_every_file_and_where_every_order_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"orders": [')
    paths = [SAMPLES / "seed-example.json", SAMPLES / "mixed.json", SAMPLES / "orders.csv", bad]

    status = main(["run", *map(str, paths), "--json", "--export", str(tmp_path / "out")])

    assert status == 0
    document = json.loads(capsys.readouterr().out)
    batches = {Path(b["file"]).name: b for b in document["batches"]}
    assert {
        n: (b["status"], b["total"], b["stored"], b["rejected"]) for n, b in batches.items()
    } == {
        "seed-example.json": ("succeeded", 1, 1, 0),
        "mixed.json": ("succeeded", 6, 2, 4),
        "orders.csv": ("succeeded", 4, 2, 2),
        "broken.json": ("quarantined", 0, 0, 0),
    }
    assert "file.invalid_json" not in (batches["broken.json"]["error"] or "")  # a sentence
    assert "JSON" in batches["broken.json"]["error"]
    assert batches["broken.json"]["error_code"] == "file.invalid_json"  # and its code beside it
    assert batches["orders.csv"]["error_code"] is None
    assert document["table_items"] == 5
    assert document["dlq_orders"] == 6
    assert document["dlq_messages"] == 2  # one rejection group per chunk: mixed.json, orders.csv
    out = tmp_path / "out"
    items = [json.loads(line) for line in (out / "orders.jsonl").read_text().splitlines()]
    dlq = [json.loads(line) for line in (out / "dlq.jsonl").read_text().splitlines()]
    batch_lines = (out / "batches.jsonl").read_text().splitlines()
    assert sorted(i["OrderId"] for i in items) == ["1", "1001", "1002", "2001", "2002"]
    assert len(dlq) == 6
    assert all(m["reason"] == "invalid" for m in dlq)
    assert len({m["review_id"] for m in dlq}) == 6  # one line per order, not per message
    assert len(batch_lines) == 4
    mixed = batches["mixed.json"]["batch_id"]
    report = [json.loads(line) for line in (out / "reports" / f"{mixed}.jsonl").open()]
    assert [line["row"] for line in report] == [3, 4, 5, 6]
    assert (out / "reports" / f"{mixed}.csv").read_text().startswith("OrderId,item-id")
    reviews = [json.loads(line) for line in (out / "reviews.jsonl").read_text().splitlines()]
    assert len(reviews) == 6
    assert {r["review_id"] for r in reviews} == {m["review_id"] for m in dlq}
    assert {(r["decision"], r["ended"]) for r in reviews} == {("archive", "archived")}
    assert batches["mixed.json"]["ended"] == {
        "stored": 2, "retried": 0, "repaired": 0, "archived": 4, "waiting": 0,
    }  # fmt: skip
    seed = batches["seed-example.json"]["batch_id"]
    assert not (out / "reports" / f"{seed}.jsonl").exists()  # nothing rejected, no report


def test_run_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SAMPLES / "mixed.json")]) == 0

    out = capsys.readouterr().out
    assert "batch id" in out
    assert "succeeded" in out
    assert "orders table: 2 item(s); dead-letter queue: 4 order(s) in 1 message(s)" in out
    assert "samples/mixed.json: first rejections" in out.replace("\\", "/")
    assert "row      5  1005                 qty.not_positive_integer" in out


def test_run_shows_orders_repaired_by_the_reviewer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SAMPLES / "repairable.json"), "--json"]) == 0

    (batch,) = json.loads(capsys.readouterr().out)["batches"]
    assert (batch["stored"], batch["rejected"]) == (1, 4)
    assert batch["ended"] == {
        "stored": 1, "retried": 0, "repaired": 3, "archived": 1, "waiting": 0,
    }  # fmt: skip
    assert sum(batch["ended"].values()) == batch["total"]


def test_a_missing_file_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no/such/file.json"]) == 2
    assert "no such file: no/such/file.json" in capsys.readouterr().err


@pytest.mark.usefixtures("quick_waits")
def test_a_pipeline_failure_exits_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.pipeline.deadletter import DeadLetterQueue, DeadLetterUnavailable

    def unavailable(self: DeadLetterQueue, bodies: list[str]) -> None:
        raise DeadLetterUnavailable("the DLQ refused every message")

    monkeypatch.setattr(DeadLetterQueue, "_send_batch", unavailable)
    path = write_orders(tmp_path / "f.json", [order("x", qty="0")])

    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "the pipeline failed on" in err
    assert "could not be processed" in err


def test_run_with_a_mapping_applies_it_and_says_what_each_file_was_read_as(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "german.csv"
    table.write_text(
        "Bestellung;Artikel;Bezeichnung;Menge;Kunde;E-Mail\r\n"
        "1;101;Lampe;1;Ann Lee;ann@example.com\r\n"
        "2;102;Tisch;0;Bo Chan;bo@example.com\r\n",
        newline="",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"columns": {"OrderId": "Bestellung", "item-id": "Artikel",
                         "item-desc": "Bezeichnung", "qty": "Menge", "name": "Kunde"}}
        )
    )  # fmt: skip

    assert main(["run", str(table), "--mapping", str(mapping), "--json"]) == 0

    [batch] = json.loads(capsys.readouterr().out)["batches"]
    assert (batch["status"], batch["stored"], batch["rejected"]) == ("succeeded", 1, 1)
    assert batch["read"]["mapping_from"] == "upload"
    assert (batch["read"]["format"], batch["read"]["delimiter"]) == ("csv", ";")

    assert main(["run", str(table)]) == 0  # without it the file is quarantined
    out = capsys.readouterr().out
    assert "read as csv (delimiter semicolon, utf-8), mapping from none" in out
    assert "quarantined: the header lacks the required columns" in out

    mapping.write_text('{"columns": {"quantity": "Menge"}}')
    assert main(["run", str(table), "--mapping", str(mapping)]) == 2
    assert 'unknown field "quantity"' in capsys.readouterr().err


def test_a_dry_run_counts_as_the_real_run_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 20 orders, 2 of them (10%) invalid
    orders = [order(f"dry-{i}") for i in range(18)]
    orders[3:3] = [order("dry-bad-1", qty="0"), order("dry-bad-2", email="nope")]
    path = write_orders(tmp_path / "try.json", orders)

    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    [batch] = document["batches"]
    assert (batch["dry_run"], batch["total"], batch["stored"], batch["rejected"]) == (
        True, 20, 18, 2,
    )  # fmt: skip
    assert (document["table_items"], document["dlq_orders"], batch["ended"]) == (0, 0, {})

    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 20 orders: 18 would be stored, 2 would be rejected; nothing was" in out
    assert "orders table: 0 item(s); dead-letter queue: 0 order(s)" in out

    assert main(["run", str(path), "--json"]) == 0  # the real run: the same counts, kept
    [real] = json.loads(capsys.readouterr().out)["batches"]
    assert (real["dry_run"], real["stored"], real["rejected"]) == (False, 18, 2)
    assert real["ended"]["stored"] + real["ended"]["archived"] == 20


def test_a_senders_control_characters_reach_the_terminal_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an OrderId that would retitle the operator's terminal and forge a row of the table
    hostile = "\x1b]0;owned\x07\n  row      9  9999                 []"
    path = write_orders(tmp_path / "hostile.json", [order(hostile), order("fine")])

    assert main(["run", str(path)]) == 0

    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    (line,) = [line for line in out.splitlines() if "OrderId.invisible_character" in line]
    assert "\\x1b]0;owned\\x07\\x0a  row      9" in line  # the whole id, on its own row
