"""Creates in moto what `cloudformation.Provisioning` read from the stack, as CloudFormation
would create it on AWS: buckets (versioned as the stack says), tables, queues (each after the
queues it names), secrets (with the stack's value, or one generated as the stack asks), and the
state machines, whose definitions are rendered with the stack's own `DefinitionSubstitutions`.

Two adaptations, each for a difference of the emulator and named where it is made: a state
machine's definition is adapted for moto's interpreter (`definition.for_emulator`), and a secret
is also kept in the plain SSM parameter the stage's settings name when they do not read it
through `/aws/reference/secretsmanager/` (the local stage's settings), so the app reads it
where its settings say. Nothing here knows a resource's name or shape: all of it is the stack's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from chalicelib import aws
from orderflow_cli.emulator import definition
from orderflow_cli.emulator.cloudformation import (
    Provisioning,
)

if TYPE_CHECKING:
    from orderflow_cli.emulator.cloudformation import StateMachine


def create(stack: Provisioning, map_concurrency: int) -> None:
    """Creates every resource of `stack` in the running mock; `map_concurrency`: each Map's
    at most."""
    create_storage(stack)
    create_secrets(stack)
    for machine in stack.state_machines:
        create_state_machine(machine, map_concurrency)


def create_storage(stack: Provisioning) -> None:
    """The buckets, tables and queues."""
    s3, dynamodb, sqs = aws.s3(), aws.dynamodb(), aws.sqs()
    for bucket in stack.buckets:
        s3.create_bucket(Bucket=bucket.name)
        if bucket.versioned:  # every upload a new version: a file sent again is a new batch
            s3.put_bucket_versioning(
                Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
            )
        if bucket.cors_rules:  # the partners' page uploads from the API's origin
            s3.put_bucket_cors(
                Bucket=bucket.name,
                CORSConfiguration={"CORSRules": list(bucket.cors_rules)},  # type: ignore[arg-type]
            )
    for table in stack.tables:
        dynamodb.create_table(**table.definition)
    for queue in stack.queues:  # a redrive target before the queue that names it
        sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)


def create_secrets(stack: Provisioning) -> None:
    """Each secret in Secrets Manager under the stack's name, with its value: the functions read
    it through SSM's `/aws/reference/secretsmanager/` path, on every stage (config.json)."""
    manager = boto3.client("secretsmanager")
    for secret in stack.secrets:
        manager.create_secret(Name=secret.name, SecretString=secret.value())


def create_state_machine(machine: StateMachine, map_concurrency: int) -> None:
    rendered = definition.render(machine.substitutions, path=machine.definition)
    aws.sfn().create_state_machine(
        name=machine.name,
        definition=definition.for_emulator(rendered, map_concurrency),
        roleArn=machine.role_arn,
        type=machine.type,  # type: ignore[arg-type]
    )
