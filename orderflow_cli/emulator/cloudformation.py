"""What the embedded emulator creates, read from the CloudFormation stack that is deployed.

`infra/stack.yaml` is the one description of the stateful resources: `make deploy` deploys it,
and `EmbeddedAWS` creates its buckets, tables and queues from it (`Provisioning`), so the
emulator cannot drift from AWS. Only what moto needs to behave as AWS does is read:

- buckets: the name and `VersioningConfiguration`;
- tables: the name, `KeySchema`, `AttributeDefinitions`, `BillingMode`, `ProvisionedThroughput`,
  `GlobalSecondaryIndexes` and `LocalSecondaryIndexes`;
- queues: the name and the SQS attributes of `QUEUE_ATTRIBUTES` (`RedrivePolicy` with its
  `maxReceiveCount`, `VisibilityTimeout`, ...), created after the queues they name.

Names. The stack names each resource with `!Sub "${AppName}-${Stage}-..."`; the app finds some
of them by a setting of its stage (`.chalice/config.json`), and these two must agree.
`NAMED_BY_SETTING` says which setting names which logical resource; `stage_names` turns a stage's
settings into those names, and `Provisioning` uses them. Every other resource (the DLQ's redrive
queue) gets the stack's own name, resolved with `StackParameters` for the stage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "stack.yaml"

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
# alone, each for a reason (README, "Differences"); a type in neither fails a test, so a new
# kind of resource in the stack is a decision, not an accident.
PROVISIONED_TYPES = frozenset({"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue"})
NOT_PROVISIONED_TYPES = {
    "AWS::StepFunctions::StateMachine": "created by EmbeddedAWS from the rendered definition",
    "AWS::SecretsManager::Secret": "EmbeddedAWS keeps a webhook secret in SSM",
    "AWS::S3::BucketPolicy": "IAM is not emulated",
    "AWS::IAM::Role": "IAM is not emulated",
    "AWS::Logs::LogGroup": "the state machine's logs are not emulated",
    "AWS::SNS::Topic": "alarms are not emulated: nothing would publish to it",
    "AWS::SNS::Subscription": "alarms are not emulated; moto does not send e-mail",
    "AWS::CloudWatch::Alarm": "the functions' metrics stay in memory (EmbeddedAWS.metric_lines)",
    "AWS::CloudWatch::Dashboard": "the functions' metrics stay in memory (metric_lines)",
}
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
}
_TABLE_PROPERTIES = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """The template uses something this reader cannot resolve; the message says what."""


# -- reading the YAML --------------------------------------------------------------------------
class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, read as their long forms: `!Ref X` is
    `{"Ref": "X"}`, `!Sub s` is `{"Fn::Sub": s}`, `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in {"Ref", "Condition"}:  # no `Fn::` in their long forms
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=TemplateLoader)  # noqa: S506
    if not isinstance(loaded, dict) or not isinstance(loaded.get("Resources"), dict):
        raise TemplateError(f"{path.name}: not a CloudFormation template (no Resources)")
    return loaded


# -- names -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackParameters:
    """The stack's parameters and pseudo parameters for one stage. `make deploy` names the stack
    `<AppName>-<Stage>` (Makefile `STACK`)."""

    stage: str
    account: str
    region: str
    app_name: str = "orderflow"
    partition: str = "aws"

    def values(self) -> dict[str, str]:
        return {
            "Stage": self.stage,
            "AppName": self.app_name,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": f"{self.app_name}-{self.stage}",
            "AWS::URLSuffix": "amazonaws.com",
        }


def stage_names(environment: Mapping[str, str]) -> dict[str, str]:
    """The name of each resource of `NAMED_BY_SETTING`, from a stage's settings (environment
    variables, as config.json gives them)."""
    names = {}
    for logical_id, variable in NAMED_BY_SETTING.items():
        value = environment.get(variable)
        if value:
            names[logical_id] = re.split(r"[/:]", value)[-1]
    return names


# -- resolving intrinsic functions -------------------------------------------------------------
_NO_VALUE = object()  # `Ref: AWS::NoValue`: the property is left out


class Resolver:
    """Resolves `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join` and `Fn::If` (over the template's
    `Conditions` of `Fn::Equals`, `Fn::Not`, `Fn::And` and `Fn::Or`; `AWS::NoValue` drops the
    property) in a template for one stage. A resource's name is `names[logical_id]` when given,
    else its name property, resolved."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: StackParameters,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.resources: Mapping[str, Any] = template["Resources"]
        self.parameters = parameters
        self._values = {
            name: str(spec["Default"])
            for name, spec in (template.get("Parameters") or {}).items()
            if "Default" in spec
        }
        self._values.update(parameters.values())
        self._names = dict(names or {})
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}

    def name(self, logical_id: str) -> str:
        if logical_id in self._names:
            return self._names[logical_id]
        resource = self._resource(logical_id)
        prop = _NAME_PROPERTY.get(resource["Type"], "Name")
        given = (resource.get("Properties") or {}).get(prop)
        if given is None:
            raise TemplateError(f"{logical_id} has no {prop}: the emulator needs a fixed name")
        self._names[logical_id] = str(self.resolve(given))
        return self._names[logical_id]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(item) for item in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and argument == "AWS::NoValue":
                return _NO_VALUE
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.holds(str(condition)) else when_false)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument
                return self._get_att(str(logical_id), str(attribute))
            if key == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(self.resolve(item)) for item in items)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"the emulator cannot resolve {key}")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def holds(self, condition: str) -> bool:
        """Whether the template's condition of that name holds for this stage."""
        if condition not in self._conditions:
            raise TemplateError(f"no condition named {condition}")
        return self._truth(self._conditions[condition])

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Fn::Equals":
                left, right = (str(self.resolve(item)) for item in argument)
                return left == right
            if key == "Fn::Not":
                return not self._truth(argument[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in argument)
            if key == "Fn::Or":
                return any(self._truth(item) for item in argument)
            if key == "Condition":
                return self.holds(str(argument))
        raise TemplateError(f"the emulator cannot evaluate the condition {value!r}")

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"no parameter or resource named {logical_id}")
        return dict(resource)

    def _ref(self, name: str) -> str:
        if name in self._values:
            return self._values[name]
        if self._resource(name)["Type"] == "AWS::SQS::Queue":
            return self._get_att(name, "QueueUrl")
        if self._resource(name)["Type"] == "AWS::StepFunctions::StateMachine":
            return self._get_att(name, "Arn")
        return self.name(name)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument
            local = {key: str(self.resolve(item)) for key, item in variables.items()}
        else:
            text, local = argument, {}

        def replace(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable.startswith("!"):  # ${!Literal} is the text ${Literal}
                return "${" + variable[1:] + "}"
            if variable in local:
                return local[variable]
            if "." in variable and variable not in self._values:
                logical_id, attribute = variable.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self._ref(variable)

        return _SUB_VARIABLE.sub(replace, str(text))

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self._resource(logical_id)["Type"]
        name = self.name(logical_id)
        p = self.parameters
        arns = {
            "AWS::SQS::Queue": f"arn:{p.partition}:sqs:{p.region}:{p.account}:{name}",
            "AWS::S3::Bucket": f"arn:{p.partition}:s3:::{name}",
            "AWS::DynamoDB::Table": (
                f"arn:{p.partition}:dynamodb:{p.region}:{p.account}:table/{name}"
            ),
            "AWS::StepFunctions::StateMachine": (
                f"arn:{p.partition}:states:{p.region}:{p.account}:stateMachine:{name}"
            ),
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return f"https://sqs.{p.region}.amazonaws.com/{p.account}/{name}"
        raise TemplateError(f"the emulator cannot resolve {logical_id}.{attribute} ({kind})")


# -- what to create ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    versioned: bool


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
class Provisioning:
    """The buckets, tables and queues of a template, resolved for one stage; queues in an
    order that creates each after the queues its attributes name."""

    buckets: list[Bucket] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)

    @classmethod
    def from_template(
        cls,
        template: Mapping[str, Any],
        parameters: StackParameters,
        names: Mapping[str, str] | None = None,
    ) -> Provisioning:
        resolver = Resolver(template, parameters, names)
        buckets, tables, queues = [], [], []
        for logical_id, resource in resolver.resources.items():
            kind = resource["Type"]
            if kind not in PROVISIONED_TYPES:
                continue
            properties = resolver.resolve(resource.get("Properties") or {})
            name = resolver.name(logical_id)
            if kind == "AWS::S3::Bucket":
                versioning = properties.get("VersioningConfiguration") or {}
                buckets.append(Bucket(logical_id, name, versioning.get("Status") == "Enabled"))
            elif kind == "AWS::DynamoDB::Table":
                definition = {"TableName": name}
                definition.update({k: properties[k] for k in _TABLE_PROPERTIES if k in properties})
                tables.append(Table(logical_id, name, definition))
            else:
                attributes = {
                    k: _attribute_text(properties[k]) for k in QUEUE_ATTRIBUTES if k in properties
                }
                queues.append(Queue(logical_id, name, attributes))
        ordered = _dependencies_first(queues, resolver.resources)
        return cls(buckets, tables, ordered)

    def table(self, logical_id: str) -> Table:
        return next(t for t in self.tables if t.logical_id == logical_id)

    def queue(self, logical_id: str) -> Queue:
        return next(q for q in self.queues if q.logical_id == logical_id)

    def bucket(self, logical_id: str) -> Bucket:
        return next(b for b in self.buckets if b.logical_id == logical_id)


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _references(value: Any) -> Iterable[str]:
    """The logical ids a raw (unresolved) value refers to."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                yield str(item)
            elif key == "Fn::GetAtt":
                yield str(item[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                yield from (m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(str(text)))
                if isinstance(item, list):
                    yield from _references(item[1])
            else:
                yield from _references(item)


def _dependencies_first(queues: list[Queue], resources: Mapping[str, Any]) -> list[Queue]:
    by_id = {q.logical_id: q for q in queues}
    ordered: list[Queue] = []

    def visit(queue: Queue, path: tuple[str, ...]) -> None:
        if queue in ordered:
            return
        if queue.logical_id in path:
            raise TemplateError(f"queues refer to each other: {' -> '.join(path)}")
        properties = resources[queue.logical_id].get("Properties") or {}
        for other in _references(properties):
            if other in by_id and other != queue.logical_id:
                visit(by_id[other], (*path, queue.logical_id))
        ordered.append(queue)

    for queue in queues:
        visit(queue, ())
    return ordered
