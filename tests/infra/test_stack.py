"""The CloudFormation stack (infra/stack.yaml), checked offline against the code it serves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow_cli.emulator import definition
from orderflow_cli.emulator.cloudformation import load_template
from tests.conftest import REPO

TEMPLATE = REPO / "infra" / "stack.yaml"


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_template(TEMPLATE)  # the emulator's own reader of the stack


def _resource(stack: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [r for r in stack["Resources"].values() if r["Type"] == kind]
    return dict(found["Properties"])


def test_the_state_machine_is_the_repo_definition_with_every_placeholder_substituted(
    stack: dict[str, Any],
) -> None:
    machine = _resource(stack, "AWS::StepFunctions::StateMachine")
    location = (TEMPLATE.parent / machine["DefinitionS3Location"]).resolve()

    assert location == definition.DEFINITION_PATH
    substitutions = machine["DefinitionSubstitutions"]
    assert set(substitutions) == definition.placeholders()
    rendered = definition.render({name: f"VALUE-{name}" for name in substitutions})
    assert "${" not in rendered
    json.loads(rendered)


def test_every_function_the_definition_invokes_is_a_function_of_the_app(
    stack: dict[str, Any],
) -> None:
    import app

    machine = _resource(stack, "AWS::StepFunctions::StateMachine")
    functions = {f.name for f in app.app.pure_lambda_functions}
    invoked = {
        value["Fn::Sub"].rsplit("${Stage}-", 1)[1]
        for name, value in machine["DefinitionSubstitutions"].items()
        if name.endswith("FunctionArn")
    }
    assert invoked == {"PrepareFile", "ValidateOrder", "RecordBatch"}
    assert invoked <= functions
    role = dict(stack["Resources"]["IngestRole"]["Properties"])
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    allowed = {r["Fn::Sub"].rsplit("${Stage}-", 1)[1] for r in invoke["Resource"]}
    assert allowed == invoked  # the role may invoke exactly these


def test_the_stateful_resources_are_locked_down(stack: dict[str, Any]) -> None:
    bucket = _resource(stack, "AWS::S3::Bucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    expiring = {rule.get("Prefix") for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert {"work/", "quarantine/", "archive/"} <= expiring
    tables = [r["Properties"] for r in stack["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"]  # fmt: skip
    assert len(tables) == 4  # orders, batches, reviews, senders
    for table in tables:
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    queues = [r["Properties"] for r in stack["Resources"].values()
              if r["Type"] == "AWS::SQS::Queue"]  # fmt: skip
    assert all(q["SqsManagedSseEnabled"] for q in queues)
    (dlq,) = [q for q in queues if "RedrivePolicy" in q]
    assert dlq["RedrivePolicy"]["maxReceiveCount"] == 5


def test_the_reviews_table_has_the_key_the_code_reads_and_no_index(stack: dict[str, Any]) -> None:
    from chalicelib.review.records import PARTITION_KEY, SORT_KEY

    reviews = stack["Resources"]["ReviewsTable"]["Properties"]
    assert reviews["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    # every review write costs the item's own write units only: no index copies it
    assert "GlobalSecondaryIndexes" not in reviews


def test_the_reviewers_last_delivery_is_the_dlqs_max_receive_count(stack: dict[str, Any]) -> None:
    from chalicelib.settings import Settings

    queues = [
        r for r in stack["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    ]  # fmt: skip
    (dlq,) = queues
    default = Settings.model_fields["review_last_delivery"].default
    assert default == dlq["Properties"]["RedrivePolicy"]["maxReceiveCount"]


def test_the_state_machine_traces_with_x_ray_and_its_role_may_send_traces(
    stack: dict[str, Any],
) -> None:
    machine = _resource(stack, "AWS::StepFunctions::StateMachine")
    assert machine["TracingConfiguration"] == {"Enabled": True}
    role = dict(stack["Resources"]["IngestRole"]["Properties"])
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    allowed = {a for s in statements if s["Resource"] == "*" for a in s["Action"]}
    # what Step Functions needs to send traces (Step Functions developer guide, X-Ray)
    assert {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    } <= allowed


def test_the_batches_index_is_the_one_the_list_queries_and_the_reader_may_query_it(
    stack: dict[str, Any],
) -> None:
    from chalicelib.api.scope import ReadScope, session_policy
    from chalicelib.pipeline.batches import BY_CREATED

    batches = stack["Resources"]["BatchesTable"]["Properties"]
    (index,) = batches["GlobalSecondaryIndexes"]
    assert index["IndexName"] == BY_CREATED
    assert index["KeySchema"] == [
        {"AttributeName": "sender", "KeyType": "HASH"},  # dynamodb:LeadingKeys is the sender
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}  # an entry needs the whole record
    types = {a["AttributeName"]: a["AttributeType"] for a in batches["AttributeDefinitions"]}
    assert types == {"sender": "S", "batch_id": "S", "created_at": "S"}
    # the reader role may query this index (and no other), held to a sender by the session
    reader = stack["Resources"]["ApiReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (items,) = [s for s in reader["Statement"] if s["Sid"] == "Items"]
    indexes = [r["Fn::Sub"] for r in items["Resource"] if isinstance(r, dict) and "Fn::Sub" in r]
    assert indexes == [f"${{BatchesTable.Arn}}/index/{BY_CREATED}"]
    table = "arn:aws:dynamodb:eu-west-1:1:table/orderflow-dev-batches"
    scope = ReadScope(table_arns=(table,), bucket_arn="arn:aws:s3:::b", prefixes=("work/",))
    (indexed,) = [
        s for s in session_policy("acme", scope)["Statement"] if s["Sid"] == "OwnIndexedItems"
    ]
    assert indexed["Action"] == ["dynamodb:Query"]
    assert indexed["Resource"] == [f"{table}/index/*"]  # the role narrows it to by_created
    assert indexed["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["acme"]}}


def test_a_page_on_another_origin_may_post_a_presigned_upload_and_nothing_else(
    stack: dict[str, Any],
) -> None:
    bucket = _resource(stack, "AWS::S3::Bucket")
    (rule,) = bucket["CorsConfiguration"]["CorsRules"]
    assert rule == {
        "AllowedMethods": ["POST"],  # the presigned POST; reports are links, never fetched
        "AllowedOrigins": ["*"],  # the presigned policy guards an upload, not the origin
        "AllowedHeaders": ["*"],
        "MaxAge": 3000,
    }
    assert all(bucket["PublicAccessBlockConfiguration"].values())  # CORS opens no reading
