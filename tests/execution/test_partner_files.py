"""Issue 12's remaining parts, through the real state machine: the batch says what its file was
read as and with which mapping; a sender's saved mapping profile is applied to its next upload
(and never to another sender's); a mapping sent with one upload wins over the profile; a dry
run validates and reports like the real run and stores and dead-letters nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.api import service
from chalicelib.api.errors import BadRequest
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import order, run, stored_items
from tests.driver import completion_events
from tests.execution.test_metrics import emitted, total

# A partner's own headers: neither our names nor synonyms for three of them.
GERMAN = "Bestellung;Artikel;Bezeichnung;Menge;Kunde;E-Mail\r\n"
PROFILE = {
    "columns": {"OrderId": "Bestellung", "item-id": "Artikel", "item-desc": "Bezeichnung",
                "qty": "Menge", "name": "Kunde"},
    "delimiter": ";",
}  # fmt: skip


def german_csv(path: Path, first: int, rows: int = 3) -> Path:
    lines = [f"{first + i};10{i};Lampe;{i + 1};Ann Lee;ann@example.com\r\n" for i in range(rows)]
    path.write_text(GERMAN + "".join(lines), newline="")
    return path


def upload(
    local: EmbeddedAWS, path: Path, *, sender: str = "demo", content_type: str = "text/csv",
    **wanted: Any,
) -> dict[str, Any]:  # fmt: skip
    """POST /uploads (through the service, with `mapping` / `dry_run`), then the file sent
    to the key it gives, as a partner would; returns the batch record at the end."""
    local.ensure_sender(sender)
    granted = service.presign_upload(
        filename=path.name,
        content_type=content_type,
        callback_url=None,
        sender=sender,
        deps=wiring.api_deps(local.settings),
        **wanted,
    )
    local.s3.put_object(Bucket=local.settings.bucket, Key=granted["key"], Body=path.read_bytes())
    started = dict(local.deliver_s3_events())
    local.wait(started[granted["key"]], timeout=120)
    record = local.batches().get(sender, granted["batch_id"])
    assert record is not None
    return record


def report_lines(local: EmbeddedAWS, record: dict[str, Any]) -> list[dict[str, Any]]:
    key = record["report_keys"]["jsonl"]
    body = local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def test_the_batch_says_what_the_file_was_read_as(local: EmbeddedAWS, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(
        "Order ID;Item ID;Description;Quantity;Name;Email\r\n"
        "1;101;Lamp;1;Ann Lee;ann@example.com\r\n",
        newline="",
    )
    [record] = run(local, path)

    assert record["status"] == "succeeded"
    read = record["file"]
    assert (read["format"], read["delimiter"], read["delimiter_name"]) == ("csv", ";", "semicolon")
    assert (read["encoding"], read["mapping"], read["mapping_from"]) == ("utf-8", None, "none")
    assert read["columns"]["qty"] == "Quantity"
    shown = service.batch_status(
        record["batch_id"], sender="demo", deps=wiring.api_deps(local.settings)
    )
    assert shown["file"] == read
    assert "dry_run" not in shown


def test_a_quarantined_table_still_says_what_it_was_read_as(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    [record] = run(local, german_csv(tmp_path / "german.csv", 1))

    assert record["status"] == "quarantined"
    assert record["error"]["code"] == "file.missing_columns"
    assert (record["file"]["delimiter"], record["file"]["mapping_from"]) == (";", "none")
    # the quarantine report carries the same facts beside the error
    key = f"{local.settings.quarantine_prefix}demo/{record['batch_id']}/error.json"
    report = json.loads(local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read())
    assert report["file"]["delimiter"] == ";"


def test_a_senders_profile_is_applied_to_its_next_upload_and_never_to_another_senders(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    local.ensure_sender("shop-a")
    local.ensure_sender("shop-b")
    saved = local.senders().set_profile("shop-a", PROFILE)
    assert saved.profile is not None
    assert saved.profile.delimiter == ";"

    [mine] = run(local, german_csv(tmp_path / "a.csv", 100), sender="shop-a")
    [theirs] = run(local, german_csv(tmp_path / "b.csv", 200), sender="shop-b")

    assert (mine["status"], mine["stored"]) == ("succeeded", 3)
    assert mine["file"]["mapping_from"] == "profile"
    assert mine["file"]["mapping"]["columns"]["qty"] == "Menge"
    assert theirs["status"] == "quarantined"
    assert theirs["error"]["code"] == "file.missing_columns"
    message = theirs["error"]["message"]
    assert "the mapping names" not in message  # nothing of shop-a's mapping was applied
    assert 'item-id (closest headers: "Artikel")' in message
    assert theirs["file"]["mapping_from"] == "none"
    assert {item["sender"] for item in stored_items(local).values()} == {"shop-a"}


def test_a_mapping_with_one_upload_wins_over_the_profile(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    local.ensure_sender("shop-a")
    local.senders().set_profile("shop-a", {"columns": {"qty": "Anzahl"}})  # wrong for this file
    given = {**PROFILE, "delimiter": "semicolon"}

    record = upload(local, german_csv(tmp_path / "a.csv", 300), sender="shop-a", mapping=given)

    assert (record["status"], record["stored"]) == ("succeeded", 3)
    assert record["file"]["mapping_from"] == "upload"
    assert record["file"]["mapping"]["delimiter"] == ";"
    # and the profile alone would not have read it
    [alone] = run(local, german_csv(tmp_path / "b.csv", 400), sender="shop-a")
    assert alone["error"]["code"] == "file.missing_columns"
    assert alone["file"]["mapping_from"] == "profile"


def test_an_invalid_mapping_is_a_400_at_the_api_and_nothing_is_promised(
    local: EmbeddedAWS,
) -> None:
    deps = wiring.api_deps(local.settings)
    with pytest.raises(BadRequest) as refused:
        service.presign_upload(
            filename="a.csv", content_type="text/csv", callback_url=None, sender="demo",
            deps=deps, mapping={"columns": {"quantity": "Menge"}, "delimiter": ","},
        )  # fmt: skip
    assert refused.value.code == "mapping.invalid"
    assert 'unknown field "quantity"' in refused.value.message
    body = json.dumps([order("m-1")]).encode()
    with pytest.raises(BadRequest) as refused:
        service.accept_orders(
            body, idempotency_key=None, callback_url=None, sender="demo", deps=deps,
            mapping="{not json",
        )  # fmt: skip
    assert refused.value.code == "mapping.invalid"
    with pytest.raises(BadRequest) as refused:
        service.accept_orders(
            body, idempotency_key=None, callback_url=None, sender="demo", deps=deps,
            dry_run="yes",
        )  # fmt: skip
    assert refused.value.code == "bad_dry_run"
    assert local.item_count(local.settings.batches_table) == 0


def test_a_dry_run_counts_and_reports_like_the_real_run_and_keeps_nothing(
    local: EmbeddedAWS,
) -> None:
    # 20 orders, 2 of them (10%) invalid, over several chunks (FAST: 3 orders a chunk)
    orders = [order(f"d-{i}") for i in range(18)]
    orders.insert(4, order("d-bad-1", qty="0"))
    orders.insert(15, order("d-bad-2", email="not-an-address"))
    body = json.dumps({"orders": orders}).encode()
    deps = wiring.api_deps(local.settings)

    def post(dry_run: str | None = None) -> dict[str, Any]:
        accepted = service.accept_orders(
            body, idempotency_key=None, callback_url=None, sender="demo", deps=deps,
            dry_run=dry_run,
        )  # fmt: skip
        local.wait(accepted["batch_id"], timeout=120)
        record = local.batches().get("demo", accepted["batch_id"])
        assert record is not None
        return record

    local.ensure_sender()
    dry = post(dry_run="true")

    assert local.item_count(local.settings.orders_table) == 0
    assert local.drain_dlq() == []
    assert dry["dry_run"] is True
    shown = service.batch_status(dry["batch_id"], sender="demo", deps=deps)
    assert shown["dry_run"] is True
    [event] = [e["detail"] for e in completion_events(local)]
    assert (event["batch_id"], event["dry_run"], event["stored"]) == (dry["batch_id"], True, 18)
    # a dry run handled no orders in the metrics an operator watches: none counted, none timed
    assert sum(total(emitted(local), m) for m in ("ChunkOrders", "OrdersReceived")) == 0

    real = post()
    assert total(emitted(local), "ChunkOrders") == total(emitted(local), "OrdersReceived") == 20

    counted = ("status", "total", "stored", "unchanged", "rejected", "rejected_by_reason")
    assert {k: dry[k] for k in counted} == {k: real[k] for k in counted}
    assert (real["total"], real["stored"], real["rejected"]) == (20, 18, 2)
    assert report_lines(local, dry) == report_lines(local, real)
    assert "dry_run" not in real
    assert local.item_count(local.settings.orders_table) == 18
    assert sum(len(m["rejections"]) for m in local.drain_dlq()) == 2

    # a dry run now finds what the real run would: 18 unchanged, one conflict, nothing written
    orders[0] = order("d-0", qty="9")
    body = json.dumps({"orders": orders}).encode()
    again = post(dry_run="true")
    assert (again["stored"], again["unchanged"], again["rejected"]) == (17, 17, 3)
    assert again["rejected_by_reason"] == {"invalid": 2, "conflict": 1}
    assert stored_items(local)["d-0"]["order-info"]["qty"] == 1
    assert local.drain_dlq() == []


def test_a_dry_run_upload_of_a_workbook_content_type(local: EmbeddedAWS, tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    sheet.append(["Order ID", "Item ID", "Description", "Quantity", "Name", "Email"])
    sheet.append([1, "101", "Lamp", 1, "Ann Lee", "ann@example.com"])
    sheet.append([2, "102", "Desk", 0, "Bo Chan", "bo@example.com"])
    book.save(path)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    record = upload(local, path, content_type=xlsx, dry_run=True)

    assert (record["status"], record["stored"], record["rejected"]) == ("succeeded", 1, 1)
    assert record["dry_run"] is True
    assert (record["file"]["format"], record["file"]["sheet"]) == ("xlsx", "Orders")
    assert record["source_key"].endswith("/orders.xlsx")
    assert local.item_count(local.settings.orders_table) == 0
    assert local.drain_dlq() == []


def test_a_rejection_report_sent_back_is_read_with_our_columns_whatever_the_profile(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    local.ensure_sender("shop-a")
    local.senders().set_profile("shop-a", PROFILE)
    path = tmp_path / "a.csv"
    path.write_text(
        GERMAN
        + "1;101;Lampe;1;Ann Lee;ann@example.com\r\n2;102;Tisch;0;Bo Chan;bo@example.com\r\n",
        newline="",
    )
    [first] = run(local, path, sender="shop-a")
    assert (first["stored"], first["rejected"]) == (1, 1)
    key = first["report_keys"]["csv"]
    report = local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read().decode()
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(report.replace(",0,Bo Chan,", ",2,Bo Chan,"), newline="")

    [again] = run(local, fixed, sender="shop-a")

    assert (again["status"], again["stored"], again["rejected"]) == ("succeeded", 1, 0)
    assert (again["file"]["delimiter"], again["file"]["mapping_from"]) == (",", "none")
    assert stored_items(local)["2"]["order-info"]["qty"] == 2
