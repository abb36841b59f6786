"""The routes the partners' page reads, end to end through `orders serve`: GET /batches, GET
/batches/{id}/rejections, `corrects` on POST /orders and POST /uploads, and /profile."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import pytest
import requests

from chalicelib.senders import SenderRegistry
from orderflow_cli.stack import open_stack
from tests.api.conftest import Served
from tests.conftest import order

ROWS = 2_200  # every 10th row is rejected: 220, and one row with a hostile cell


@pytest.fixture(scope="module")
def partner(served: Served) -> tuple[str, str]:
    """A sender of its own (the demo sender's batches come from every other test)."""
    stack = open_stack(served.s3_url, "local")
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])
    sender_id = f"partner-{uuid.uuid4().hex[:6]}"
    _, key = registry.add(sender_id, "Partner")
    return sender_id, key


def _post(served: Served, key: str, ids: list[str], query: str = "", **bad: Any) -> Any:
    orders = [order(i, **bad) for i in ids]
    return served.call("POST", "/orders" + query, key=key, json={"orders": orders})


def _wait(served: Served, key: str, batch_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = served.call("GET", f"/batches/{batch_id}", key=key).json()
        if status["status"] not in {"pending", "running"}:
            return dict(status)
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not end")


def _csv(rows: int) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["OrderId", "item-id", "item-desc", "qty", "name", "email"])
    for i in range(rows):
        qty = "0" if i % 10 == 3 else "2"
        desc = "<script>alert(1)</script>" if i == 13 else "Lamp"
        writer.writerow([f"row-{i}", "101", desc, qty, "Foo Bar", "foo@example.com"])
    return text.getvalue().encode()


def test_a_2200_row_upload_pages_through_its_rejections_and_a_correction_names_it(
    served: Served, partner: tuple[str, str]
) -> None:
    _, key = partner
    presigned = served.call(
        "POST", "/uploads", key=key, json={"filename": "Bestellungen März.csv"}
    ).json()
    pending = served.call("GET", f"/batches/{presigned['batch_id']}/rejections", key=key)
    assert (pending.status_code, pending.json()["error"]["code"]) == (409, "batch_not_ended")
    sent = requests.post(
        presigned["url"], data=presigned["fields"], files={"file": ("x.csv", _csv(ROWS))},
        timeout=30,
    )  # fmt: skip
    assert sent.status_code in {200, 201, 204}, sent.text
    batch_id = presigned["batch_id"]
    status = _wait(served, key, batch_id)
    assert (status["total"], status["rejected"]) == (ROWS, ROWS // 10)

    rows, cursor, pages = [], None, 0
    while True:
        query = {"limit": "97"} | ({"cursor": cursor} if cursor else {})
        page = served.call("GET", f"/batches/{batch_id}/rejections", key=key, params=query)
        assert page.status_code == 200, page.text
        rows += page.json()["rejections"]
        pages += 1
        cursor = page.json().get("next")
        if cursor is None:
            break
    assert pages == -(-(ROWS // 10) // 97)
    assert [r["order_id"] for r in rows] == [f"row-{i}" for i in range(3, ROWS, 10)]
    assert [r["row"] for r in rows] == [i + 2 for i in range(3, ROWS, 10)]  # CSV lines
    first = rows[0]
    assert first["reason"] == "invalid"
    assert first["errors"][0]["code"] == "qty.not_positive_integer"
    assert first["order"]["order-info"]["OrderId"] == "row-3"
    assert first["order"]["contact-info"]["email"] == "foo@example.com"
    report = requests.get(status["report"]["csv"], timeout=30).text
    assert len(report.splitlines()) == ROWS // 10 + 1  # the CSV report is as it was

    # two rows fixed, sent as a new batch that names the one it corrects
    fixed = [r["order"] for r in rows[:2]]
    for each in fixed:
        each["order-info"]["qty"] = "1"
    again = served.call("POST", f"/orders?corrects={batch_id}", key=key, json={"orders": fixed})
    assert again.status_code == 202, again.text
    corrected = _wait(served, key, again.json()["batch_id"])
    assert (corrected["stored"], corrected["corrects"]) == (2, batch_id)
    listed = served.call("GET", "/batches", key=key, params={"limit": "2"}).json()["batches"]
    assert [b["batch_id"] for b in listed][:2] == [again.json()["batch_id"], batch_id]
    assert listed[0]["corrects"] == batch_id
    assert listed[0]["file_name"] is None
    assert listed[1]["file_name"] == "Bestellungen März.csv"
    assert (listed[1]["total"], listed[1]["rejected"]) == (ROWS, ROWS // 10)


def test_corrects_must_name_one_of_the_callers_own_batches(
    served: Served, partner: tuple[str, str]
) -> None:
    _, key = partner
    demo_batch = _post(served, "test-key-not-secret", ["demo-corrects-1"]).json()["batch_id"]
    own = _post(served, key, ["p-corrects-1"]).json()["batch_id"]

    for bad in (demo_batch, "no-such-batch", "../x", ""):
        posted = _post(served, key, ["p-corrects-2"], f"?corrects={bad}")
        assert (posted.status_code, posted.json()["error"]["code"]) == (400, "bad_corrects"), bad
        upload = served.call("POST", "/uploads", key=key, json={"corrects": bad})
        assert (upload.status_code, upload.json()["error"]["code"]) == (400, "bad_corrects")
    refused = served.call("POST", "/uploads", key=key, json={"corrects": 7})
    assert refused.json()["error"]["code"] == "bad_corrects"
    # a dry run stored nothing: correcting it would store the corrected rows alone
    dry = _post(served, key, ["p-corrects-dry"], "?dry_run=true").json()["batch_id"]
    for posted in (
        _post(served, key, ["p-corrects-3"], f"?corrects={dry}"),
        served.call("POST", "/uploads", key=key, json={"corrects": dry}),
    ):
        assert (posted.status_code, posted.json()["error"]["code"]) == (400, "bad_corrects")
        assert "dry run" in posted.json()["error"]["message"]
    upload = served.call("POST", "/uploads", key=key, json={"corrects": own})
    assert upload.status_code == 201, upload.text
    status = served.call("GET", f"/batches/{upload.json()['batch_id']}", key=key).json()
    assert (status["status"], status["corrects"]) == ("pending", own)


def test_the_list_pages_newest_first_and_holds_each_sender_to_its_own(
    served: Served, partner: tuple[str, str]
) -> None:
    _sender_id, key = partner
    mine = [_post(served, key, [f"p-list-{i}"]).json()["batch_id"] for i in range(6)]
    seen, cursor = [], None
    while True:
        query = {"limit": "4"} | ({"cursor": cursor} if cursor else {})
        page = served.call("GET", "/batches", key=key, params=query).json()
        seen += page["batches"]
        cursor = page.get("next")
        if cursor is None:
            break
    ids = [b["batch_id"] for b in seen]
    assert set(mine) <= set(ids)
    assert len(ids) == len(set(ids))
    assert [b["created_at"] for b in seen] == sorted((b["created_at"] for b in seen), reverse=True)
    demo = served.call("GET", "/batches", params={"limit": "100"}).json()["batches"]
    assert not set(ids) & {b["batch_id"] for b in demo}
    stolen = served.call("GET", "/batches", params={"cursor": page_cursor(served, key)})
    assert (stolen.status_code, stolen.json()["error"]["code"]) == (400, "bad_cursor")
    assert served.call("GET", "/batches", key=key, params={"limit": "0"}).status_code == 400
    other = served.call("GET", f"/batches/{mine[0]}/rejections")
    assert other.status_code == 404  # another sender's batch, as one that does not exist


def page_cursor(served: Served, key: str) -> str:
    return str(served.call("GET", "/batches", key=key, params={"limit": "1"}).json()["next"])


def test_the_profile_is_the_callers_own_and_checked_before_it_is_saved(
    served: Served, partner: tuple[str, str]
) -> None:
    sender_id, key = partner
    mapping = {"columns": {"qty": "Menge"}, "delimiter": ";"}
    assert served.call("GET", "/profile", key=key).json() == {
        "sender_id": sender_id,
        "profile": None,
    }
    saved = served.call("PUT", "/profile", key=key, json=mapping)
    assert saved.status_code == 200, saved.text
    assert saved.json()["profile"]["columns"] == {"qty": "Menge"}
    bad = served.call("PUT", "/profile", key=key, json={"columns": {"colour": "Farbe"}})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "mapping.invalid")
    not_json = served.call("PUT", "/profile", key=key, data="qty=Menge",
                           headers={"content-type": "text/plain"})  # fmt: skip
    assert not_json.status_code == 415
    assert served.call("GET", "/profile", key=key).json()["profile"]["columns"] == {"qty": "Menge"}
    assert served.call("GET", "/profile").json()["sender_id"] == "demo"  # the demo's own
    assert served.call("DELETE", "/profile", key=key).json() == {
        "sender_id": sender_id,
        "profile": None,
    }
