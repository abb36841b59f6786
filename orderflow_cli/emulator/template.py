"""The one reader of a CloudFormation template (`infra/stack.yaml`) for one stage, offline.

`load_template` reads the YAML with CloudFormation's short-form tags as their long forms;
`Resolver` resolves `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join` and `Fn::If` (over the template's
`Conditions`) for the parameters of one stage (`StackParameters`), as CloudFormation would;
`references` lists the logical ids a value names. What it cannot resolve it refuses by name
(`TemplateError`), never by guessing: the emulator (`cloudformation.Provisioning`), the deploy and
the rehearsal read the stack through here only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "stack.yaml"

_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
}
# Types whose name nothing looks up: without a name property, CloudFormation generates one
# (`<stack>-<logical id>-<suffix>`); the reader gives `<stack>-<logical id>`.
_GENERATED_NAMES = frozenset({"AWS::IAM::Role"})
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
    `<AppName>-<Stage>` (Makefile `STACK`); `app_name` None takes the template's default."""

    stage: str
    account: str
    region: str
    app_name: str | None = None
    partition: str = "aws"

    def values(self, defaults: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every parameter's value: the template's `defaults`, then this stage's."""
        values = dict(defaults or {})
        app_name = self.app_name or values.get("AppName", "")
        values.update(
            {
                "Stage": self.stage,
                "AWS::AccountId": self.account,
                "AWS::Region": self.region,
                "AWS::Partition": self.partition,
                "AWS::StackName": f"{app_name}-{self.stage}",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        if app_name:
            values["AppName"] = app_name
        return values


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
        defaults = {
            name: str(spec["Default"])
            for name, spec in (template.get("Parameters") or {}).items()
            if "Default" in spec
        }
        self._values = parameters.values(defaults)
        self._names = dict(names or {})
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}

    def name(self, logical_id: str) -> str:
        if logical_id in self._names:
            return self._names[logical_id]
        resource = self._resource(logical_id)
        prop = _NAME_PROPERTY.get(resource["Type"], "Name")
        given = (resource.get("Properties") or {}).get(prop)
        if given is None and resource["Type"] in _GENERATED_NAMES:
            given = f"{self._values['AWS::StackName']}-{logical_id}"  # CloudFormation's, unsuffixed
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
            "AWS::IAM::Role": f"arn:{p.partition}:iam::{p.account}:role/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return f"https://sqs.{p.region}.amazonaws.com/{p.account}/{name}"
        raise TemplateError(f"the emulator cannot resolve {logical_id}.{attribute} ({kind})")


def references(value: Any) -> Iterable[str]:
    """The logical ids a raw (unresolved) value refers to."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                yield str(item)
            elif key == "Fn::GetAtt":  # `[A, B]`, or the long form's `A.B`
                yield str(item[0]) if isinstance(item, list) else str(item).split(".", 1)[0]
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                yield from (m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(str(text)))
                if isinstance(item, list):
                    yield from references(item[1])
            else:
                yield from references(item)
