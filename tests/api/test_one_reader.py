"""The API and the pipeline read a body with one reader: what POST /orders accepts, the pipeline
processes, order by order; what the pipeline would quarantine, POST /orders refuses with the
same code and message. And an Idempotency-Key holds after its document is gone."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from chalicelib.pipeline.naming import batch_id_for
from tests.api.conftest import Served
from tests.conftest import order

BUCKET = "orderflow-local-orders"  # the local stage's (.chalice/config.json)


def _deep(levels: int) -> str:
    """An extra field that makes an order `levels` deep."""
    return "[" * (levels - 1) + "1" + "]" * (levels - 1)


def _order_text(order_id: str, **extra: str) -> str:
    """An order's JSON text; `order_id` and extra values are written as they stand."""
    text = json.dumps(order("ID")).replace('"ID"', f'"{order_id}"')
    for name, value in extra.items():
        text = text[:-1] + f', "{name}": {value}}}'
    return text


def _post(served: Served, body: bytes, **headers: str) -> requests.Response:
    headers = {"Content-Type": "application/json", **headers}
    response: requests.Response = served.call("POST", "/orders", data=body, headers=headers)
    assert "Traceback" not in response.text
    assert "/work/" not in response.text
    return response


def _upload(served: Served, key: str, body: bytes) -> str:
    """Puts a file where partners put theirs; returns the batch id its S3 event starts."""
    put = served.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return batch_id_for(BUCKET, key, put.get("VersionId") or put["ETag"])


@pytest.mark.parametrize(
    ("name", "body"),
    [
        # UTF-16 with a byte-order mark is read; without one its byte order is unknown
        ("utf-16", '{"orders": [{"a": 1}]}'.encode("utf-16-le")),
        ("latin-1", '{"orders": [{"a": "é"}]}'.encode("latin-1")),
        ("twice", b'{"orders": [{"a": 1}], "orders": [{"a": 2}, {"a": 3}]}'),
        ("cut", b'{"orders": [{"a": 1}, {"a": 2'),
        ("nan", b'{"orders": [{"qty": NaN}]}'),
        ("after", b'{"orders": [{"a": 1}]}\n{"orders": [{"a": 2}]}'),
    ],
)
def test_a_body_the_pipeline_quarantines_is_refused_with_its_code_and_message(
    served: Served, name: str, body: bytes
) -> None:
    # given the body sent as a file: the pipeline quarantines it
    quarantined = served.wait_for(_upload(served, f"incoming/demo/one-reader-{name}.json", body))
    assert quarantined["status"] == "quarantined"

    # when the same bytes are POSTed
    response = _post(served, body)

    # then the API refuses them with the pipeline's own code and message
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        quarantined["error"]["code"],
        quarantined["error"]["message"],
    )


def test_orders_with_values_no_order_may_hold_are_rejected_one_by_one(served: Served) -> None:
    # given a body whose orders 2 to 7 each hold one value no order may hold
    texts = [
        _order_text("one-reader-1"),
        _order_text("\\udfff"),  # a lone low surrogate
        _order_text("one-reader-\\ud800"),  # a lone high surrogate ...
        _order_text("one-reader-\\ud801"),  # ... and another: once both became "?"
        _order_text("one-reader-5", extra=_deep(400)),
        _order_text("one-reader-6", extra=_deep(5000)),
        _order_text("one-reader-7", price="1e400"),
        _order_text("one-reader-8", big="123456789012345678901234"),  # read exactly
        _order_text("one-reader-9", fine=_deep(31)),
    ]
    body = ('{"orders": [' + ", ".join(texts) + "]}").encode()

    # when it is POSTed
    response = _post(served, body)

    # then it is accepted whole, and every order ends in its own place
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["orders"] == len(texts)
    status = served.wait_for(accepted["batch_id"])
    assert status["status"] == "succeeded"
    assert (status["total"], status["stored"], status["rejected"]) == (9, 3, 6)
    assert status["rejected_by_reason"] == {"invalid": 6}
    assert "Traceback" not in json.dumps(status)
    for stored in ("one-reader-1", "one-reader-8", "one-reader-9"):
        assert served.call("GET", f"/orders/{stored}").status_code == 200
    assert served.call("GET", "/orders/one-reader-?").status_code == 404  # nothing became "?"
    lines = requests.get(status["report"]["jsonl"], timeout=30).text.splitlines()
    codes = {json.loads(line)["row"]: json.loads(line)["errors"][0]["code"] for line in lines}
    assert codes == {
        2: "order.invalid_text",
        3: "order.invalid_text",
        4: "order.invalid_text",
        5: "order.too_deep",
        6: "order.too_deep",
        7: "order.number_out_of_range",
    }


def _object_exists(served: Served, key: str) -> bool:
    try:
        served.client("s3").head_object(Bucket=BUCKET, Key=key)
    except served.client("s3").exceptions.ClientError:
        return False
    return True


def test_an_idempotency_key_holds_after_its_document_is_gone(served: Served) -> None:
    # given a batch sent with an Idempotency-Key, processed, and its document then removed
    # from incoming/ (quarantine moves a document away; lifecycle rules expire them)
    body = json.dumps({"orders": [order("idem-gone-1")]}).encode()
    key = {"Idempotency-Key": "gone-after-quarantine"}
    first = _post(served, body, **key)
    assert first.status_code == 202
    finished: dict[str, Any] = served.wait_for(first.json()["batch_id"])
    served.client("s3").delete_object(Bucket=BUCKET, Key=first.json()["key"])

    # when the same key comes again, with the same body and with another
    again = _post(served, body, **key)
    other = _post(served, json.dumps({"orders": [order("idem-gone-2")]}).encode(), **key)

    # then the same body is the same batch, and nothing is written or started again ...
    assert again.status_code == 202
    assert again.json() == first.json()
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == (
        "false",
        "true",
    )
    assert not _object_exists(served, first.json()["key"])
    assert served.wait_for(first.json()["batch_id"]) == finished
    # ... and another body is a conflict, never silently dropped under the old batch id
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert served.call("GET", "/orders/idem-gone-2").status_code == 404
