"""The metrics each function emits while the pipeline runs on the emulator add up to what the
batch records and the review records say (the emulator keeps the EMF lines in memory)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from chalice.app import Request

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import order, run, write_orders
from tests.unit.test_metrics import check_emf


def emitted(local: EmbeddedAWS) -> list[dict[str, Any]]:
    return [check_emf(line) for line in local.metric_lines]


def total(documents: list[dict[str, Any]], metric: str, **dimensions: str) -> float:
    """The sum of `metric` over the documents with exactly these dimensions (besides Stage)."""
    wanted = sorted(["Stage", *dimensions])
    found = 0.0
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = {m["Name"] for m in directive["Metrics"]}
            declared = [sorted(s) for s in directive["Dimensions"]]
            matches = all(document.get(k) == v for k, v in dimensions.items())
            if metric in names and wanted in declared and matches:
                found += document[metric]
    return found


def test_the_pipeline_and_the_reviewer_emit_what_the_records_say(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    orders = [
        order("m-1"),
        order("m-2", qty="0"),  # invalid, no repair rule
        order("m-3", qty="2.0"),  # invalid, repaired by the reviewer
        order("m-4"),
        order("m-5", email="not-an-address"),
        order("m-6"),
        order("m-7"),
    ]
    (record,) = run(local, write_orders(tmp_path / "m.json", orders))
    local.dead_letters.settle()
    documents = emitted(local)
    assert {d["Stage"] for d in documents} == {"local"}

    assert total(documents, "OrdersReceived") == record["total"] == 7
    assert total(documents, "OrdersStored") == record["stored"] == 4
    assert total(documents, "OrdersRejected") == record["rejected"] == 3
    for reason, rejected in record["rejected_by_reason"].items():
        assert total(documents, "OrdersRejected", Reason=reason) == rejected
    assert total(documents, "BatchesRecorded", Status="succeeded") == 1
    (batch,) = [d for d in documents if "BatchDuration" in d]
    assert batch["batch_id"] == record["batch_id"]
    assert 0 <= batch["BatchDuration"] < 120

    chunks = [d for d in documents if "ChunkDuration" in d]
    assert len(chunks) == record["chunks"] == 3  # chunks of 3 orders (FAST)
    assert sum(d["ChunkOrders"] for d in chunks) == 7
    assert total(documents, "FilesAnnounced", Outcome="started") == 1
    assert total(documents, "FilesPrepared", Status="ready") == 1

    reviewed: Counter[tuple[str, str]] = Counter()
    for d in documents:
        if "Decision" in d:  # one document per group and (decision, ended)
            reviewed[(d["Decision"], d["Ended"])] += d["OrdersReviewed"]
    assert sum(reviewed.values()) == 3  # every dead-lettered order, once
    assert reviewed[("repair", "stored")] == 1
    assert reviewed[("archive", "archived")] == 2
    assert total(documents, "ReviewMessagesFailed") == 0


def test_a_repeated_s3_event_and_a_quarantined_file_are_counted_as_such(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    (record,) = run(local, bad)
    assert record["status"] == "quarantined"
    documents = emitted(local)
    assert total(documents, "FilesPrepared", Status="quarantined") == 1
    assert total(documents, "BatchesRecorded", Status="quarantined") == 1
    assert total(documents, "OrdersReceived") == 0


def test_orders_posted_to_the_api_are_counted_for_the_sender_that_sent_them(
    local: EmbeddedAWS,
) -> None:
    app = local.app
    assert app is not None
    body = json.dumps({"orders": [order("a-1"), order("a-2")]})

    def post() -> Any:
        app.app.current_request = Request(
            {
                "multiValueQueryStringParameters": None,
                "headers": {"content-type": "application/json", "idempotency-key": "once"},
                "pathParameters": None,
                "requestContext": {
                    "httpMethod": "POST",
                    "resourcePath": "/orders",
                    "authorizer": {"principalId": "acme", "sender_id": "acme"},
                },
                "body": body,
                "isBase64Encoded": False,
                "stageVariables": None,
            }
        )
        try:
            return app.post_orders()
        finally:
            app.app.current_request = None

    response = post()
    assert response.status_code == 202, response.body
    again = post()  # a retry at once, while the batch is still pending (or just started)
    assert again.body == response.body
    local.wait(response.body["batch_id"])
    replay = post()  # the client's retry, after its batch ran: nothing new was submitted
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (202, "true")
    assert (response.headers["Idempotent-Replayed"], replay.body) == ("false", response.body)

    documents = emitted(local)
    assert total(documents, "OrdersSubmitted", Sender="acme") == 2
    assert total(documents, "OrdersSubmitted") == 2
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/api/POST/orders"
    app.sender_key({"type": "TOKEN", "authorizationToken": "not-a-key", "methodArn": arn}, None)
    assert total(emitted(local), "ApiKeysRefused") == 1  # the authorizer, as API Gateway calls it
