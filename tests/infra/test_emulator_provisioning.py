"""The emulator creates what infra/stack.yaml deploys: checked against the emulator itself
(describe_table, get_queue_attributes, get_bucket_versioning, describe_state_machine,
get_secret_value), for the stack and for a changed copy of it; and it wires each function's
trigger as the app's decorators declare it (the bucket's notification, the EventBridge rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import CloudWatchEventConfig, S3EventConfig

from chalicelib import aws
from chalicelib.settings import Settings
from orderflow_cli.emulator import definition
from orderflow_cli.emulator.cloudformation import (
    NAMED_BY_SETTING,
    NOT_PROVISIONED_TYPES,
    PROVISIONED_TYPES,
    SECRET_BY_SETTING,
    SECRETS_MANAGER_REFERENCE,
    TEMPLATE_PATH,
    Resolver,
    StackParameters,
    load_template,
    secret_parameters,
    stage_names,
)
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.stage import stage_environment
from tests.conftest import FAST, REPO


def _name(properties: dict[str, Any], key: str, stage: str = "local") -> str:
    """A name of the stack (`!Sub "${AppName}-${Stage}-..."`) for a stage, read by hand."""
    text = str(properties[key]["Fn::Sub"])
    return text.replace("${AppName}", "orderflow").replace("${Stage}", stage)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def _table_shape(described: dict[str, Any]) -> dict[str, Any]:
    """What a table is, in the stack's terms, from describe_table's answer (or the stack)."""
    billing = described.get("BillingModeSummary", {}).get("BillingMode") or described.get(
        "BillingMode"
    )
    return {
        "KeySchema": described["KeySchema"],
        "AttributeDefinitions": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in described["AttributeDefinitions"]
        ),
        "GlobalSecondaryIndexes": sorted(
            (i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
            for i in described.get("GlobalSecondaryIndexes", [])
        ),
        "BillingMode": billing,
    }


def _assert_emulator_matches(local: EmbeddedAWS, template: dict[str, Any]) -> None:
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert len(tables) == 4  # orders, batches, reviews, senders
    for properties in tables.values():
        name = _name(properties, "TableName")
        described = local.dynamodb.describe_table(TableName=name)["Table"]
        assert _table_shape(dict(described)) == _table_shape(properties), name

    queues = _of_type(template, "AWS::SQS::Queue")
    for logical_id, properties in queues.items():
        url = local.sqs.get_queue_url(QueueName=_name(properties, "QueueName"))["QueueUrl"]
        attributes = local.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in properties:
                assert attributes[key] == str(properties[key]), (logical_id, key)
        if "RedrivePolicy" in properties:
            policy = json.loads(attributes["RedrivePolicy"])
            expected = properties["RedrivePolicy"]
            assert int(policy["maxReceiveCount"]) == expected["maxReceiveCount"]
            target = queues[expected["deadLetterTargetArn"]["Fn::GetAtt"][0]]
            assert policy["deadLetterTargetArn"].endswith(":" + _name(target, "QueueName"))
        else:
            assert "RedrivePolicy" not in attributes

    (bucket,) = _of_type(template, "AWS::S3::Bucket").values()
    versioning = local.s3.get_bucket_versioning(Bucket=local.settings.bucket)
    assert versioning.get("Status") == bucket["VersioningConfiguration"]["Status"]

    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine").values()
    created = local.sfn.describe_state_machine(stateMachineArn=local.settings.state_machine_arn)
    assert created["type"] == machine["StateMachineType"]
    assert created["roleArn"].endswith(":role/orderflow-local-IngestRole")
    substitutions = _substitutions(machine)
    rendered = definition.render(substitutions, path=definition.DEFINITION_PATH)
    assert created["definition"] == definition.for_emulator(rendered, local.map_concurrency)

    for logical_id, properties in _of_type(template, "AWS::SecretsManager::Secret").items():
        name = _name(properties, "Name")
        value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        generate = properties["GenerateSecretString"]
        assert len(value) == generate["PasswordLength"], logical_id
        assert value.isalnum() == generate["ExcludePunctuation"], logical_id
        parameter = getattr(local.settings, SECRET_BY_SETTING[logical_id].lower())
        read = aws.ssm().get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
        assert read["Value"] == value, logical_id  # where the app reads it


def _substitutions(machine: dict[str, Any]) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions for the local stage, resolved by hand."""
    arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    local = "arn:aws:lambda:us-east-1:123456789012:function:"
    resolved = {}
    for key, value in machine["DefinitionSubstitutions"].items():
        if isinstance(value, dict) and "Fn::Sub" in value:
            value = _name({"x": {"Fn::Sub": value["Fn::Sub"].replace(arn, local)}}, "x")
        elif value == {"Ref": "OrdersBucket"}:
            value = "orderflow-local-orders"  # the local stage's bucket (BUCKET_NAME)
        resolved[key] = str(value)
    return resolved


def test_the_emulator_creates_the_tables_queues_and_bucket_of_the_stack(
    local: EmbeddedAWS,
) -> None:
    _assert_emulator_matches(local, load_template())
    assert local.redrive_queue_url.endswith("/orderflow-local-dlq-redrive")


def test_each_function_the_definition_invokes_runs_in_the_emulator(local: EmbeddedAWS) -> None:
    machine = local.provisioning().state_machine("IngestStateMachine")
    arns = {v for k, v in machine.substitutions.items() if k.endswith("FunctionArn")}
    assert arns == {
        local.function_arn(name) for name in ("PrepareFile", "ValidateOrder", "RecordBatch")
    }
    assert local.lambdas is not None
    for arn in arns:
        assert arn.rsplit(":", 1)[-1].removeprefix(local.function_prefix) in local.lambdas.functions


def test_the_triggers_are_the_apps_decorators(local: EmbeddedAWS) -> None:
    """The bucket notifies each `on_s3_event` function as its decorator says; each
    `on_cw_event` function has a rule with its decorator's pattern."""
    assert local.app is not None
    sources = local.app.app.event_sources
    notifications = local.s3.get_bucket_notification_configuration(Bucket=local.settings.bucket)
    wired = {
        c["Id"]: (c["Events"], c["Filter"]["Key"]["FilterRules"])
        for c in notifications["QueueConfigurations"]
    }
    declared = {
        s.name: (s.events, [{"Name": "prefix", "Value": s.prefix}])
        for s in sources
        if isinstance(s, S3EventConfig)
    }
    assert (
        wired
        == declared
        == {
            "on_file_uploaded": (["s3:ObjectCreated:*"], [{"Name": "prefix", "Value": "incoming/"}])
        }
    )
    rules = {r["Name"]: json.loads(r["EventPattern"]) for r in aws.events().list_rules()["Rules"]}
    for source in sources:
        if isinstance(source, CloudWatchEventConfig):
            assert rules[local.function_prefix + source.name] == source.event_pattern


def test_a_change_to_the_stack_shows_in_what_the_emulator_creates(tmp_path: Path) -> None:
    text = TEMPLATE_PATH.read_text()
    orders_key = """      AttributeDefinitions:
        - AttributeName: sender_shard
          AttributeType: S
        - AttributeName: OrderId
          AttributeType: S
      KeySchema:
        - AttributeName: sender_shard
          KeyType: HASH
        - AttributeName: OrderId
          KeyType: RANGE
"""
    assert text.count(orders_key) == 1
    changed = text.replace(
        orders_key,
        """      AttributeDefinitions:
        - AttributeName: sender_shard
          AttributeType: S
        - AttributeName: OrderId
          AttributeType: S
        - AttributeName: item-id
          AttributeType: S
      KeySchema:
        - AttributeName: sender_shard
          KeyType: HASH
        - AttributeName: OrderId
          KeyType: RANGE
      GlobalSecondaryIndexes:
        - IndexName: by_item
          KeySchema:
            - AttributeName: item-id
              KeyType: HASH
          Projection:
            ProjectionType: KEYS_ONLY
""",
    )
    assert changed.count("maxReceiveCount: 5") == 1
    changed = changed.replace("maxReceiveCount: 5", "maxReceiveCount: 2")
    changed = changed.replace("VisibilityTimeout: 720", "VisibilityTimeout: 45")
    assert changed.count("PasswordLength: 64") == 3  # idempotency, callback and link secrets
    changed = changed.replace("PasswordLength: 64", "PasswordLength: 40")
    location = "DefinitionS3Location: ../chalicelib/"  # a path from the template's folder
    changed = changed.replace(location, f"DefinitionS3Location: {REPO}/chalicelib/")
    copy = tmp_path / "stack.yaml"
    copy.write_text(changed)

    with EmbeddedAWS(FAST, stack_template=copy) as local:
        _assert_emulator_matches(local, load_template(copy))
        orders = local.dynamodb.describe_table(TableName=local.settings.orders_table)["Table"]
        (index,) = orders["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "by_item"
        dlq = local.sqs.get_queue_attributes(
            QueueUrl=local.settings.dlq_url, AttributeNames=["All"]
        )
        assert json.loads(dlq["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 2
        assert dlq["Attributes"]["VisibilityTimeout"] == "45"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_config_json_names_each_resource_as_the_stack_does(stage: str) -> None:
    """A deployed stage finds each resource by the name the stack gives it."""
    environment = stage_environment(stage)
    parameters = StackParameters(stage=stage, account="{account}", region="{region}")
    resolver = Resolver(load_template(), parameters)

    assert stage_names(environment) == {
        logical_id: resolver.name(logical_id) for logical_id in NAMED_BY_SETTING
    }
    assert secret_parameters(environment) == {  # each secret read through SSM, as deployed
        logical_id: SECRETS_MANAGER_REFERENCE + resolver.name(logical_id)
        for logical_id in SECRET_BY_SETTING
    }


def test_the_local_stage_reads_each_secret_as_a_deployed_stage_does() -> None:
    """The emulator creates each secret in Secrets Manager only: the local stage reads it
    through SSM's reference path, as dev and prod do."""
    parameters = StackParameters(stage="local", account="{account}", region="{region}")
    resolver = Resolver(load_template(), parameters)

    assert secret_parameters(stage_environment("local")) == {
        logical_id: SECRETS_MANAGER_REFERENCE + resolver.name(logical_id)
        for logical_id in SECRET_BY_SETTING
    }


@pytest.mark.parametrize("stage", ["dev", "prod", "local"])
def test_the_definitions_work_prefix_is_each_stages(stage: str) -> None:
    """The stack fills the definition's work prefix; the functions read theirs from config.json."""
    (machine,) = [
        r
        for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    work_prefix = machine["Properties"]["DefinitionSubstitutions"]["WorkPrefix"]
    assert work_prefix == stage_environment(stage)["WORK_PREFIX"]


def test_the_local_stage_keeps_the_stacks_names_but_a_bucket_name_without_account() -> None:
    """One account locally: the local bucket's name does without the account and region that
    make a bucket's name unique on AWS. Every other name is the stack's for the stage."""
    names = stage_names(stage_environment("local"))
    parameters = StackParameters(stage="local", account="123456789012", region="us-east-1")
    resolver = Resolver(load_template(), parameters)

    stack = {logical_id: resolver.name(logical_id) for logical_id in NAMED_BY_SETTING}
    assert stack.pop("OrdersBucket") == f"{names.pop('OrdersBucket')}-123456789012-us-east-1"
    assert names == stack


def test_every_setting_that_names_a_resource_is_a_setting() -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert set(NAMED_BY_SETTING.values()) | set(SECRET_BY_SETTING.values()) <= aliases
    resources = load_template()["Resources"]
    assert set(NAMED_BY_SETTING) | set(SECRET_BY_SETTING) <= set(resources)


def test_every_type_in_the_stack_is_provisioned_or_knowingly_left_out() -> None:
    """The alarms, their topic and the dashboard are deployed, not emulated (docs/emulator.md)."""
    types = {resource["Type"] for resource in load_template()["Resources"].values()}
    assert types <= PROVISIONED_TYPES | set(NOT_PROVISIONED_TYPES)
    assert not PROVISIONED_TYPES & set(NOT_PROVISIONED_TYPES)
