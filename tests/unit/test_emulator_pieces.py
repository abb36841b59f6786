"""Unit tests for the embedded emulator's own pieces: the in-process Lambda and the local
server's access log (the SQS patches: test_sqs_patches.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow_cli.emulator.lambdas import InProcessLambda, function_name_from_path

PREFIX = "orderflow-local-"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-ValidateOrder"


def invoke_path(target: str) -> str:
    return f"/2015-03-31/functions/{target}/invocations"


# --- function names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "orderflow-local-ValidateOrder",
        ARN,
        ARN.replace(":", "%3A"),
        f"{ARN}:$LATEST",
        f"{ARN}:live".replace(":", "%3A"),
        f"{ARN}:%24LATEST",
    ],
    ids=["plain", "arn", "url-encoded-arn", "arn-qualifier", "encoded-arn-alias", "encoded-$"],
)
def test_function_name_from_path(target):
    # given an invoke path naming the function in any of the ways botocore sends it
    path = invoke_path(target)

    # then the Chalice name comes out
    assert function_name_from_path(path, PREFIX) == "ValidateOrder"


def test_function_name_from_path_keeps_a_name_without_the_prefix():
    assert function_name_from_path(invoke_path("SomethingElse"), PREFIX) == "SomethingElse"


# --- InProcessLambda --------------------------------------------------------------------------


class ChunkRefused(Exception):
    pass


def call(lam: InProcessLambda, name: str, event: Any) -> tuple[Any, dict[str, Any]]:
    params = {
        "url_path": invoke_path(f"{PREFIX}{name}"),
        "body": json.dumps(event).encode(),
        "url": f"https://lambda.us-east-1.amazonaws.com{invoke_path(PREFIX + name)}",
    }
    http, parsed = lam._invoke(params)
    payload = json.loads(parsed["Payload"].read())
    return http, {**parsed, "Payload": payload}


def test_a_handler_result_is_the_payload():
    # given a function that echoes its event and reads its context
    def echo(event: Any, context: Any) -> dict[str, Any]:
        return {
            "got": event,
            "name": context.function_name,
            "ms": context.get_remaining_time_in_millis(),
        }

    lam = InProcessLambda({"Echo": echo}, PREFIX)

    # when invoked
    http, answer = call(lam, "Echo", {"a": [1, "two"]})

    # then the payload is its result, without FunctionError, and the call is counted
    assert http.status_code == 200
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["Payload"]["got"] == {"a": [1, "two"]}
    assert answer["Payload"]["name"] == "Echo"
    assert answer["Payload"]["ms"] > 0
    assert lam.invocations == {"Echo": 1}


def test_a_handler_exception_is_answered_like_lambda():
    # given a function that raises
    def refuse(event: Any, context: Any) -> Any:
        raise ChunkRefused(f"chunk {event['index']} refused")

    lam = InProcessLambda({"ValidateOrder": refuse}, PREFIX)

    # when invoked twice
    call(lam, "ValidateOrder", {"index": 1})
    _, answer = call(lam, "ValidateOrder", {"index": 2})

    # then the answer is a function error named after the exception class, as Lambda gives it
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Payload"]["errorType"] == "ChunkRefused"
    assert answer["Payload"]["errorMessage"] == "chunk 2 refused"
    assert isinstance(answer["Payload"]["stackTrace"], list)
    assert lam.invocations == {"ValidateOrder": 2}
    assert lam.busy_seconds["ValidateOrder"] >= 0


def test_a_call_that_is_not_an_invoke_is_counted_too():
    # given a function called the way an event source mapping calls it (no Invoke request)
    lam = InProcessLambda({"Review": lambda event, _ctx: {"batchItemFailures": []}}, PREFIX)

    # when it is called twice
    lam.call("Review", {"Records": []})
    lam.call("Review", {"Records": []})

    # then both calls count for the cost model
    assert lam.invocations == {"Review": 2}
    assert lam.busy_seconds["Review"] >= 0


def test_an_empty_body_is_an_empty_event():
    seen: list[Any] = []
    lam = InProcessLambda({"F": lambda event, _ctx: seen.append(event)}, PREFIX)
    lam._invoke({"url_path": invoke_path(f"{PREFIX}F"), "body": b""})
    assert seen == [{}]


def test_the_local_servers_access_log_leaves_the_query_out() -> None:
    from orderflow_cli.emulator.server import _RequestHandler

    handler = _RequestHandler.__new__(_RequestHandler)  # no socket: only the log is used
    handler.requestline = (
        "POST /orders?callback_url=https%3A%2F%2Fh.example%2Fhook%3Ftoken%3Dsekrit"
        "%26to%3Dann%40example.com HTTP/1.1"
    )
    logged: list[str] = []
    handler.log_message = lambda format, *args: logged.append(format % args)

    handler.log_request(202)

    assert logged == ['"POST /orders" 202 -']


def test_a_client_gone_before_its_answer_is_not_printed_as_the_servers_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orderflow_cli.emulator.server import _ConcurrentServer

    server = _ConcurrentServer.__new__(_ConcurrentServer)  # handle_error needs no socket
    for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        try:
            raise gone
        except OSError:
            server.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a real fault")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a real fault" in capsys.readouterr().err
