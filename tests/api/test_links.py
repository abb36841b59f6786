"""Upload links end to end, over real HTTP against `orders serve` in its own process: an operator
makes one with `orders senders link`, the partner's page uses it in `x-api-key` exactly as a key,
and Chalice's local gateway holds it to the routes the authorizer allowed, as API Gateway does.
The link stops with its sender's key rotation and with the sender's disabling."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from chalicelib.senders import SenderRegistry
from orderflow_cli.main import main
from orderflow_cli.stack import open_stack
from tests.api.conftest import Served
from tests.conftest import order

ENDED = {"succeeded", "failed", "quarantined"}
REFUSED = {"Message": "User is not authorized to access this resource"}  # API Gateway's 403


def _registry(served: Served) -> SenderRegistry:
    stack = open_stack(served.s3_url, "local")
    return SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])


def _link(served: Served, capsys: pytest.CaptureFixture[str], sender: str) -> str:
    capsys.readouterr()
    argv = ["senders", "link", sender, "--days", "1", "--endpoint", served.s3_url, "--json"]
    assert main(argv) == 0
    token: str = json.loads(capsys.readouterr().out)["token"]
    return token


def _ended(served: Served, batch_id: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status: dict[str, Any] = served.call("GET", f"/batches/{batch_id}", key=token).json()
        if status.get("status") in ENDED:
            return status
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not end")


def _refused(response: requests.Response) -> bool:
    return response.status_code == 403 and response.json() == REFUSED


def test_a_link_uploads_and_reads_its_own_batches_and_nothing_else(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _registry(served)
    registry.add("link-shop", "Link Shop")
    token = _link(served, capsys, "link-shop")

    # allowed: send orders, read the batch, its rejections and the list, get an upload
    sent = served.call("POST", "/orders", key=token, json=[order("l-1"), order("l-2", qty="0")])
    assert sent.status_code == 202, sent.text
    batch_id = sent.json()["batch_id"]
    status = _ended(served, batch_id, token)
    assert (status["status"], status["stored"], status["rejected"]) == ("succeeded", 1, 1)
    listed = served.call("GET", "/batches", key=token)
    assert listed.status_code == 200, listed.text
    assert batch_id in [b["batch_id"] for b in listed.json()["batches"]]
    rejections = served.call("GET", f"/batches/{batch_id}/rejections", key=token)
    assert rejections.status_code == 200, rejections.text
    assert [r["order_id"] for r in rejections.json()["rejections"]] == ["l-2"]
    upload = served.call("POST", "/uploads", key=token, json={"filename": "a.csv"})
    assert upload.status_code == 201, upload.text
    assert {"url", "fields", "batch_id"} <= set(upload.json())

    # refused, as an unknown key is: every other route
    for method, path in [
        ("GET", "/orders/l-1"),
        ("GET", "/reviews"),
        ("GET", "/profile"),
        ("PUT", "/profile"),
        ("DELETE", "/profile"),
    ]:
        assert _refused(served.call(method, path, key=token, json={})), (method, path)

    # another sender's batch is not found, as with its key
    demo = served.call("POST", "/orders", json=[order("l-demo")]).json()["batch_id"]
    other = served.call("GET", f"/batches/{demo}", key=token)
    assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found")


def test_a_link_stops_after_rotate_key_and_after_disable(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _registry(served)
    registry.add("link-gone", "Link Gone")
    first = _link(served, capsys, "link-gone")
    assert served.call("GET", "/batches", key=first).status_code == 200

    registry.rotate_key("link-gone")  # the local gateway has no cache: it stops at once

    assert _refused(served.call("GET", "/batches", key=first))
    assert _refused(served.call("POST", "/orders", key=first, json=[order("never")]))
    second = _link(served, capsys, "link-gone")
    assert served.call("GET", "/batches", key=second).status_code == 200

    registry.disable("link-gone")

    assert _refused(served.call("GET", "/batches", key=second))
    assert _refused(served.call("POST", "/uploads", key=second, json={}))


@pytest.mark.parametrize(
    "token",
    ["ofl_", "ofl_x.y", "ofl_" + "A" * 40 + "." + "B" * 43, "ofl_é.x", "ofl_" + "x" * 2000],
)
def test_a_malformed_link_is_refused_as_an_unknown_key(served: Served, token: str) -> None:
    response = served.call("GET", "/batches", key=token.encode("utf-8").decode("latin-1"))
    assert _refused(response)
