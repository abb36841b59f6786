"""Cross-sender attempts over HTTP against `orders serve`: every route and the operator's commands,
with another sender's key, a disabled sender's key, a rotated-out key, no key, and a sender
forged in the body, the query or an S3 key. None reads or changes what it should not, and each
gets the documented status: another sender's batch or order answers exactly as one that does
not exist."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.senders import SenderRegistry
from orderflow_cli.main import main
from orderflow_cli.stack import open_stack
from tests.api.conftest import Served
from tests.conftest import order

ROUTES = [
    ("POST", "/orders", {"json": {"orders": [order("x-1")]}}),
    ("POST", "/uploads", {"json": {"filename": "x.csv", "content_type": "text/csv"}}),
    ("GET", "/batches/api-000000000000000000000000", {}),
    ("GET", "/orders/x-1", {}),
    ("GET", "/reviews", {}),
]
REFUSED = {"message": "User is not authorized to access this resource"}


@dataclass
class Tenant:
    sender_id: str
    key: str
    batch_id: str  # a batch it posted: orders t-1 (stored) and t-2 (qty 0: rejected)
    order_ids: tuple[str, ...]


@pytest.fixture(scope="module")
def registry(served: Served) -> SenderRegistry:
    stack = open_stack(served.s3_url, "local")
    return SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])


def _tenant(served: Served, registry: SenderRegistry, name: str) -> Tenant:
    sender_id = f"{name}-{uuid.uuid4().hex[:6]}"
    _, key = registry.add(sender_id, name.title())
    ids = (f"{sender_id}-1", f"{sender_id}-2")
    body = {"orders": [order(ids[0]), order(ids[1], qty="0")]}
    posted = served.call("POST", "/orders", key=key, json=body, headers={"Idempotency-Key": "k-1"})
    assert posted.status_code == 202, posted.text
    batch_id = posted.json()["batch_id"]
    assert _wait(served, key, batch_id)["status"] == "succeeded"
    return Tenant(sender_id, key, batch_id, ids)


def _wait(served: Served, key: str, batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = served.call("GET", f"/batches/{batch_id}", key=key).json()
        if status.get("status") in {"succeeded", "failed", "quarantined"} and status.get(
            "reviewed"
        ):
            return dict(status)
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish and get reviewed")


@pytest.fixture(scope="module")
def tenants(served: Served, registry: SenderRegistry) -> tuple[Tenant, Tenant]:
    return _tenant(served, registry, "alpha"), _tenant(served, registry, "beta")


def _not_found_like(answer: Any, nothing: Any) -> None:
    """The answer is the one a thing that does not exist gets: status, code and shape."""
    assert answer.status_code == nothing.status_code == 404
    assert answer.json().keys() == nothing.json().keys()
    assert answer.json()["error"]["code"] == nothing.json()["error"]["code"]


def test_another_senders_batch_answers_as_one_that_does_not_exist(served, tenants):
    alpha, beta = tenants
    mine = served.call("GET", f"/batches/{alpha.batch_id}", key=alpha.key)
    theirs = served.call("GET", f"/batches/{alpha.batch_id}", key=beta.key)
    nothing = served.call("GET", "/batches/api-ffffffffffffffffffffffff", key=beta.key)

    assert mine.status_code == 200
    assert mine.json()["stored"] == 1
    _not_found_like(theirs, nothing)
    assert alpha.order_ids[0] not in theirs.text


def test_another_senders_order_answers_as_one_that_does_not_exist(served, tenants):
    alpha, beta = tenants
    mine = served.call("GET", f"/orders/{alpha.order_ids[0]}", key=alpha.key)
    theirs = served.call("GET", f"/orders/{alpha.order_ids[0]}", key=beta.key)
    nothing = served.call("GET", "/orders/never-sent", key=beta.key)

    assert mine.status_code == 200
    assert mine.json()["sender"] == alpha.sender_id
    _not_found_like(theirs, nothing)
    assert "example.com" not in theirs.text


def test_a_sender_forged_in_the_query_changes_nothing(served, tenants):
    alpha, beta = tenants
    for path in (
        f"/orders/{alpha.order_ids[0]}?sender={alpha.sender_id}",
        f"/batches/{alpha.batch_id}?sender={alpha.sender_id}",
    ):
        assert served.call("GET", path, key=beta.key).status_code == 404
    reviews = served.call(
        "GET", f"/reviews?batch_id={alpha.batch_id}&sender={alpha.sender_id}", key=beta.key
    )
    assert reviews.status_code == 200
    assert reviews.json()["reviews"] == []


def test_reviews_list_only_the_callers_own(served, tenants):
    alpha, beta = tenants
    own = served.call("GET", "/reviews", key=alpha.key).json()["reviews"]
    theirs = served.call("GET", f"/reviews?batch_id={alpha.batch_id}", key=beta.key).json()
    every_of_beta = served.call("GET", "/reviews", key=beta.key).json()["reviews"]

    assert [r["order_id"] for r in own] == [alpha.order_ids[1]]
    assert theirs["reviews"] == []
    assert theirs["counts"] == {}
    assert {r["batch_id"] for r in every_of_beta} == {beta.batch_id}


def test_the_same_idempotency_key_from_two_senders_is_two_batches(served, tenants):
    # both tenants posted with Idempotency-Key k-1, each with its own body: no conflict, and
    # neither batch id says anything about the other's
    alpha, beta = tenants
    assert alpha.batch_id != beta.batch_id
    again = served.call(
        "POST", "/orders", key=beta.key, json={"orders": [order("other")]},
        headers={"Idempotency-Key": "k-1"},
    )  # fmt: skip
    assert again.status_code == 409  # beta's own key, reused with another body
    assert again.json()["error"]["code"] == "idempotency_key_reused"


def test_a_sender_forged_in_the_body_reaches_no_other_sender(served, registry, tenants):
    alpha, beta = tenants
    forged, honest = f"{beta.sender_id}-forged", f"{beta.sender_id}-honest"
    body = {
        "sender": alpha.sender_id,
        "orders": [order(forged, sender=alpha.sender_id), order(honest)],
    }
    posted = served.call("POST", "/orders", key=beta.key, json=body)
    assert posted.status_code == 202
    _wait_stored(served, beta.key, posted.json()["batch_id"])

    # the document's "sender" is ignored: its orders are the key's sender's
    stored = served.call("GET", f"/orders/{honest}", key=beta.key)
    assert stored.status_code == 200
    assert stored.json()["sender"] == beta.sender_id
    assert served.call("GET", f"/orders/{honest}", key=alpha.key).status_code == 404
    # an order naming another sender is stored under neither: its own value would be lost
    for key in (alpha.key, beta.key):
        assert served.call("GET", f"/orders/{forged}", key=key).status_code == 404
    batch = served.call("GET", f"/batches/{posted.json()['batch_id']}", key=beta.key).json()
    assert (batch["stored"], batch["rejected_by_reason"]) == (1, {"invalid": 1})


def _wait_stored(served: Served, key: str, batch_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if served.call("GET", f"/batches/{batch_id}", key=key).json().get("status") in {
            "succeeded", "failed", "quarantined",
        }:  # fmt: skip
            return
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_a_presigned_upload_is_held_to_the_senders_own_folder(served, tenants):
    alpha, beta = tenants
    answer = served.call(
        "POST", "/uploads", key=beta.key,
        json={"filename": f"../../{alpha.sender_id}/evil.csv", "content_type": "text/csv"},
    )  # fmt: skip
    assert answer.status_code == 201
    presigned = answer.json()
    assert presigned["key"].startswith(f"incoming/{beta.sender_id}/uploads/")
    # the signed policy (decoded here, not by our code) names exactly that key
    policy = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    assert {"key": presigned["key"]} in policy["conditions"]


@pytest.mark.parametrize("folder", ["", "nobody-here/", "Alpha/"])
def test_a_file_outside_any_senders_folder_is_quarantined_not_guessed(served, tenants, folder):
    s3 = served.client("s3")
    names = open_stack(served.s3_url, "local").names
    key = f"incoming/{folder}stray-{uuid.uuid4().hex[:6]}.json"
    s3.put_object(
        Bucket=names["BUCKET_NAME"], Key=key,
        Body=json.dumps({"orders": [order("stray-1")]}).encode(),
    )  # fmt: skip
    report = _quarantine_report(served, names, key)
    assert report["error"]["code"] == "file.no_sender"
    assert report["sender"] == "_unassigned"
    assert "incoming/<sender id>/" in report["error"]["message"]
    for tenant in tenants:  # no sender sees it
        assert served.call("GET", "/orders/stray-1", key=tenant.key).status_code == 404


def _quarantine_report(served: Served, names: dict[str, str], key: str) -> dict[str, Any]:
    s3 = served.client("s3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=names["BUCKET_NAME"], Prefix="quarantine/_unassigned/")
        for item in listed.get("Contents", []):
            if item["Key"].endswith("/error.json"):
                body = s3.get_object(Bucket=names["BUCKET_NAME"], Key=item["Key"])["Body"].read()
                report: dict[str, Any] = json.loads(body)
                if report["source"]["key"] == key:
                    return report
        time.sleep(0.2)
    raise AssertionError(f"no quarantine report for {key}")


@pytest.mark.parametrize(("method", "path", "options"), ROUTES)
def test_every_route_refuses_no_key_401_and_a_dead_key_403(served, registry, method, path, options):
    sender_id = f"gone-{uuid.uuid4().hex[:6]}"
    _, old_key = registry.add(sender_id, "Gone")
    registry.rotate_key(sender_id)
    disabled_id = f"off-{uuid.uuid4().hex[:6]}"
    _, disabled_key = registry.add(disabled_id, "Off")
    registry.disable(disabled_id)

    none = served.call(method, path, key=None, **options)
    assert none.status_code == 401
    assert none.json() == {"message": "Unauthorized"}
    for key in (old_key, disabled_key, "ofk_" + "x" * 43):
        refused = served.call(method, path, key=key, **options)
        assert refused.status_code == 403
        assert refused.json() == {"Message": REFUSED["message"]}


def test_operator_commands_scoped_to_a_sender_see_only_its_data(served, tenants, capsys):
    alpha, beta = tenants
    endpoint = ["--endpoint", served.s3_url]

    assert main(["report", alpha.batch_id, "--sender", beta.sender_id, *endpoint]) == 1
    assert "no batch" in capsys.readouterr().err
    assert main(["report", alpha.batch_id, "--sender", alpha.sender_id, *endpoint]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["order_id"] for line in lines] == [alpha.order_ids[1]]

    assert main(["dlq", "review", "--sender", beta.sender_id, "--json", *endpoint]) == 0
    reviewed = json.loads(capsys.readouterr().out)
    assert {r["sender"] for r in reviewed} == {beta.sender_id}
    assert beta.batch_id in {r["batch_id"] for r in reviewed}
    assert alpha.batch_id not in {r["batch_id"] for r in reviewed}

    review_id = f"{alpha.batch_id}:2"
    assert main(["dlq", "redrive", review_id, "--sender", beta.sender_id, *endpoint]) == 1
    assert "no review record" in capsys.readouterr().err
