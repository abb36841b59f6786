"""app.py's handlers fed the events AWS documents, kept as JSON in tests/fixtures/events/, with
only the services each handler touches (moto, one or two services; no emulator).

Where each shape comes from:
- authorizer_token.json: API Gateway's Lambda authorizer input, `TOKEN` format
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html).
  Chalice's `@app.authorizer` is a TOKEN authorizer (its swagger writes `type: token`, and
  `ChaliceAuthorizer` reads `authorizationToken` and `methodArn`), so that is the shape
  API Gateway sends it, not the REQUEST format of the same page.
- s3_object_created.json: the S3 event message structure, version 2.1
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html);
  the key is URL-encoded, as S3 sends it.
- sqs_receive.json: Lambda's SQS event, "Example standard queue message event"
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
- eventbridge_batch_completed.json: EventBridge's event envelope
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html) around our
  completion event's detail (chalicelib/pipeline/events.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import aws
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.naming import UNASSIGNED, batch_id_for
from chalicelib.senders import SenderRegistry
from tests.unit.conftest import MotoStack
from tests.webhook_receiver import webhook_receiver

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
ROLE = "arn:aws:iam::123456789012:role/orderflow-sfn"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


@pytest.fixture
def handlers(moto_stack: MotoStack) -> Any:
    """app.py, imported inside the mock with the local stage's settings."""
    import app

    return app


# -- the authorizer (API Gateway, TOKEN) ---------------------------------------------------------


def _authorize(handlers: Any, token: str) -> dict[str, Any]:
    request = {**event("authorizer_token"), "authorizationToken": token}
    answer: dict[str, Any] = handlers.sender_key(request, None)
    return answer


def _allowed(answer: dict[str, Any]) -> list[str]:
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    resources: list[str] = statement["Resource"]
    return resources


def test_the_authorizer_is_deployed_as_the_token_authorizer_the_fixture_is(handlers: Any) -> None:
    from chalice.deploy.swagger import TemplatedSwaggerGenerator

    swagger = TemplatedSwaggerGenerator().generate_swagger(handlers.app)
    deployed = swagger["securityDefinitions"]["sender_key"]
    assert deployed["x-amazon-apigateway-authorizer"]["type"] == "token"
    assert (deployed["in"], deployed["name"]) == ("header", "x-api-key")  # the key's header
    assert event("authorizer_token")["type"] == "TOKEN"


def test_the_authorizer_allows_a_live_key_and_denies_it_once_rotated(
    handlers: Any, senders_table: str
) -> None:
    registry = SenderRegistry(aws.dynamodb(), senders_table)
    _, key = registry.add("acme", "Acme")

    live = _authorize(handlers, key)
    assert live["principalId"] == "acme"
    # what the routes read the caller from
    assert live["context"] == {"sender_id": "acme", "access": "key"}
    # every route of this API and stage, from the methodArn API Gateway sent
    assert _allowed(live) == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/api/*/*"]

    new_key = registry.rotate_key("acme")
    rotated = _authorize(handlers, key)
    assert _allowed(rotated) == []  # no route: API Gateway answers 403
    assert rotated["principalId"] != "acme"
    assert _allowed(_authorize(handlers, new_key)) != []


def test_the_authorizer_denies_unknown_and_disabled_keys(handlers: Any, senders_table: str) -> None:
    registry = SenderRegistry(aws.dynamodb(), senders_table)
    _, key = registry.add("acme", "Acme")
    assert _allowed(_authorize(handlers, "not-a-key-of-anyone")) == []
    assert _allowed(_authorize(handlers, "")) == []
    registry.disable("acme")
    assert _allowed(_authorize(handlers, key)) == []


# -- S3 ObjectCreated -> on_file_uploaded --------------------------------------------------------


@pytest.fixture
def state_machine(moto_stack: MotoStack) -> str:
    """The stage's state machine, as a name only: moto records executions without running them."""
    settings = moto_stack.settings
    name = settings.state_machine_arn.rsplit(":", 1)[-1]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    created = aws.sfn().create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )
    assert created["stateMachineArn"] == settings.state_machine_arn
    return settings.state_machine_arn


def _executions(arn: str) -> list[dict[str, Any]]:
    listed = aws.sfn().list_executions(stateMachineArn=arn)["executions"]
    return [
        {
            **e,
            "input": json.loads(
                aws.sfn().describe_execution(executionArn=e["executionArn"])["input"]
            ),
        }
        for e in listed
    ]


def test_an_uploaded_file_starts_one_execution_named_from_its_decoded_key(
    handlers: Any, senders_table: str, batches_table: str, state_machine: str
) -> None:
    SenderRegistry(aws.dynamodb(), senders_table).add("acme", "Acme")
    s3_event = event("s3_object_created")
    record = s3_event["Records"][0]["s3"]

    handlers.on_file_uploaded(s3_event, None)
    handlers.on_file_uploaded(copy.deepcopy(s3_event), None)  # S3 delivers at least once

    (execution,) = _executions(state_machine)  # the duplicate started nothing
    key = "incoming/acme/spring orders(2).csv"  # `+` and `%28` decoded, as S3 encoded them
    version = record["object"]["versionId"]
    assert execution["name"] == batch_id_for(record["bucket"]["name"], key, version)
    assert execution["name"].startswith("spring-orders-2-csv-")
    given = execution["input"]
    assert (given["key"], given["version"], given["sender"]) == (key, version, "acme")
    assert given["batch_id"] == execution["name"]


def test_a_file_of_an_unregistered_sender_is_named_for_no_sender(
    handlers: Any, senders_table: str, batches_table: str, state_machine: str
) -> None:
    handlers.on_file_uploaded(event("s3_object_created"), None)  # no sender `acme`

    (execution,) = _executions(state_machine)
    assert execution["input"]["sender"] == UNASSIGNED  # quarantined by PrepareFile, not guessed


# -- SQS -> ReviewDeadLetters --------------------------------------------------------------------


class _Reviewer:
    """Reviews every rejection group but the one numbered `failing` (a store that keeps
    failing); records the others' groups and whether each came on its last delivery."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.reviewed: list[tuple[str, bool]] = []

    def review(self, message: Any, *, last_delivery: bool) -> None:
        if message.group == self.failing:
            raise RuntimeError("the orders table is throttled")
        self.reviewed.append((message.group, last_delivery))


def test_the_reviewer_reports_only_the_messages_that_failed(
    handlers: Any, moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reviewer = _Reviewer(failing="000000")
    monkeypatch.setattr(handlers.wiring, "reviewer", lambda settings: reviewer)
    sqs_event = event("sqs_receive")

    answer = handlers.review_dead_letters(sqs_event, None)

    # the throttled group and the poison message (not JSON) go back; the reviewed one does not
    messages = [r["messageId"] for r in sqs_event["Records"]]
    failed = [{"itemIdentifier": messages[0]}, {"itemIdentifier": messages[2]}]
    assert answer == {"batchItemFailures": failed}
    # ApproximateReceiveCount 5 is the DLQ's last delivery (REVIEW_LAST_DELIVERY, the stack's
    # maxReceiveCount): on it the reviewer archives instead of leaving the group to the redrive
    assert moto_stack.settings.review_last_delivery == 5
    assert reviewer.reviewed == [("000001", True)]


def test_the_reviewer_reports_nothing_when_every_message_was_reviewed(
    handlers: Any, moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reviewer = _Reviewer(failing="none")
    monkeypatch.setattr(handlers.wiring, "reviewer", lambda settings: reviewer)
    sqs_event = event("sqs_receive")
    sqs_event["Records"] = sqs_event["Records"][:2]

    assert handlers.review_dead_letters(sqs_event, None) == {"batchItemFailures": []}
    assert reviewer.reviewed == [("000000", False), ("000001", True)]


# -- EventBridge -> DeliverCallback --------------------------------------------------------------


def test_a_completion_event_is_delivered_to_the_batchs_callback_once(
    handlers: Any, moto_stack: MotoStack, batches_table: str, senders_table: str
) -> None:
    settings = moto_stack.settings
    # the stage reads its secret from Secrets Manager through SSM, as deployed
    reference = "/aws/reference/secretsmanager/"
    assert settings.callback_secret_parameter.startswith(reference)
    boto3.client("secretsmanager").create_secret(
        Name=settings.callback_secret_parameter.removeprefix(reference),
        SecretString="whsec_c2VjcmV0",
    )
    completed = event("eventbridge_batch_completed")
    detail = completed["detail"]
    batches = BatchRecords(aws.dynamodb(), batches_table)
    with webhook_receiver() as receiver:
        batches.create_pending(
            detail["sender"],
            detail["batch_id"],
            bucket=detail["file"]["bucket"],
            key=detail["file"]["key"],
            via="POST /orders",
            callback_url=receiver.url,
        )
        handlers.deliver_callback_handler(completed, None)
        handlers.deliver_callback_handler(copy.deepcopy(completed), None)  # delivered again

    (received,) = receiver.received  # the second event found the delivery recorded
    headers = {name.lower(): value for name, value in received.headers.items()}
    assert headers["webhook-id"] == f"msg_{detail['batch_id']}"
    assert json.loads(received.body) == detail
    record = batches.get(detail["sender"], detail["batch_id"])
    assert record is not None
    assert record["callback"]["status"] == "delivered"
    assert record["status"] == "pending"  # the delivery is recorded beside the status, not in it
