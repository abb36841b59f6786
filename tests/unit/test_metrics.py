"""The functions' metrics are EMF documents CloudWatch Logs can read: each line is checked
against the Embedded Metric Format specification (written out here as a JSON schema and the
spec's rules between members, independently of chalicelib.metrics), and the metrics, units and
dimension sets each function records are spelled out by hand."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from chalicelib import metrics

# CloudWatch's units (StandardUnit), any of which a MetricDefinition's Unit may be.
_UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip

# The document structure of the specification ("Specification: Embedded metric format",
# CloudWatch User Guide): the root's `_aws` metadata object, its MetricDirectives, their
# DimensionSets (at most 30 dimension names each) and MetricDefinitions (at most 100).
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "additionalProperties": False,
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1},
                                        "Unit": {"enum": _UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def check_emf(line: str) -> dict[str, Any]:
    """One EMF line, checked: the schema, then the rules between members. Returns it."""
    assert "\n" not in line  # one log event per document
    document: dict[str, Any] = json.loads(line)
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            assert len(set(dimension_set)) == len(dimension_set)
            for name in dimension_set:  # a dimension's value is a string member of the root
                value = document.get(name)
                assert isinstance(value, str), (name, value)
                assert value.strip()
                assert len(value) <= 1024
        for definition in directive["Metrics"]:  # a metric's value: a number, or numbers
            value = document.get(definition["Name"])
            values = value if isinstance(value, list) else [value]
            assert values, definition
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return document


def directives(document: dict[str, Any]) -> list[tuple[str, list[list[str]], dict[str, str]]]:
    return [
        (d["Namespace"], d["Dimensions"], {m["Name"]: m["Unit"] for m in d["Metrics"]})
        for d in document["_aws"]["CloudWatchMetrics"]
    ]


@pytest.fixture(autouse=True)
def _stage() -> Any:
    metrics.configure("dev")
    yield
    metrics.configure("unknown")


def test_a_batch_is_recorded_as_its_orders_by_outcome_reason_and_sender() -> None:
    counts = {
        "total": 10, "stored": 6, "unchanged": 1, "rejected": 4, "unprocessed": 0,
        "rejected_by_reason": {"invalid": 3, "conflict": 1},
    }  # fmt: skip
    before = int(time.time() * 1000)
    with metrics.capture() as lines:
        metrics.batch_recorded("succeeded", counts, seconds=12.5, batch_id="b-1", sender="acme")

    orders, batches, invalid, conflict = (check_emf(line) for line in lines)
    assert before <= orders["_aws"]["Timestamp"] <= int(time.time() * 1000)
    assert directives(orders) == [
        (
            "orderflow",
            [["Stage"], ["Stage", "Sender"]],
            {
                "OrdersReceived": "Count", "OrdersStored": "Count", "OrdersUnchanged": "Count",
                "OrdersRejected": "Count", "OrdersUnprocessed": "Count", "BatchDuration": "Seconds",
            },
        )
    ]  # fmt: skip
    assert (orders["Stage"], orders["Sender"], orders["batch_id"]) == ("dev", "acme", "b-1")
    received = [orders[name] for name in ("OrdersReceived", "OrdersStored", "OrdersUnchanged")]
    assert received == [10, 6, 1]
    assert (orders["OrdersRejected"], orders["OrdersUnprocessed"], orders["BatchDuration"]) == (
        4, 0, 12.5
    )  # fmt: skip
    assert directives(batches) == [
        ("orderflow", [["Stage", "Status"], ["Stage", "Status", "Sender"]],
         {"BatchesRecorded": "Count"})
    ]  # fmt: skip
    assert (batches["Status"], batches["BatchesRecorded"]) == ("succeeded", 1)
    for document, reason, rejected in ((invalid, "invalid", 3), (conflict, "conflict", 1)):
        assert directives(document) == [
            ("orderflow", [["Stage", "Reason"]], {"OrdersRejected": "Count"})
        ]
        assert (document["Reason"], document["OrdersRejected"]) == (reason, rejected)


def test_without_a_sender_no_sender_dimension_is_declared_or_written() -> None:
    counts = {"total": 1, "stored": 1, "rejected": 0, "rejected_by_reason": {}}
    with metrics.capture() as lines:
        metrics.batch_recorded("succeeded", counts, seconds=None, batch_id="b-2")
        metrics.chunk_processed(orders=1, seconds=0.25, batch_id="b-2")
        metrics.orders_submitted(5, sender=None)
        metrics.upload_granted(sender="   ")  # blank is no sender

    documents = [check_emf(line) for line in lines]
    assert len(documents) == 5  # orders, batches by status (no reasons), chunk, submitted, upload
    for document in documents:
        assert "Sender" not in document
        for _, sets, _ in directives(document):
            assert all("Sender" not in dimension_set for dimension_set in sets)
    assert "BatchDuration" not in documents[0]  # no start time known: no duration
    chunk = documents[2]
    assert directives(chunk) == [
        ("orderflow", [["Stage"]], {"ChunkDuration": "Milliseconds", "ChunkOrders": "Count"})
    ]
    assert (chunk["ChunkDuration"], chunk["ChunkOrders"]) == (250.0, 1)


def test_api_metrics_carry_the_sender_the_authorizer_resolved() -> None:
    with metrics.capture() as lines:
        metrics.orders_submitted(3, sender="acme")
        metrics.upload_granted(sender="acme")
        metrics.api_key_checked(allowed=False)
        metrics.api_key_checked(allowed=True)

    submitted, upload, refused, allowed = (check_emf(line) for line in lines)
    assert directives(submitted) == [
        ("orderflow", [["Stage"], ["Stage", "Sender"]], {"OrdersSubmitted": "Count"})
    ]
    assert (submitted["OrdersSubmitted"], submitted["Sender"]) == (3, "acme")
    assert (upload["UploadsGranted"], upload["Sender"]) == (1, "acme")
    assert (refused["ApiKeysRefused"], allowed["ApiKeysRefused"]) == (1, 0)


def test_reviews_are_counted_by_decision_and_by_where_each_order_ended() -> None:
    decisions = [("retry", "stored"), ("archive", "archived"), ("retry", "stored"),
                 ("repair", "unchanged")]  # fmt: skip
    with metrics.capture() as lines:
        metrics.orders_reviewed(iter(decisions))

    documents = [check_emf(line) for line in lines]
    for document in documents:
        assert directives(document) == [
            ("orderflow", [["Stage", "Decision"], ["Stage", "Ended"]], {"OrdersReviewed": "Count"})
        ]
    counted = {(d["Decision"], d["Ended"]): d["OrdersReviewed"] for d in documents}
    assert counted == {("retry", "stored"): 2, ("archive", "archived"): 1,
                       ("repair", "unchanged"): 1}  # fmt: skip


def test_webhook_files_and_reviewer_calls_each_have_their_metrics() -> None:
    with metrics.capture() as lines:
        metrics.webhook_delivered("gone", attempts=2, batch_id="b-3")
        metrics.file_announced(started=False)
        metrics.file_prepared("quarantined", seconds=1.5, batch_id="b-3")
        metrics.review_messages(10, 1)

    webhook, announced, prepared, review = (check_emf(line) for line in lines)
    assert directives(webhook) == [
        ("orderflow", [["Stage", "Outcome"]],
         {"WebhookDeliveries": "Count", "WebhookAttempts": "Count"})
    ]  # fmt: skip
    assert (webhook["Outcome"], webhook["WebhookAttempts"]) == ("gone", 2)
    assert (announced["Outcome"], announced["FilesAnnounced"]) == ("repeated", 1)
    assert (prepared["Status"], prepared["PrepareDuration"]) == ("quarantined", 1500.0)
    assert (review["ReviewMessages"], review["ReviewMessagesFailed"]) == (10, 1)


def test_a_failing_output_never_fails_the_work_it_measures() -> None:
    def broken(line: str) -> None:
        raise BrokenPipeError("stdout is gone")

    previous = metrics.set_output(broken)
    try:
        metrics.orders_submitted(1, sender="acme")  # no exception
    finally:
        metrics.set_output(previous)


def test_lambda_output_is_one_line_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    previous = metrics.set_output(None)
    try:
        metrics.review_messages(1, 0)
    finally:
        metrics.set_output(previous)
    (line,) = capsys.readouterr().out.splitlines()
    assert check_emf(line)["ReviewMessages"] == 1
