"""Deployment steps the Makefile calls, with boto3 only (no AWS CLI needed).

python -m orderflow_cli.deploy credentials                   # the account, or why there is none
python -m orderflow_cli.deploy stack STACK TEMPLATE KEY=VALUE...
                                                             # package TEMPLATE, create or update
                                                             # the stack with those parameters
python -m orderflow_cli.deploy output STACK KEY              # one output of a stack
python -m orderflow_cli.deploy partial-batch FUNCTION        # ReportBatchItemFailures on its
                                                             # event source mappings
python -m orderflow_cli.deploy gateway-responses STAGE      # API Gateway's own 404 in our
                                                             # error shape, then redeploy
python -m orderflow_cli.deploy empty-bucket BUCKET           # every version and delete marker
python -m orderflow_cli.deploy delete-stack STACK            # delete it and wait for the end

`stack` does what `aws cloudformation package` and `deploy` did: every local file the template
names (`PACKAGED_PROPERTIES`) is uploaded to the artifacts bucket
`orderflow-artifacts-<account>-<region>` (created when missing) and named there, the packaged
template (JSON) is written to build/ and uploaded too (a template over 51,200 bytes can only be
given by URL), then the stack is created, or updated with the previous value of every parameter
not given (so `AlarmEmail` is kept), and the call waits for the end. A stack with nothing to
change is fine. A stack that fails names its first failed resource and why.

Every client honours AWS_ENDPOINT_URL (botocore 1.31 and later): the rehearsal
(`orderflow_cli.rehearsal`) runs these same steps against the embedded emulator.

A missing credential, region or stack is one sentence on stderr and exit code 3 (docs/cli.md,
"Exit codes of `orders`"), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    WaiterError,
)

from orderflow_cli.emulator.cloudformation import load_template
from orderflow_cli.exits import ExitCode

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# The resource properties that name a local file `stack` uploads, as `aws cloudformation
# package` does; the value becomes {"Bucket", "Key"} of the uploaded copy.
PACKAGED_PROPERTIES = {("AWS::StepFunctions::StateMachine", "DefinitionS3Location")}
CAPABILITIES = ["CAPABILITY_IAM"]
BUILD_DIR = Path("build")
# API Gateway answers a path no route has (and a method a route does not have) itself, with a
# 403 "Missing Authentication Token": made the 404 `orders serve` answers, in the error shape.
ROUTE_NOT_FOUND = {
    "responseType": "MISSING_AUTHENTICATION_TOKEN",
    "statusCode": "404",
    "responseTemplates": {
        "application/json": json.dumps(
            {
                "error": {
                    "code": "route_not_found",
                    "message": "no route for this method and path (api/openapi.json lists them)",
                }
            }
        )
    },
}
CHALICE_DIR = Path(".chalice")
# Waiting for CloudFormation: a poll every 10 s, for at most an hour.
WAIT = {"Delay": 10, "MaxAttempts": 360}


class DeployError(Exception):
    """Why a deployment step cannot go on, in one sentence."""


def account() -> str:
    """The account the caller's credentials belong to."""
    return str(boto3.client("sts").get_caller_identity()["Account"])


def region() -> str:
    name = boto3.session.Session().region_name
    if not name:
        raise NoRegionError()
    return name


def output(stack: str, key: str) -> str:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    for item in described["Stacks"][0].get("Outputs", []):
        if item["OutputKey"] == key:
            return str(item["OutputValue"])
    raise DeployError(f"stack {stack} has no output {key}")


def artifacts_bucket() -> str:
    """`orderflow-artifacts-<account>-<region>`, created when missing."""
    where = region()
    bucket = f"orderflow-artifacts-{account()}-{where}"
    s3 = boto3.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
        if where == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": where})  # type: ignore[typeddict-item]
    return bucket


def package(template_path: Path, bucket: str) -> dict[str, Any]:
    """The template with every local file of `PACKAGED_PROPERTIES` uploaded to `bucket`."""
    template = load_template(template_path)
    s3 = boto3.client("s3")
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for kind, name in PACKAGED_PROPERTIES:
            if resource.get("Type") != kind or not isinstance(properties.get(name), str):
                continue
            local = template_path.parent / properties[name]
            if not local.is_file():
                raise DeployError(f"{logical_id}.{name}: no file {local}")
            body = local.read_bytes()
            key = f"{hashlib.sha256(body).hexdigest()}-{local.name}"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            properties[name] = {"Bucket": bucket, "Key": key}
    return template


def deploy_stack(stack: str, template_path: Path, parameters: dict[str, str]) -> str:
    """Creates or updates `stack` from `template_path`; what happened, in a few words."""
    bucket = artifacts_bucket()
    body = json.dumps(package(template_path, bucket), indent=1)
    BUILD_DIR.mkdir(exist_ok=True)
    (BUILD_DIR / f"{stack}.template.json").write_text(body, encoding="utf-8")
    key = f"{stack}/{hashlib.sha256(body.encode()).hexdigest()}.template.json"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    url = f"https://{bucket}.s3.{region()}.amazonaws.com/{key}"
    cloudformation = boto3.client("cloudformation")
    status = _status(stack)
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack} is ROLLBACK_COMPLETE (its first creation failed): make destroy,"
            " then deploy again"
        )
    if status is None or status == "REVIEW_IN_PROGRESS":
        cloudformation.create_stack(
            StackName=stack,
            TemplateURL=url,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=CAPABILITIES,
        )
        _wait(stack, "stack_create_complete")
        return f"stack {stack} created"
    # A parameter not given keeps its value (AlarmEmail), as `aws cloudformation deploy` does;
    # given by value (moto refuses UsePreviousValue for one that took its default), except a
    # NoEcho one, which CloudFormation shows masked.
    declared = load_template(template_path).get("Parameters", {})
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    previous = {p["ParameterKey"]: p.get("ParameterValue") for p in described.get("Parameters", [])}
    given: list[Any] = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    for key, spec in declared.items():
        if key in parameters or key not in previous:
            continue
        if spec.get("NoEcho") or previous[key] is None:
            given.append({"ParameterKey": key, "UsePreviousValue": True})
        else:
            given.append({"ParameterKey": key, "ParameterValue": previous[key]})
    try:
        cloudformation.update_stack(
            StackName=stack,
            TemplateURL=url,
            Parameters=given,
            Capabilities=CAPABILITIES,
        )
    except ClientError as error:
        if "No updates are to be performed" in str(error):
            return f"stack {stack}: nothing to change"
        raise
    _wait(stack, "stack_update_complete")
    return f"stack {stack} updated"


def delete_stack(stack: str) -> str:
    if _status(stack) is None:
        return f"stack {stack}: none to delete"
    boto3.client("cloudformation").delete_stack(StackName=stack)
    _wait(stack, "stack_delete_complete")
    return f"stack {stack} deleted"


def partial_batch_responses(function: str) -> int:
    """Turns on ReportBatchItemFailures on every event source mapping of `function`
    (Chalice cannot set it); how many there were."""
    lambda_ = boto3.client("lambda")
    # By ARN: Lambda matches a name or an ARN; moto only the form the mapping was made with
    # (Chalice gives the ARN).
    arn = lambda_.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    mappings = lambda_.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
    if not mappings:
        raise DeployError(f"function {function} has no event source mapping")
    for mapping in mappings:
        lambda_.update_event_source_mapping(
            UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
        )
    return len(mappings)


def gateway_responses(stage: str, chalice_dir: Path = CHALICE_DIR) -> str:
    """Puts ROUTE_NOT_FOUND on the REST API `chalice deploy` made for `stage` (Chalice has no
    setting for gateway responses) and deploys the API stage again, which is when a gateway
    response takes effect; returns the API's id."""
    deployed = chalice_dir / "deployed" / f"{stage}.json"
    try:
        resources = json.loads(deployed.read_text())["resources"]
    except (OSError, ValueError, KeyError) as error:
        raise DeployError(f"no record of chalice deploy for stage {stage} ({deployed})") from error
    api = next((r for r in resources if r.get("resource_type") == "rest_api"), None)
    if api is None:
        raise DeployError(f"{deployed} names no REST API")
    config = json.loads((chalice_dir / "config.json").read_text())
    api_stage = (
        config.get("stages", {})
        .get(stage, {})
        .get("api_gateway_stage", config.get("api_gateway_stage", "api"))
    )
    apigateway = boto3.client("apigateway")
    apigateway.put_gateway_response(restApiId=api["rest_api_id"], **ROUTE_NOT_FOUND)
    apigateway.create_deployment(restApiId=api["rest_api_id"], stageName=api_stage)
    return str(api["rest_api_id"])


def empty_bucket(bucket: str) -> int:
    """Deletes every object version and delete marker, so the stack can delete the bucket."""
    s3 = boto3.client("s3")
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed: list[ObjectIdentifierTypeDef] = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
        deleted += len(doomed)
    return deleted


def _status(stack: str) -> str | None:
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def _wait(stack: str, waiter: str) -> None:
    try:
        boto3.client("cloudformation").get_waiter(waiter).wait(StackName=stack, WaiterConfig=WAIT)
    except WaiterError as error:
        raise DeployError(f"stack {stack} did not complete: {_first_failure(stack)}") from error


def _first_failure(stack: str) -> str:
    """The first resource of the stack's latest events that failed, and why."""
    try:
        events = boto3.client("cloudformation").describe_stack_events(StackName=stack)
    except ClientError:
        return "its events cannot be read"
    failed = [
        e for e in events["StackEvents"] if str(e.get("ResourceStatus", "")).endswith("_FAILED")
    ]
    if not failed:
        return f"status {_status(stack)}"
    first = failed[-1]  # events come newest first
    return (
        f"{first.get('LogicalResourceId')} ({first.get('ResourceType')}):"
        f" {first.get('ResourceStatusReason')}"
    )


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    if len(parameters) != len(pairs):
        raise DeployError(f"parameters are KEY=VALUE: {' '.join(pairs)}")
    return parameters


def main(argv: list[str]) -> int:
    try:
        if argv == ["credentials"]:
            print(f"AWS account {account()}")
            return 0
        if len(argv) == 3 and argv[0] == "output":
            print(output(argv[1], argv[2]))
            return 0
        if len(argv) >= 3 and argv[0] == "stack":
            print(deploy_stack(argv[1], Path(argv[2]), _parameters(argv[3:])))
            return 0
        if len(argv) == 2 and argv[0] == "delete-stack":
            print(delete_stack(argv[1]))
            return 0
        if len(argv) == 2 and argv[0] == "partial-batch":
            count = partial_batch_responses(argv[1])
            print(f"{argv[1]}: ReportBatchItemFailures on {count} event source mapping(s)")
            return 0
        if len(argv) == 2 and argv[0] == "gateway-responses":
            api = gateway_responses(argv[1])
            print(f"API {api}: a path or method no route has answers 404 route_not_found")
            return 0
        if len(argv) == 2 and argv[0] == "empty-bucket" and argv[1]:
            print(f"deleted {empty_bucket(argv[1])} object version(s) from {argv[1]}")
            return 0
    except (NoCredentialsError, PartialCredentialsError):
        _say("no AWS credentials: configure them (aws configure, or AWS_PROFILE); see"
             " docs/deploy.md")  # fmt: skip
    except NoRegionError:
        _say("no AWS region: set AWS_REGION (make passes AWS_DEFAULT_REGION), or aws configure")
    except ClientError as error:
        details = error.response.get("Error", {})
        _say(f"AWS refused {error.operation_name}: {details.get('Message') or details.get('Code')}")
    except (BotoCoreError, DeployError) as error:
        _say(str(error))
    else:
        print(__doc__, file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.UNREACHABLE


def _say(sentence: str) -> None:
    print(f"orderflow deploy: {sentence}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
