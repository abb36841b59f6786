"""What the embedded emulator creates, read from the CloudFormation stack that is deployed.

`infra/stack.yaml` is the one description of the stack's resources: `make deploy` deploys it,
and `EmbeddedAWS` creates from it (`Provisioning`, resolved by `template.Resolver`), so the
emulator cannot drift from AWS. Only what moto needs to behave as AWS does is read:

- buckets: the name and `VersioningConfiguration`;
- tables: the name, `KeySchema`, `AttributeDefinitions`, `BillingMode`, `ProvisionedThroughput`,
  `GlobalSecondaryIndexes` and `LocalSecondaryIndexes`;
- queues: the name and the SQS attributes of `QUEUE_ATTRIBUTES` (`RedrivePolicy` with its
  `maxReceiveCount`, `VisibilityTimeout`, ...), created after the queues they name;
- state machines: the name, `StateMachineType`, `RoleArn`, the definition file
  (`DefinitionS3Location`, a path from the template's folder, as `aws cloudformation package`
  reads it) and its `DefinitionSubstitutions`, resolved: the function ARNs, the bucket;
- secrets: the name and how the value is made (`GenerateSecretString`, or a `SecretString`).

Names. The stack names each resource with `!Sub "${AppName}-${Stage}-..."`; the app finds some
of them by a setting of its stage (`.chalice/config.json`), and these two must agree.
`NAMED_BY_SETTING` says which setting names which logical resource; `stage_names` turns a stage's
settings into those names, and `Provisioning` uses them. Every other resource (the DLQ's redrive
queue) gets the stack's own name, resolved with `StackParameters` for the stage. A secret is
read through the SSM parameter its setting names (`SECRET_BY_SETTING`), as deployed
(`/aws/reference/secretsmanager/<name>`).

Why not moto's own CloudFormation (`create_stack`; the rehearsed deploy uses it), measured with
moto 5.2.5: its first use imports about forty services' backends (1.3-2 s on each `orders run`
and test process); it creates a bucket without its `VersioningConfiguration`, a state machine
without its `DefinitionSubstitutions` or `DefinitionS3Location`, and no Secrets Manager secret.
What it would create right (tables, queues) this reader creates in the same few calls.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow_cli.emulator.template import (
    TEMPLATE_PATH,
    Resolver,
    StackParameters,
    TemplateError,
    load_template,
    references,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

__all__ = [
    "NAMED_BY_SETTING",
    "NOT_PROVISIONED_TYPES",
    "PROVISIONED_TYPES",
    "SECRET_BY_SETTING",
    "TEMPLATE_PATH",
    "Provisioning",
    "Resolver",
    "StackParameters",
    "TemplateError",
    "load_template",
    "stage_names",
]

# Logical id in infra/stack.yaml -> the environment variable (config.json, `Settings` alias)
# through which the app finds that resource. A URL or ARN names the resource by its last part.
NAMED_BY_SETTING: dict[str, str] = {
    "OrdersBucket": "BUCKET_NAME",
    "OrdersTable": "ORDERS_TABLE",
    "BatchesTable": "BATCHES_TABLE",
    "ReviewsTable": "REVIEWS_TABLE",
    "SendersTable": "SENDERS_TABLE",
    "DeadLetterQueue": "DLQ_URL",
    "IngestStateMachine": "STATE_MACHINE_ARN",
    "ApiReaderRole": "API_READ_ROLE_ARN",
}
# Logical id of a secret -> the setting naming the SSM parameter the app reads it through.
SECRET_BY_SETTING: dict[str, str] = {
    "CallbackSecret": "CALLBACK_SECRET_PARAMETER",
    "IdempotencySecret": "IDEMPOTENCY_SECRET_PARAMETER",
    "LinkSecret": "LINK_SECRET_PARAMETER",
}
SECRETS_MANAGER_REFERENCE = "/aws/reference/secretsmanager/"  # SSM's path to a secret

# CloudFormation's AWS::SQS::Queue properties that are SQS queue attributes of the same name.
QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
)
# What `Provisioning` creates from the stack, and the stack's other types, which it leaves
# alone, each for a reason (docs/emulator.md, "Differences"); a type in neither fails a test,
# so a new kind of resource in the stack is a decision, not an accident.
PROVISIONED_TYPES = frozenset(
    {
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::StepFunctions::StateMachine",
        "AWS::SecretsManager::Secret",
    }
)
NOT_PROVISIONED_TYPES = {
    "AWS::S3::BucketPolicy": "IAM is not emulated",
    "AWS::IAM::Role": "IAM is not emulated (a state machine's RoleArn is only recorded)",
    "AWS::Logs::LogGroup": "the state machine's logs are not emulated",
    "AWS::SNS::Topic": "alarms are not emulated: nothing would publish to it",
    "AWS::SNS::Subscription": "alarms are not emulated; moto does not send e-mail",
    "AWS::CloudWatch::Alarm": "the functions' metrics stay in memory (EmbeddedAWS.metric_lines)",
    "AWS::CloudWatch::Dashboard": "the functions' metrics stay in memory (metric_lines)",
}
_TABLE_PROPERTIES = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


def stage_names(environment: Mapping[str, str]) -> dict[str, str]:
    """The name of each resource of `NAMED_BY_SETTING`, from a stage's settings (environment
    variables, as config.json gives them)."""
    names = {}
    for logical_id, variable in NAMED_BY_SETTING.items():
        value = environment.get(variable)
        if value:
            names[logical_id] = re.split(r"[/:]", value)[-1]
    return names


def secret_parameters(environment: Mapping[str, str]) -> dict[str, str]:
    """The SSM parameter through which a stage reads each secret of `SECRET_BY_SETTING`."""
    return {
        logical_id: environment[variable]
        for logical_id, variable in SECRET_BY_SETTING.items()
        if environment.get(variable)
    }


# -- what to create ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    versioned: bool
    cors_rules: tuple[dict[str, Any], ...] = ()  # PutBucketCors's shape (browser uploads)


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    definition: dict[str, Any]  # `create_table`'s arguments, TableName included


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    attributes: dict[QueueAttributeNameType, str]  # `create_queue`'s Attributes


@dataclass(frozen=True)
class StateMachine:
    logical_id: str
    name: str
    type: str  # StateMachineType: STANDARD | EXPRESS
    role_arn: str
    definition: Path  # the file `DefinitionS3Location` names, with ${Placeholders}
    substitutions: dict[str, str]  # `DefinitionSubstitutions`, resolved


@dataclass(frozen=True)
class Secret:
    logical_id: str
    name: str
    given: str | None  # `SecretString`, when the stack gives the value
    generate: dict[str, Any]  # `GenerateSecretString`, when it has the value generated

    def value(self) -> str:
        """The stack's value, or a new one made as `GenerateSecretString` says."""
        if self.given is not None:
            return self.given
        spec = self.generate
        generated = _random_text(spec)
        if "SecretStringTemplate" not in spec:
            return generated
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = generated
        return json.dumps(document)


@dataclass(frozen=True)
class Provisioning:
    """The resources of a template that the emulator creates, resolved for one stage; queues
    in an order that creates each after the queues its attributes name."""

    buckets: list[Bucket] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)
    state_machines: list[StateMachine] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)

    @classmethod
    def from_template(
        cls,
        template: Mapping[str, Any],
        parameters: StackParameters,
        names: Mapping[str, str] | None = None,
        folder: Path = TEMPLATE_PATH.parent,
    ) -> Provisioning:
        """`folder`: where the template is, from which its file paths are read."""
        resolver = Resolver(template, parameters, names)
        made: dict[str, list[Any]] = {kind: [] for kind in PROVISIONED_TYPES}
        for logical_id, resource in resolver.resources.items():
            kind = resource["Type"]
            if kind in PROVISIONED_TYPES:
                properties = _Properties(resolver, resource.get("Properties") or {})
                name = resolver.name(logical_id)
                made[kind].append(_READERS[kind](logical_id, name, properties, folder))
        queues = _dependencies_first(made["AWS::SQS::Queue"], resolver.resources)
        return cls(
            buckets=made["AWS::S3::Bucket"],
            tables=made["AWS::DynamoDB::Table"],
            queues=queues,
            state_machines=made["AWS::StepFunctions::StateMachine"],
            secrets=made["AWS::SecretsManager::Secret"],
        )

    @classmethod
    def for_stage(
        cls,
        stage: str,
        environment: Mapping[str, str],
        *,
        account: str,
        region: str,
        template: Path = TEMPLATE_PATH,
    ) -> Provisioning:
        """The stack's resources (`template`) for a stage: what the app finds by a setting has
        the name the stage's `environment` gives it (`NAMED_BY_SETTING`), every other resource
        the stack's own name for the stage."""
        parameters = StackParameters(stage=stage, account=account, region=region)
        names = stage_names(environment)
        return cls.from_template(load_template(template), parameters, names, template.parent)

    def table(self, logical_id: str) -> Table:
        return next(t for t in self.tables if t.logical_id == logical_id)

    def queue(self, logical_id: str) -> Queue:
        return next(q for q in self.queues if q.logical_id == logical_id)

    def bucket(self, logical_id: str) -> Bucket:
        return next(b for b in self.buckets if b.logical_id == logical_id)

    def state_machine(self, logical_id: str) -> StateMachine:
        return next(m for m in self.state_machines if m.logical_id == logical_id)

    def secret(self, logical_id: str) -> Secret:
        return next(s for s in self.secrets if s.logical_id == logical_id)


class _Properties:
    """A resource's properties, each resolved when it is read: what the emulator does not read
    (the state machine's log group, say) is never resolved."""

    def __init__(self, resolver: Resolver, raw: Mapping[str, Any]) -> None:
        self._resolver = resolver
        self._raw = raw

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._raw:
            return default
        return self._resolver.resolve({key: self._raw[key]}).get(key, default)  # NoValue: gone

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


# -- one reader per type: (logical id, name, resolved properties, template's folder) -----------
def _bucket(logical_id: str, name: str, properties: _Properties, _: Path) -> Bucket:
    versioning = properties.get("VersioningConfiguration") or {}
    cors = properties.get("CorsConfiguration") or {}
    rules = tuple(_cors_rule(rule) for rule in cors.get("CorsRules", []))
    return Bucket(logical_id, name, versioning.get("Status") == "Enabled", rules)


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation CorsRule as S3's API takes it (only `MaxAge` is named otherwise)."""
    return {("MaxAgeSeconds" if key == "MaxAge" else key): value for key, value in rule.items()}


def _table(logical_id: str, name: str, properties: _Properties, _: Path) -> Table:
    definition = {"TableName": name}
    definition.update({k: properties.get(k) for k in _TABLE_PROPERTIES if k in properties})
    return Table(logical_id, name, definition)


def _queue(logical_id: str, name: str, properties: _Properties, _: Path) -> Queue:
    attributes = {
        k: _attribute_text(properties.get(k)) for k in QUEUE_ATTRIBUTES if k in properties
    }
    return Queue(logical_id, name, attributes)


def _state_machine(
    logical_id: str, name: str, properties: _Properties, folder: Path
) -> StateMachine:
    location = properties.get("DefinitionS3Location")
    if not isinstance(location, str):
        raise TemplateError(f"{logical_id}: the emulator reads a DefinitionS3Location file path")
    substitutions = {
        k: str(v) for k, v in (properties.get("DefinitionSubstitutions") or {}).items()
    }
    return StateMachine(
        logical_id,
        name,
        str(properties.get("StateMachineType", "STANDARD")),
        str(properties.get("RoleArn", "")),
        (folder / location).resolve(),
        substitutions,
    )


def _secret(logical_id: str, name: str, properties: _Properties, _: Path) -> Secret:
    given = properties.get("SecretString")
    generate = properties.get("GenerateSecretString")
    if given is None and generate is None:
        raise TemplateError(f"{logical_id}: neither SecretString nor GenerateSecretString")
    return Secret(logical_id, name, None if given is None else str(given), dict(generate or {}))


_READERS: dict[str, Callable[[str, str, _Properties, Path], Any]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::SecretsManager::Secret": _secret,
}


def _random_text(spec: Mapping[str, Any]) -> str:
    """Secrets Manager's GetRandomPassword, as `GenerateSecretString` asks for it."""
    groups = {
        "ExcludeLowercase": string.ascii_lowercase,
        "ExcludeUppercase": string.ascii_uppercase,
        "ExcludeNumbers": string.digits,
        "ExcludePunctuation": string.punctuation,
    }
    alphabet = "".join(chars for flag, chars in groups.items() if not spec.get(flag))
    alphabet += " " if spec.get("IncludeSpace") else ""
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    if not alphabet:
        raise TemplateError("GenerateSecretString leaves no character to choose from")
    length = int(spec.get("PasswordLength", 32))
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _dependencies_first(queues: list[Queue], resources: Mapping[str, Any]) -> list[Queue]:
    by_id = {q.logical_id: q for q in queues}
    ordered: list[Queue] = []

    def visit(queue: Queue, path: tuple[str, ...]) -> None:
        if queue in ordered:
            return
        if queue.logical_id in path:
            raise TemplateError(f"queues refer to each other: {' -> '.join(path)}")
        properties = resources[queue.logical_id].get("Properties") or {}
        for other in references(properties):
            if other in by_id and other != queue.logical_id:
                visit(by_id[other], (*path, queue.logical_id))
        ordered.append(queue)

    for queue in queues:
        visit(queue, ())
    return ordered
