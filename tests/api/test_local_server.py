"""End to end over HTTP: `orders serve` in its own process, used as a client would."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from chalicelib.pipeline.store import order_key
from orderflow_cli.emulator.server import free_port
from orderflow_cli.stage import stage_environment
from tests.api.conftest import MAX_ORDERS, Served
from tests.conftest import SAMPLES, order
from tests.unit.test_review_pages import review, write_review_items
from tests.webhook_receiver import webhook_receiver


def test_health_needs_no_key(served: Served) -> None:
    assert served.call("GET", "/health", key=None).json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/orders"), ("POST", "/uploads"), ("GET", "/batches/x"), ("GET", "/orders/1")],
)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_every_other_route_refuses_a_request_without_a_valid_key(
    served: Served, method: str, path: str, key: str | None
) -> None:
    response = served.call(method, path, key=key, json={"orders": [order("never")]})

    # API Gateway's own answers before any route runs: no key, 401; a key of no sender, 403
    if key is None:
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    else:
        assert response.status_code == 403
        assert response.json() == {"Message": "User is not authorized to access this resource"}


def test_posted_orders_are_processed_and_reported(served: Served) -> None:
    body = {"orders": [order("http-1"), order("http-2", qty="zero")]}

    response = served.call("POST", "/orders", json=body)

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status_url"] == f"/batches/{accepted['batch_id']}"
    status = served.wait_for(accepted["batch_id"])
    assert (status["status"], status["total"], status["stored"], status["rejected"]) == (
        "succeeded",
        2,
        1,
        1,
    )
    assert served.call("GET", "/orders/http-1").json()["order-info"]["qty"] == 1
    assert served.call("GET", "/orders/http-2").status_code == 404
    report = status["report"]
    lines = requests.get(report["jsonl"], timeout=30).text.splitlines()
    assert [json.loads(line)["order_id"] for line in lines] == ["http-2"]
    csv_text = requests.get(report["csv"], timeout=30).text
    assert csv_text.splitlines()[0] == "OrderId,item-id,item-desc,qty,name,email,_row,_errors"


def test_a_retried_post_with_an_idempotency_key_starts_nothing_new(served: Served) -> None:
    body = {"orders": [order("idem-1")]}
    headers = {"Idempotency-Key": "retry-me-42"}

    first = served.call("POST", "/orders", json=body, headers=headers)
    again = served.call("POST", "/orders", json=body, headers=headers)
    other = served.call("POST", "/orders", json={"orders": [order("x")]}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert served.wait_for(first.json()["batch_id"])["stored"] == 1


def test_a_csv_uploaded_through_the_presigned_post_is_processed(served: Served) -> None:
    presigned = served.call(
        "POST", "/uploads", json={"filename": "partner.csv", "content_type": "text/csv"}
    ).json()
    assert presigned["url"].startswith(served.s3_url)

    with (SAMPLES / "orders.csv").open("rb") as csv:  # multipart form, as curl -F sends it
        upload = requests.post(
            presigned["url"],
            data=presigned["fields"],
            files={"file": ("partner.csv", csv, "text/csv")},
            timeout=30,
        )

    assert upload.status_code in {200, 201, 204}, upload.text
    status = served.wait_for(presigned["batch_id"])
    assert (status["status"], status["total"], status["stored"], status["rejected"]) == (
        "succeeded",
        4,
        2,
        2,
    )
    items = served.client("dynamodb").get_item(
        TableName="orderflow-local-orders", Key=order_key("demo", "2002")
    )
    assert items["Item"]["batch_id"]["S"] == presigned["batch_id"]
    # Each DLQ message is taken by the reviewer behind the server: its records show them.
    reviewed = _wait_for_reviews(served, presigned["batch_id"], 2)
    rows = {r["row"] for r in reviewed}
    assert rows == {4, 5}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [  # the pipeline's own codes (tests/api/test_one_reader.py compares them with a quarantine)
        (b"not json", 400, "file.invalid_json"),
        (b'{"orders": 3}', 400, "file.no_orders_array"),
        (b'{"orders": []}', 400, "file.empty"),
        (b'{"orders": [1, {"a": 2}]}', 400, "order_not_object"),
        (b'{"orders": [{"qty": NaN}]}', 400, "file.invalid_json"),
        (b'{"orders": [{"a": 1}], "orders": [{"a": 2}]}', 400, "file.duplicate_orders_key"),
        ('{"orders": [{"a": 1}]}'.encode("utf-16-le"), 400, "file.encoding"),  # no BOM
    ],
)
def test_a_bad_envelope_is_refused_with_a_named_problem(
    served: Served, body: bytes, status: int, code: str
) -> None:
    response = served.call(
        "POST", "/orders", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_too_many_orders_is_413_and_names_the_limit(served: Served) -> None:
    body = {"orders": [order(f"many-{i}") for i in range(MAX_ORDERS + 1)]}

    response = served.call("POST", "/orders", json=body)

    assert response.status_code == 413
    assert str(MAX_ORDERS) in response.json()["error"]["message"]


def test_reviews_come_a_page_at_a_time_and_a_bad_cursor_or_limit_is_a_400(
    served: Served,
) -> None:
    # given 25 review records of one batch in the server's table
    batch_id = "b-http-pages"
    table = stage_environment("local")["REVIEWS_TABLE"]
    records = [review(batch_id, row) for row in range(1, 26)]
    write_review_items(served.client("dynamodb"), table, records)

    # when a client follows `next` 10 records at a time
    pages, params = [], {"batch_id": batch_id, "limit": "10"}
    while True:
        response = served.call("GET", "/reviews", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if "next" not in pages[-1]:
            break
        params = {**params, "cursor": pages[-1]["next"]}

    # then it gets 10, 10 and 5 records, each once, and the counts of all 25 on the first page
    assert [len(p["reviews"]) for p in pages] == [10, 10, 5]
    assert len({r["review_id"] for p in pages for r in p["reviews"]}) == 25
    assert sum(pages[0]["counts"].values()) == 25
    for bad, code in (({"cursor": "not-a-cursor"}, "bad_cursor"), ({"limit": "0"}, "bad_limit")):
        response = served.call("GET", "/reviews", params={"batch_id": batch_id, **bad})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code


def test_unknown_batches_and_orders_are_404(served: Served) -> None:
    for path in ("/batches/no-such-batch", "/orders/no-such-order"):
        response = served.call("GET", path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_orders_report_prints_a_batch_report_from_the_running_server(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    from orderflow_cli.main import main

    accepted = served.call("POST", "/orders", json=[order("rep-1"), order("rep-2", qty="-1")])
    batch_id = accepted.json()["batch_id"]
    served.wait_for(batch_id)

    _wait_for_reviews(served, batch_id, 1)
    # the sender named: other tests add senders to the shared server, in any order (xdist)
    endpoint = ["--endpoint", served.s3_url, "--sender", "demo"]
    assert main(["report", batch_id, *endpoint]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["order_id"] == "rep-2"
    assert json.loads(line)["review"]["decision"] == "archive"  # what the reviewer decided
    assert main(["report", batch_id, "--format", "csv", *endpoint]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].endswith("_row,_errors")
    assert rows[1].startswith("rep-2,")
    assert main(["report", "no-such-batch", *endpoint]) == 1
    assert "no batch 'no-such-batch'" in capsys.readouterr().err


def _callback_secret(served: Served) -> str:
    parameter = "/aws/reference/secretsmanager/orderflow-local-callback-secret"
    value = served.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
    return str(value["Parameter"]["Value"])


def _wait_for_callback(served: Served, batch_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        callback = served.wait_for(batch_id).get("callback", {})
        if callback.get("status") != "pending":
            return dict(callback)
        time.sleep(0.2)
    raise AssertionError(f"the callback of {batch_id} was not settled")


def test_a_webhook_receives_the_signed_completion(served: Served) -> None:
    with webhook_receiver() as receiver:
        accepted = served.call(
            "POST",
            "/orders",
            json={"orders": [order("hook-1"), order("hook-2", qty="0")]},
            params={"callback_url": receiver.url},
        ).json()
        callback = _wait_for_callback(served, accepted["batch_id"])

    assert (callback["status"], callback["attempts"]) == ("delivered", 1)
    (request,) = receiver.received
    detail = json.loads(request.body)
    assert (detail["batch_id"], detail["status"], detail["stored"], detail["rejected"]) == (
        accepted["batch_id"],
        "succeeded",
        1,
        1,
    )
    assert detail["report"]["jsonl"].endswith("rejections.jsonl")
    assert request.headers["webhook-id"] == f"msg_{accepted['batch_id']}"
    secret = _callback_secret(served)
    assert len(secret) == 64  # as the stack's GenerateSecretString says: 64, no punctuation
    assert secret.isalnum()
    # the stack's raw secret: its UTF-8 bytes are the key (raises when it does not verify)
    Webhook(secret.encode()).verify(request.body, request.headers)


def test_a_receiver_that_is_down_is_retried_and_the_batch_keeps_its_status(
    served: Served,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    presigned = served.call(
        "POST", "/uploads", json={"content_type": "text/csv", "callback_url": down}
    ).json()
    with (SAMPLES / "orders.csv").open("rb") as csv:
        files = {"file": ("orders.csv", csv, "text/csv")}
        requests.post(presigned["url"], data=presigned["fields"], files=files, timeout=30)

    callback = _wait_for_callback(served, presigned["batch_id"])

    assert callback["status"] == "failed"
    assert callback["attempts"] == 5
    assert callback["last_error"]
    assert served.wait_for(presigned["batch_id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://192.168.0.1/"]
)
def test_a_callback_aimed_at_a_private_address_is_a_clear_400(served: Served, url: str) -> None:
    for response in (
        served.call("POST", "/orders", json=[order("never")], params={"callback_url": url}),
        served.call("POST", "/uploads", json={"callback_url": url}),
    ):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "callback_refused"
        assert "private, loopback or reserved" in error["message"]


def _wait_for_reviews(served: Served, batch_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = served.call("GET", "/reviews", params={"batch_id": batch_id}).json()["reviews"]
        if len(found) >= count:
            return list(found)
        time.sleep(0.2)
    raise AssertionError(f"the reviewer did not record {count} reviews of {batch_id}")


def test_the_reviewer_runs_behind_the_server_and_an_operator_redrives_an_edit(
    served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from orderflow_cli.main import main

    wrapped = order("rv-2", email="<rv2@example.com>")
    body = {"orders": [order("rv-1"), wrapped, order("rv-3", qty="three")]}
    batch_id = served.call("POST", "/orders", json=body).json()["batch_id"]

    found = {r["order_id"]: r for r in _wait_for_reviews(served, batch_id, 2)}
    # the reviewer may finish before RecordBatch has counted the rejections
    reviewed = served.wait_for(batch_id)["reviewed"]
    assert reviewed == {"repair:stored": 1, "archive:archived": 1}

    assert (found["rv-2"]["decision"], found["rv-2"]["ended"]) == ("repair", "stored")
    assert (found["rv-3"]["decision"], found["rv-3"]["ended"]) == ("archive", "archived")
    wanted = {"batch_id": batch_id, "reason": "invalid"}  # the server is shared: one batch
    by_reason = served.call("GET", "/reviews", params=wanted).json()
    assert found["rv-3"]["review_id"] in {r["review_id"] for r in by_reason["reviews"]}
    assert served.call("GET", "/reviews", params={"reason": "nonsense"}).status_code == 400

    endpoint = ["--endpoint", served.s3_url]
    assert main(["dlq", "review", "--batch", batch_id, "--json", *endpoint]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["order_id"] for r in listed) == ["rv-2", "rv-3"]

    fixed = order("rv-3", qty="3")
    edits = tmp_path / "edits.jsonl"
    edits.write_text(json.dumps({"review_id": found["rv-3"]["review_id"], "order": fixed}))
    redrive = ["dlq", "redrive", found["rv-3"]["review_id"], "--edited", str(edits), "--json"]
    assert main([*redrive, *endpoint]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["sent"] == 1

    deadline = time.monotonic() + 30
    while served.call("GET", "/orders/rv-3").status_code != 200:
        assert time.monotonic() < deadline, "the redriven order was not stored"
        time.sleep(0.2)
    assert served.call("GET", "/orders/rv-3").json()["order-info"]["qty"] == 3
    again = [*redrive, *endpoint]
    assert main(again) == 0  # already redriven: nothing is sent twice
    assert json.loads(capsys.readouterr().out)["sent"] == 0
    assert main(["dlq", "list", "--json", *endpoint]) == 0
    listed = json.loads(capsys.readouterr().out)["dlq"]
    assert (listed["messages"], listed["reasons"], listed["complete"]) == (0, {}, True)
    assert main(["dlq", "redrive", "no-such-review", *endpoint]) == 1
    assert "no review record for no-such-review" in capsys.readouterr().err


def test_two_uploads_to_one_key_through_the_emulated_s3_store_every_order_of_both(
    served: Served,
) -> None:
    s3 = served.client("s3")
    key = "incoming/demo/orders.json"
    first = [order(f"twice-a-{i}") for i in range(20)]
    second = [order(f"twice-b-{i}") for i in range(20)]
    for orders in (first, second):  # a partner's file, then its correction, a moment later
        body = json.dumps({"orders": orders}).encode()
        s3.put_object(Bucket="orderflow-local-orders", Key=key, Body=body)

    wanted = [o["order-info"]["OrderId"] for o in first + second]
    deadline = time.monotonic() + 60
    missing = wanted
    while missing and time.monotonic() < deadline:
        missing = [i for i in missing if served.call("GET", f"/orders/{i}").status_code != 200]
        time.sleep(0.2)
    assert missing == [], f"{len(missing)} of {len(wanted)} orders were never stored"


def _error_schema_validator() -> Any:
    """The contract's Error schema, as a validator of response bodies."""
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    from tests.api.test_contract import OPENAPI

    document = json.loads(OPENAPI.read_text())
    return Draft4Validator(document["components"]["schemas"]["Error"])


@pytest.mark.parametrize("path", ["/orders", "/uploads"])
@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b'{"orders": [{"a": 1}]}'),  # a body that does not say what it is
        ({"Content-Type": "application/x-www-form-urlencoded"}, b'{"orders": []}'),  # curl -d
        ({"Content-Type": "text/plain"}, b"{}"),
        ({"Content-Type": "text/csv"}, b"OrderId\n1\n"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b""),
    ],
)
def test_a_body_not_sent_as_json_is_a_415_in_the_api_error_shape(
    served: Served, path: str, headers: dict[str, str], body: bytes
) -> None:
    # requests adds no Content-Type of its own to raw bytes
    response = served.call("POST", path, data=body, headers=headers)

    assert response.status_code == 415
    answer = response.json()
    _error_schema_validator().validate(answer)
    assert answer["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in answer["error"]["message"]


def test_json_with_a_charset_and_an_empty_upload_request_are_taken(served: Served) -> None:
    typed = {"Content-Type": "application/json; charset=utf-8"}

    posted = served.call("POST", "/orders", data=json.dumps([order("charset-1")]), headers=typed)
    upload = served.call("POST", "/uploads", data=b"")  # no body, nothing to name

    assert posted.status_code == 202, posted.text
    assert upload.status_code == 201, upload.text


def test_the_415_comes_after_the_key_is_checked(served: Served) -> None:
    response = served.call("POST", "/orders", key=None, data=b"{}", headers={})

    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


def test_a_filename_over_the_contracts_limit_is_a_400(served: Served) -> None:
    too_long = served.call("POST", "/uploads", json={"filename": "a" * 256 + ".csv"})
    longest = served.call("POST", "/uploads", json={"filename": "a" * 251 + ".csv"})

    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "bad_filename"
    assert longest.status_code == 201, longest.text


def test_a_mapping_and_a_dry_run_come_with_an_upload_over_http(served: Served) -> None:
    refused = [
        served.call("POST", "/uploads", json={"mapping": {"columns": {"quantity": "Menge"}}}),
        served.call("POST", "/uploads", json={"mapping": "qty=Menge"}),
        served.call("POST", "/orders?mapping=%7Bnot", json=[]),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400]
    assert {r.json()["error"]["code"] for r in refused} == {"mapping.invalid"}
    for wrong in (
        served.call("POST", "/uploads", json={"dry_run": "yes"}),
        served.call("POST", "/orders?dry_run=yes", json=[]),
    ):
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "bad_dry_run")

    mapping = {"columns": {"OrderId": "Bestellung", "qty": "Menge"}, "delimiter": ";"}
    presigned = served.call(
        "POST",
        "/uploads",
        json={"filename": "t.csv", "content_type": "text/csv", "mapping": mapping,
              "dry_run": True},
    ).json()  # fmt: skip
    assert presigned["dry_run"] is True
    table = (
        "Bestellung;Item ID;Description;Menge;Name;Email\r\n"
        "http-dry-1;101;Lamp;1;Ann Lee;ann@example.com\r\n"
    )
    upload = requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("t.csv", table.encode(), "text/csv")},
        timeout=30,
    )
    assert upload.status_code in {200, 201, 204}, upload.text
    status = served.wait_for(presigned["batch_id"])
    assert (status["status"], status["stored"], status["dry_run"]) == ("succeeded", 1, True)
    assert status["file"]["mapping_from"] == "upload"
    assert served.call("GET", "/orders/http-dry-1").status_code == 404  # nothing stored


def test_a_hanging_webhook_receiver_holds_no_other_senders_upload(served: Served) -> None:
    # given a receiver that takes the connection and never answers (its delivery waits out
    # its deadline, a minute)
    import socket

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)
    try:
        url = f"http://127.0.0.1:{hanging.getsockname()[1]}/hook"
        first = served.call(
            "POST", "/orders", json={"orders": [order("hang-1")]}, params={"callback_url": url}
        ).json()
        served.wait_for(first["batch_id"])
        time.sleep(1.0)  # its completion event is taken and its delivery hangs

        # when another file arrives by S3 (a presigned upload: the S3 event path)
        presigned = served.call("POST", "/uploads", json={"content_type": "text/csv"}).json()
        started = time.monotonic()
        with (SAMPLES / "orders.csv").open("rb") as csv:
            files = {"file": ("orders.csv", csv, "text/csv")}
            requests.post(presigned["url"], data=presigned["fields"], files=files, timeout=30)
        status = served.wait_for(presigned["batch_id"], timeout=30)

        # then it is processed at once, as on AWS, while the first delivery still hangs
        assert status["status"] == "succeeded"
        assert time.monotonic() - started < 20
        callback = served.call("GET", f"/batches/{first['batch_id']}").json()["callback"]
        assert callback["status"] == "pending"  # still being delivered
    finally:
        hanging.close()
