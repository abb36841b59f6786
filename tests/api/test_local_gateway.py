"""The local server does what API Gateway does with a request before the app sees it: path
parameters decoded, chunked bodies read, broken framing refused in the API's error shape,
requests served at once. Over real HTTP, against `orders serve` in its own process."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from orderflow_cli.emulator.server import IN_MEMORY_NOTICE, MAX_BODY_BYTES
from tests.api.conftest import API_KEY, Served
from tests.conftest import order


def _raw(served: Served, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends `request` as it is on a new connection; returns the status, headers and body of
    the answer (read until the server closes the connection)."""
    address = urlsplit(served.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, body


def _post_orders(*extra_headers: str, body: bytes = b"") -> bytes:
    head = [
        "POST /orders HTTP/1.1",
        "Host: 127.0.0.1",
        f"x-api-key: {API_KEY}",
        "Content-Type: application/json",
        "Connection: close",
        *extra_headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_path_parameters_reach_the_route_url_decoded(served: Served) -> None:
    # given orders whose ids need encoding in a path
    ids = ["A B", "a/b", "50%+off", "é-1"]
    accepted = served.call("POST", "/orders", json=[order(i) for i in ids]).json()
    assert served.wait_for(accepted["batch_id"])["stored"] == len(ids)

    # when each is asked for by its encoded id, then each is found
    for path, wanted in [
        ("/orders/A%20B", "A B"),
        ("/orders/a%2Fb", "a/b"),  # an encoded slash stays inside its segment
        ("/orders/a%2fb", "a/b"),
        ("/orders/50%25%2Boff", "50%+off"),
        ("/orders/%C3%A9-1", "é-1"),
    ]:
        response = served.call("GET", path)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["order-info"]["OrderId"] == wanted
    # a plus in a path is a plus, not a space; a real slash is a route of its own
    assert served.call("GET", "/orders/A+B").json()["error"]["message"] == "no order 'A+B'"
    unknown = served.call("GET", "/orders/a/b")  # API Gateway: its 403, no such route
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "route_not_found")


def test_a_chunked_body_is_read(served: Served) -> None:
    body = json.dumps({"orders": [order(f"chunked-{i}") for i in range(5)]}).encode()

    def pieces() -> Iterator[bytes]:  # requests sends a generator chunked, with no length
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = served.call(
        "POST", "/orders", data=pieces(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202, response.text
    assert response.json()["orders"] == 5
    assert served.wait_for(response.json()["batch_id"])["stored"] == 5


def test_a_chunked_body_with_extensions_and_trailers_is_read(served: Served) -> None:
    body = json.dumps([order("chunked-ext")]).encode()
    first, second = body[:10], body[10:]
    chunks = (
        f"{len(first):x};name=value\r\n".encode() + first + b"\r\n"
        + f"{len(second):X}\r\n".encode() + second + b"\r\n"
        + b"0\r\nX-Trailer: yes\r\n\r\n"
    )  # fmt: skip

    status, _, answer = _raw(served, _post_orders("Transfer-Encoding: chunked", body=chunks))

    assert status == 202, answer
    assert json.loads(answer)["orders"] == 1


@pytest.mark.parametrize(
    ("framing", "body", "mentions"),
    [
        (["Content-Length: abc"], b"{}", "Content-Length"),
        (["Content-Length: -1"], b"{}", "Content-Length"),
        (["Content-Length: +2"], b"{}", "Content-Length"),
        (["Content-Length: 1, 2"], b"{}", "Content-Length"),
        (["Content-Length: 2", "Content-Length: 3"], b"{}", "Content-Length"),
        (["Content-Length: 10"], b"{}", "ended after 2 of 10"),  # then the client closes
        (["Transfer-Encoding: gzip"], b"{}", "Transfer-Encoding"),
        (["Transfer-Encoding: chunked", "Content-Length: 2"], b"{}", "not both"),
        (["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n", "chunk size"),
        (["Transfer-Encoding: chunked"], b"10\r\n{}\r\n0\r\n\r\n", "inside a chunk"),
    ],
)
def test_a_body_whose_framing_cannot_be_read_is_a_400_in_the_api_error_shape(
    served: Served, framing: list[str], body: bytes, mentions: str
) -> None:
    request = _post_orders(*framing, body=body)
    address = urlsplit(served.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)  # nothing more comes: a short body ends here
        received = b""
        while chunk := connection.recv(65536):
            received += chunk

    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"400", received
    assert b"connection: close" in head.lower()
    error = json.loads(answer)["error"]
    assert error["code"] == "bad_request"
    assert mentions in error["message"]
    assert served.call("GET", "/health").status_code == 200  # the server goes on


def test_a_body_over_api_gateways_limit_is_a_413_before_it_is_read(served: Served) -> None:
    status, headers, answer = _raw(
        served, _post_orders(f"Content-Length: {MAX_BODY_BYTES + 1}", body=b"{")
    )

    assert (status, headers.get("connection")) == (413, "close")
    assert json.loads(answer)["error"]["code"] == "payload_too_large"


def test_concurrent_retries_of_one_post_make_exactly_one_batch(served: Served) -> None:
    # given one POST that a client sends N times at once with one Idempotency-Key
    clients = 8
    body = {"orders": [order(f"at-once-{i}") for i in range(3)]}
    headers = {"Idempotency-Key": "eight-at-once"}
    start = threading.Barrier(clients)

    def post(_: int) -> Any:
        start.wait(timeout=30)
        return served.call("POST", "/orders", json=body, headers=headers)

    # when they all arrive together
    with ThreadPoolExecutor(clients) as pool:
        responses = list(pool.map(post, range(clients)))

    # then every one gets the same 202, and one document, one execution and one batch result
    assert [r.status_code for r in responses] == [202] * clients, [r.text for r in responses]
    answers = {json.dumps(r.json(), sort_keys=True) for r in responses}
    assert len(answers) == 1
    accepted = responses[0].json()
    versions = served.client("s3").list_object_versions(
        Bucket="orderflow-local-orders", Prefix=accepted["key"]
    )
    assert len(versions.get("Versions", [])) == 1
    machine = accepted["execution_arn"].rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    executions = served.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in executions["executions"]].count(accepted["batch_id"]) == 1
    status = served.wait_for(accepted["batch_id"])
    assert (status["status"], status["total"], status["stored"]) == ("succeeded", 3, 3)


def test_concurrent_requests_of_every_kind_are_all_answered(served: Served) -> None:
    # reads, writes and refusals at once: none may fail for having met another
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/orders", {"json": [order(f"mixed-{i}")]}) for i in range(6)
    ]
    calls += [("GET", "/reviews", {"params": {"limit": "5"}}) for _ in range(6)]
    calls += [("GET", "/orders/no-such-order", {}) for _ in range(6)]
    calls += [("POST", "/uploads", {"json": {"content_type": "text/csv"}}) for _ in range(6)]
    start = threading.Barrier(len(calls))

    def call(spec: tuple[str, str, dict[str, Any]]) -> int:
        method, path, kwargs = spec
        start.wait(timeout=30)
        return int(served.call(method, path, **kwargs).status_code)

    with ThreadPoolExecutor(len(calls)) as pool:
        statuses = list(pool.map(call, calls))

    assert statuses == [202] * 6 + [200] * 6 + [404] * 6 + [201] * 6


def test_the_server_says_at_start_that_its_state_ends_with_it(served: Served) -> None:
    lines = served.stderr_path.read_text().splitlines()

    assert lines.count(IN_MEMORY_NOTICE) == 1
    assert "memory" in IN_MEMORY_NOTICE


@pytest.mark.parametrize("key", [API_KEY, None])
def test_a_path_no_route_has_is_a_404_in_the_api_error_shape(served: Served, key: Any) -> None:
    answer = served.call("GET", "/no/such/route?x=1", key=key)

    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {
        "error": {"code": "route_not_found", "message": "no route /no/such/route"}
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("DELETE", "/orders", "POST"), ("PUT", "/batches/b-1", "GET"), ("POST", "/health", "GET")],
)
def test_a_method_the_route_does_not_have_is_a_405_in_the_api_error_shape(
    served: Served, method: str, path: str, allowed: str
) -> None:
    for key in (API_KEY, None):  # the route is checked before the key, as API Gateway does
        answer = served.call(method, path, key=key)

        assert answer.status_code == 405
        assert answer.headers["Allow"] == allowed
        assert answer.json() == {
            "error": {
                "code": "method_not_allowed",
                "message": f"{path} takes {allowed}, not {method}",
            }
        }
