"""The template reader the emulator provisions from (orderflow_cli/emulator/template.py and
cloudformation.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orderflow_cli.emulator.cloudformation import (
    Provisioning,
    Resolver,
    StackParameters,
    TemplateError,
    load_template,
)

PARAMETERS = StackParameters(
    stage="test", account="111122223333", region="eu-west-1", app_name="orderflow"
)

TEMPLATE = """
Parameters:
  Stage: {Type: String}
  AppName: {Type: String, Default: shop}  # the stage's parameters win
Resources:
  Main:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-main"
      VisibilityTimeout: 60
      FifoQueue: false
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Aside.Arn
        maxReceiveCount: 3
  Aside:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["-", [!Ref AppName, !Ref Stage, aside]]
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub
        - "${Prefix}-items"
        - Prefix: !Sub "${AppName}-${Stage}"
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
  Files:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AppName}-${Stage}-${AWS::AccountId}-${AWS::Region}"
  Policy:
    Type: AWS::IAM::Policy
    Properties:
      Text: !Sub "${!NotAVariable} ${Files.Arn} ${Main}"
  Runner:
    Type: AWS::IAM::Role
    Properties: {}
  Log:
    Type: AWS::Logs::LogGroup
    Properties: {}
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: !Sub "${AppName}-${Stage}-flow"
      StateMachineType: EXPRESS
      RoleArn: !GetAtt Runner.Arn
      DefinitionS3Location: flows/flow.asl.json
      DefinitionSubstitutions:
        QueueUrl: !Ref Main
        Literal: work/
      LoggingConfiguration:
        Destinations: [{CloudWatchLogsLogGroup: {LogGroupArn: !GetAtt Log.Arn}}]
  Generated:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AppName}-${Stage}-generated"
      GenerateSecretString: {PasswordLength: 20, ExcludePunctuation: true, ExcludeNumbers: true}
  Given:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: given
      SecretString: !Sub "for-${Stage}"
  InTemplate:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: in-template
      GenerateSecretString:
        SecretStringTemplate: '{"user": "me"}'
        GenerateStringKey: password
        ExcludePunctuation: true
        ExcludeCharacters: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(TEMPLATE)
    return path


def test_names_and_intrinsics_resolve_for_the_stage(template: Path) -> None:
    loaded = load_template(template)
    resolver = Resolver(loaded, PARAMETERS)

    assert resolver.name("Main") == "orderflow-test-main"  # AWS::StackName: <app>-<stage>
    assert resolver.name("Aside") == "orderflow-test-aside"
    assert resolver.name("Items") == "orderflow-test-items"
    assert resolver.name("Files") == "orderflow-test-111122223333-eu-west-1"
    text = resolver.resolve(loaded["Resources"]["Policy"]["Properties"]["Text"])
    assert text == (
        "${NotAVariable} arn:aws:s3:::orderflow-test-111122223333-eu-west-1 "
        "https://sqs.eu-west-1.amazonaws.com/111122223333/orderflow-test-main"
    )


def test_given_names_win_over_the_stacks(template: Path) -> None:
    resolver = Resolver(load_template(template), PARAMETERS, {"Aside": "local-aside"})

    assert resolver.name("Aside") == "local-aside"
    assert resolver.resolve({"Fn::GetAtt": ["Aside", "Arn"]}).endswith(":local-aside")


def test_provisioning_reads_tables_queues_and_buckets(template: Path) -> None:
    stack = Provisioning.from_template(load_template(template), PARAMETERS)

    assert [q.logical_id for q in stack.queues] == ["Aside", "Main"]  # the target first
    main = stack.queue("Main").attributes
    assert main["VisibilityTimeout"] == "60"
    assert main["FifoQueue"] == "false"
    assert json.loads(main["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:111122223333:orderflow-test-aside",
        "maxReceiveCount": 3,
    }
    assert stack.table("Items").definition == {
        "TableName": "orderflow-test-items",
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    }
    assert not stack.bucket("Files").versioned


def test_provisioning_reads_state_machines_with_their_substitutions(template: Path) -> None:
    stack = Provisioning.from_template(load_template(template), PARAMETERS, folder=Path("/stack"))

    machine = stack.state_machine("Machine")
    assert (machine.name, machine.type) == ("orderflow-test-flow", "EXPRESS")
    assert machine.role_arn == "arn:aws:iam::111122223333:role/orderflow-test-Runner"  # generated
    assert machine.definition == Path("/stack/flows/flow.asl.json")  # from the template's folder
    assert machine.substitutions == {
        "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/orderflow-test-main",
        "Literal": "work/",
    }  # and the log group, which has no name, was never resolved


def test_provisioning_reads_secrets_and_makes_their_values_as_the_stack_asks(
    template: Path,
) -> None:
    stack = Provisioning.from_template(load_template(template), PARAMETERS)

    generated = stack.secret("Generated")
    assert generated.name == "orderflow-test-generated"
    first, second = generated.value(), generated.value()
    assert first != second  # a new value each time it is made
    assert len(first) == 20
    assert first.isalpha()  # no numbers, no punctuation
    assert stack.secret("Given").value() == "for-test"
    document = json.loads(stack.secret("InTemplate").value())
    assert document["user"] == "me"
    assert document["password"].isdigit()  # the digits were left
    assert len(document["password"]) == 32  # Secrets Manager's default length


def test_the_template_default_names_the_app_unless_the_stage_does(template: Path) -> None:
    parameters = StackParameters(stage="test", account="1", region="r")

    assert Resolver(load_template(template), parameters).name("Aside") == "shop-test-aside"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Fn::If": ["Cond", "a", "b"]}, "no condition named Cond"),
        ({"Fn::FindInMap": ["M", "a", "b"]}, "cannot resolve Fn::FindInMap"),
        ({"Ref": "Nowhere"}, "no parameter or resource named Nowhere"),
        ({"Fn::GetAtt": ["Items", "StreamArn"]}, "cannot resolve Items.StreamArn"),
    ],
)
def test_what_cannot_be_resolved_is_named(template: Path, value: object, message: str) -> None:
    resolver = Resolver(load_template(template), PARAMETERS)

    with pytest.raises(TemplateError, match=message):
        resolver.resolve(value)


def test_a_condition_chooses_a_property_or_leaves_it_out(tmp_path: Path) -> None:
    # given a template whose property depends on a parameter, as the orders table's
    # WarmThroughput does (infra/stack.yaml)
    template = tmp_path / "stack.yaml"
    template.write_text(
        """
Parameters:
  Warm: {Type: Number, Default: 0}
  Stage: {Type: String}
Conditions:
  Warms: !Not [!Equals [!Ref Warm, 0]]
  Either: !Or [!Condition Warms, !Equals [!Ref Stage, prod]]
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: t
      Warm: !If [Warms, {WriteUnitsPerSecond: !Ref Warm}, !Ref AWS::NoValue]
      Listed: [a, !If [Either, b, !Ref AWS::NoValue]]
"""
    )
    properties = load_template(template)["Resources"]["T"]["Properties"]

    def resolved(**values: str) -> Any:
        parameters = StackParameters(stage=values.pop("Stage", "test"), account="1", region="r")
        resolver = Resolver(load_template(template), parameters)
        resolver._values.update(values)
        return resolver.resolve(properties)

    # then the default leaves the property out, and a value puts it in
    assert resolved() == {"TableName": "t", "Listed": ["a"]}
    assert resolved(Warm="40000") == {
        "TableName": "t",
        "Warm": {"WriteUnitsPerSecond": "40000"},
        "Listed": ["a", "b"],
    }
    assert resolved(Stage="prod")["Listed"] == ["a", "b"]


def test_a_resource_without_a_name_or_a_file_without_resources_is_refused(tmp_path: Path) -> None:
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    with pytest.raises(TemplateError, match="Q has no QueueName"):
        Provisioning.from_template(load_template(unnamed), PARAMETERS)

    valueless = tmp_path / "valueless.yaml"
    valueless.write_text(
        "Resources:\n  S:\n    Type: AWS::SecretsManager::Secret\n    Properties: {Name: s}\n"
    )
    with pytest.raises(TemplateError, match="neither SecretString nor GenerateSecretString"):
        Provisioning.from_template(load_template(valueless), PARAMETERS)

    empty = tmp_path / "empty.yaml"
    empty.write_text("Outputs: {}\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(empty)


def test_queues_that_name_each_other_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text(
        """
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: a
      RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 1}
  B:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: b
      RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 1}
"""
    )
    with pytest.raises(TemplateError, match="refer to each other"):
        Provisioning.from_template(load_template(path), PARAMETERS)
