"""The rehearsed deploy: `make deploy` then `make destroy` against moto's server as an AWS account.

What a first deploy on AWS needs, checked on the emulated account between the two: every
resource of `infra/stack.yaml` created and wired (read from the template, so a resource added
to the stack is checked without a change here), the Chalice functions with their names, policies
and triggers, partial batch responses on the DLQ's mapping; then everything gone after destroy.
Where moto lacks a resource type or an API, the part is checked another way (the packaged
template, the API document Chalice sent): `orderflow_cli.rehearsal` says which.

Marked `rehearsal` and left out of the default run (pyproject.toml): `make rehearse-deploy` runs
it, and CI does (.ci/run).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app import app
from chalicelib.pipeline import events as completion
from orderflow_cli.emulator.cloudformation import (
    NAMED_BY_SETTING,
    Provisioning,
    Resolver,
    StackParameters,
    load_template,
)
from orderflow_cli.rehearsal import (
    ACCOUNT,
    API_DOCUMENTS,
    MOTO_LACKS,
    REGION,
    STAGE,
    Rehearsal,
    Step,
    reduced_template,
)
from tests.conftest import REPO

pytestmark = [pytest.mark.rehearsal, pytest.mark.timeout(900)]

STACK = f"orderflow-{STAGE}"
ALARM_EMAIL = "ops@example.org"
PREFIX = f"orderflow-{STAGE}"
CONFIG = json.loads((REPO / ".chalice" / "config.json").read_text())
STAGE_CONFIG = CONFIG["stages"][STAGE]
TEMPLATE = load_template(REPO / "infra" / "stack.yaml")
PARAMETERS = StackParameters(STAGE, ACCOUNT, REGION)
EXPECTED = Provisioning.from_template(TEMPLATE, PARAMETERS)
REDUCED, LEFT_OUT = reduced_template(TEMPLATE)

Client = Callable[[str], Any]


def function_name(name: str) -> str:
    """Chalice's name for a function: `orderflow-<stage>` for the API handler."""
    return PREFIX if name == "api_handler" else f"{PREFIX}-{name}"


FUNCTIONS = {name: function_name(name) for name in STAGE_CONFIG["lambda_functions"]}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    rehearsal = Rehearsal(scratch=tmp_path_factory.mktemp("rehearsal") / "orderflow")
    rehearsal.start()
    yield rehearsal
    rehearsal.stop()
    print("rehearsal:", ", ".join(f"{s.command[3]} {s.seconds:.1f} s" for s in rehearsal.steps))


@pytest.fixture(scope="module")
def aws(rehearsal: Rehearsal) -> Client:
    session = boto3.Session(
        aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal", region_name=REGION
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=rehearsal.endpoint)  # type: ignore[call-overload]

    return client


@pytest.fixture(scope="module")
def deployed(rehearsal: Rehearsal) -> Step:
    step = rehearsal.make("deploy", f"ALARM_EMAIL={ALARM_EMAIL}")
    assert step.returncode == 0, step.output[-6000:]
    return step


@pytest.fixture(scope="module")
def stack_resources(deployed: Step, aws: Client) -> dict[str, dict[str, Any]]:
    summaries = aws("cloudformation").list_stack_resources(StackName=STACK)
    return {r["LogicalResourceId"]: r for r in summaries["StackResourceSummaries"]}


@pytest.fixture(scope="module")
def outputs(deployed: Step, aws: Client) -> dict[str, str]:
    (stack,) = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.fixture(scope="module")
def packaged(deployed: Step, rehearsal: Rehearsal) -> dict[str, Any]:
    """The template `make deploy` gave CloudFormation (written to build/ by the deploy)."""
    path = rehearsal.scratch / "build" / f"{STACK}.template.json"
    packaged: dict[str, Any] = json.loads(path.read_text())
    return packaged


# -- the deploy itself ---------------------------------------------------------------------------
def test_make_deploy_ran_end_to_end_with_the_venv_alone(deployed: Step) -> None:
    assert "rehearsal: the deploy needs no AWS CLI" not in deployed.output
    assert f"stack {STACK} created" in deployed.output
    api = r"API: https://\w+\.execute-api\.us-east-1\.amazonaws\.com/api/"
    assert re.search(api, deployed.output)
    assert "ReportBatchItemFailures on 1 event source mapping(s)" in deployed.output


def test_only_the_types_moto_lacks_are_left_out_of_the_rehearsals_stack() -> None:
    from moto.cloudformation.parsing import get_model_map

    supported = set(get_model_map())
    used = {r["Type"] for r in TEMPLATE["Resources"].values()}
    assert not (used - supported - set(MOTO_LACKS)), "moto lacks a type the list does not name"
    assert not (set(MOTO_LACKS) & supported), "moto has a type now: take it off MOTO_LACKS"
    for logical_id in LEFT_OUT:
        kind = TEMPLATE["Resources"][logical_id]["Type"]
        # a type moto lacks, or the dashboard, which names every alarm
        assert kind in MOTO_LACKS or kind == "AWS::CloudWatch::Dashboard", logical_id


# -- the stack -----------------------------------------------------------------------------------
def test_every_resource_of_the_stack_is_created(stack_resources: dict[str, Any]) -> None:
    assert set(stack_resources) == set(REDUCED["Resources"])
    assert {r["ResourceStatus"] for r in stack_resources.values()} == {"CREATE_COMPLETE"}
    assert {k: r["ResourceType"] for k, r in stack_resources.items()} == {
        k: r["Type"] for k, r in REDUCED["Resources"].items()
    }


@pytest.mark.parametrize("table", EXPECTED.tables, ids=lambda t: t.logical_id)
def test_each_table_has_the_stacks_name_and_keys(table: Any, deployed: Step, aws: Client) -> None:
    described = aws("dynamodb").describe_table(TableName=table.name)["Table"]
    assert described["KeySchema"] == table.definition["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(
        table.definition["AttributeDefinitions"], key=str
    )
    billing = described.get("BillingModeSummary", {}).get("BillingMode")
    assert billing == table.definition.get("BillingMode")
    setting = NAMED_BY_SETTING.get(table.logical_id)
    if setting:  # the name the functions are given is the table's
        assert STAGE_CONFIG["environment_variables"][setting] == table.name


@pytest.mark.parametrize("bucket", EXPECTED.buckets, ids=lambda b: b.logical_id)
def test_each_bucket_has_the_stacks_name_encryption_and_versioning(
    bucket: Any, outputs: dict[str, str], packaged: dict[str, Any], aws: Client
) -> None:
    """moto's CloudFormation applies a bucket's encryption but not its versioning, lifecycle
    rules, public access block or ownership: those are read from what CloudFormation got."""
    assert bucket.name == f"{PREFIX}-orders-{ACCOUNT}-{REGION}"
    assert outputs["BucketName"] == bucket.name
    aws("s3").head_bucket(Bucket=bucket.name)
    encryption = aws("s3").get_bucket_encryption(Bucket=bucket.name)
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    given = packaged["Resources"][bucket.logical_id]["Properties"]
    assert (given["VersioningConfiguration"]["Status"] == "Enabled") is bucket.versioned
    assert bucket.versioned  # file.replaced needs it (docs/errors.md, file codes)
    assert all(given["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("queue", EXPECTED.queues, ids=lambda q: q.logical_id)
def test_each_queue_has_the_stacks_attributes_and_redrive(
    queue: Any, deployed: Step, aws: Client
) -> None:
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for name, value in queue.attributes.items():
        if name == "RedrivePolicy":
            got, want = json.loads(attributes[name]), json.loads(value)
            assert got["deadLetterTargetArn"] == want["deadLetterTargetArn"]
            assert int(got["maxReceiveCount"]) == int(want["maxReceiveCount"])
        else:
            assert attributes[name] == value, name


def test_the_dlq_redrives_to_its_queue_after_five_receives(
    outputs: dict[str, str], aws: Client
) -> None:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=outputs["DlqUrl"], AttributeNames=["RedrivePolicy", "QueueArn"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-dlq-redrive")
    assert int(redrive["maxReceiveCount"]) == 5
    assert attributes["QueueArn"] == outputs["DlqArn"]


def test_the_state_machine_has_the_stacks_name_and_role(
    stack_resources: dict[str, Any], outputs: dict[str, str], aws: Client
) -> None:
    for logical_id, resource in REDUCED["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        name = Resolver(TEMPLATE, PARAMETERS).name(logical_id)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        described = aws("stepfunctions").describe_state_machine(stateMachineArn=arn)
        role = resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        role_name = stack_resources[role]["PhysicalResourceId"]
        assert described["roleArn"] == aws("iam").get_role(RoleName=role_name)["Role"]["Arn"]
    assert outputs["StateMachineArn"] == STAGE_CONFIG["environment_variables"][
        "STATE_MACHINE_ARN"
    ].format(region=REGION, account=ACCOUNT)


def test_the_definition_is_packaged_and_every_placeholder_substituted(
    packaged: dict[str, Any], aws: Client
) -> None:
    """moto ignores DefinitionS3Location and DefinitionSubstitutions (its machine's definition
    is empty): what CloudFormation was given is checked instead."""
    machine = packaged["Resources"]["IngestStateMachine"]["Properties"]
    location = machine["DefinitionS3Location"]
    assert location["Bucket"] == f"orderflow-artifacts-{ACCOUNT}-{REGION}"
    body = aws("s3").get_object(Bucket=location["Bucket"], Key=location["Key"])["Body"].read()
    assert body == (REPO / "chalicelib" / "pipeline" / "ingest.asl.json").read_bytes()
    placeholders = set(re.findall(r"\$\{(\w+)\}", body.decode()))
    assert placeholders
    assert placeholders <= set(machine["DefinitionSubstitutions"])


def test_each_role_of_the_stack_has_its_inline_policies(
    stack_resources: dict[str, Any], aws: Client
) -> None:
    resolver = Resolver(TEMPLATE, PARAMETERS)
    roles = [k for k, r in REDUCED["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    iam = aws("iam")
    for logical_id in roles:
        name = stack_resources[logical_id]["PhysicalResourceId"]
        role = iam.get_role(RoleName=name)["Role"]
        properties = TEMPLATE["Resources"][logical_id]["Properties"]
        assert role["AssumeRolePolicyDocument"] == resolver.resolve(
            properties["AssumeRolePolicyDocument"]
        )
        for policy in properties.get("Policies", []):
            got = iam.get_role_policy(RoleName=name, PolicyName=policy["PolicyName"])
            document = got["PolicyDocument"]
            if isinstance(document, str):  # moto's CloudFormation keeps Python's text of it
                document = ast.literal_eval(document)
            assert document == resolver.resolve(policy["PolicyDocument"])


def test_what_moto_cannot_create_is_in_the_template_cloudformation_gets() -> None:
    """The secret, the bucket's TLS-only policy, the alarms, their subscription and the
    dashboard are not created by moto; the full template (cfn-lint in `make lint`, the alarms
    in test_alarms.py) must still hold them, named as the app expects."""
    resolver = Resolver(TEMPLATE, PARAMETERS)
    kinds = {r["Type"] for k, r in TEMPLATE["Resources"].items() if k in LEFT_OUT}
    assert kinds <= {*MOTO_LACKS, "AWS::CloudWatch::Dashboard"}
    callback = TEMPLATE["Resources"]["CallbackSecret"]["Properties"]
    secret_name = resolver.resolve(callback["Name"])
    assert STAGE_CONFIG["environment_variables"]["CALLBACK_SECRET_PARAMETER"].endswith(
        f"/{secret_name}"
    )
    assert callback["GenerateSecretString"]["PasswordLength"] >= 32
    policy = next(r for r in TEMPLATE["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy")
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# -- the functions -------------------------------------------------------------------------------
def test_every_function_is_created_with_chalices_names(deployed: Step, aws: Client) -> None:
    names = {f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]}
    assert names == set(FUNCTIONS.values())
    assert all(n.startswith(f"{PREFIX}-") for k, n in FUNCTIONS.items() if k != "api_handler")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_has_its_policy_settings_and_environment(
    function: str, deployed: Step, aws: Client
) -> None:
    lambda_, iam = aws("lambda"), aws("iam")
    settings = {
        "lambda_memory_size": STAGE_CONFIG["lambda_memory_size"],
        "lambda_timeout": STAGE_CONFIG["lambda_timeout"],
        **STAGE_CONFIG["lambda_functions"][function],
    }
    configuration = lambda_.get_function(FunctionName=FUNCTIONS[function])["Configuration"]
    assert configuration["MemorySize"] == settings["lambda_memory_size"]
    assert configuration["Timeout"] == settings["lambda_timeout"]
    assert configuration["TracingConfig"]["Mode"] == "Active"
    environment = configuration["Environment"]["Variables"]
    expected = {**CONFIG["environment_variables"], **STAGE_CONFIG["environment_variables"]}
    assert {k: environment.get(k) for k in expected} == expected
    concurrency = lambda_.get_function_concurrency(FunctionName=FUNCTIONS[function])
    assert concurrency.get("ReservedConcurrentExecutions") == settings.get("reserved_concurrency")

    role = configuration["Role"].rsplit("/", 1)[-1]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    policy_file = REPO / ".chalice" / settings["iam_policy_file"]
    assert settings["iam_policy_file"] == f"policy-{STAGE}-{function}.json"
    assert document == json.loads(policy_file.read_text())
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_the_bucket_invokes_on_file_uploaded_for_the_incoming_prefix(
    outputs: dict[str, str], aws: Client
) -> None:
    bucket = outputs["BucketName"]
    notification = aws("s3").get_bucket_notification_configuration(Bucket=bucket)
    (target,) = notification["LambdaFunctionConfigurations"]
    on_file_uploaded = aws("lambda").get_function(FunctionName=FUNCTIONS["on_file_uploaded"])
    assert target["LambdaFunctionArn"] == on_file_uploaded["Configuration"]["FunctionArn"]
    assert target["Events"] == ["s3:ObjectCreated:*"]
    rules = target["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [
        ("prefix", STAGE_CONFIG.get("environment_variables", {}).get("INCOMING_PREFIX")
         or CONFIG["environment_variables"]["INCOMING_PREFIX"])
    ]  # fmt: skip
    assert not notification.get("QueueConfigurations")
    permission = json.loads(
        aws("lambda").get_policy(FunctionName=FUNCTIONS["on_file_uploaded"])["Policy"]
    )
    (statement,) = permission["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:s3:::{bucket}"


def test_the_dlq_feeds_the_reviewer_with_partial_batch_responses(
    outputs: dict[str, str], aws: Client
) -> None:
    lambda_ = aws("lambda")
    reviewer = lambda_.get_function(FunctionName=FUNCTIONS["ReviewDeadLetters"])
    mappings = lambda_.list_event_source_mappings(
        FunctionName=reviewer["Configuration"]["FunctionArn"]
    )["EventSourceMappings"]
    (mapping,) = mappings
    assert mapping["EventSourceArn"] == outputs["DlqArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    everything = lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert [m["UUID"] for m in everything] == [mapping["UUID"]]


def test_the_completion_events_reach_deliver_callback(deployed: Step, aws: Client) -> None:
    events = aws("events")
    callback = aws("lambda").get_function(FunctionName=FUNCTIONS["DeliverCallback"])
    matching = [
        rule
        for rule in events.list_rules()["Rules"]
        if json.loads(rule.get("EventPattern", "{}")) == completion.PATTERN
    ]
    (rule,) = matching
    targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert [t["Arn"] for t in targets] == [callback["Configuration"]["FunctionArn"]]


def test_the_api_routes_reach_the_handler_behind_the_sender_key_authorizer(
    deployed: Step, aws: Client
) -> None:
    """moto creates paths, methods and integrations from the API document but never an
    authorizer: the authorizer is read from the document Chalice sent."""
    apigateway = aws("apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    assert api["name"] == CONFIG["app_name"]
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api["id"])["item"]] == [
        STAGE_CONFIG["api_gateway_stage"]
    ]
    resources = apigateway.get_resources(restApiId=api["id"], limit=500)["items"]
    methods = {
        (r["path"], m) for r in resources for m in r.get("resourceMethods", {}) if m != "OPTIONS"
    }
    routes = {(path, m) for path, route in app.routes.items() for m in route}
    assert methods == routes
    handler = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS['api_handler']}"
    for resource in resources:
        for method in resource.get("resourceMethods", {}):
            integration = apigateway.get_integration(
                restApiId=api["id"], resourceId=resource["id"], httpMethod=method
            )
            assert handler in integration["uri"]

    document = API_DOCUMENTS[-1]
    (authorizer,) = document["securityDefinitions"].values()
    settings = authorizer["x-amazon-apigateway-authorizer"]
    assert FUNCTIONS["sender_key"] in settings["authorizerUri"]
    assert settings["authorizerResultTtlInSeconds"] == 60
    assert authorizer["in"] == "header"
    # no key for the health check and the partners' page (which calls the others with one)
    open_routes = {"/health", "/", "/static/{name}"}
    assert open_routes == {
        path
        for path, route in app.routes.items()
        if any(entry.authorizer is None for entry in route.values())
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in open_routes or method == "options":
                assert not operation.get("security"), (path, method)
            else:
                assert operation.get("security") == [{"sender_key": []}], (path, method)


def test_api_gateways_own_answer_to_an_unknown_route_is_the_404_orders_serve_gives(
    deployed: Step, aws: Client
) -> None:
    """The gateway response is read back and its template rendered as API Gateway would (it
    has no variables), then compared with what `orders serve` answers for an unknown path."""
    apigateway = aws("apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    response = apigateway.get_gateway_response(
        restApiId=api["id"], responseType="MISSING_AUTHENTICATION_TOKEN"
    )
    assert response["statusCode"] == "404"
    body = json.loads(response["responseTemplates"]["application/json"])
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "route_not_found"  # as orders serve's (test_local_gateway)
    deployments = apigateway.get_deployments(restApiId=api["id"])["items"]
    assert len(deployments) >= 2  # Chalice's, then ours: a gateway response needs a deployment


# -- a second deploy ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redeployed(deployed: Step, rehearsal: Rehearsal, aws: Client) -> dict[str, Any]:
    """`make deploy` once more, without ALARM_EMAIL; what there was before it."""
    before = {
        "functions": aws("lambda").list_functions()["Functions"],
        "apis": aws("apigateway").get_rest_apis()["items"],
    }
    step = rehearsal.make("deploy")
    assert step.returncode == 0, step.output[-6000:]
    assert f"stack {STACK}: nothing to change" in step.output, step.output[-3000:]
    return before


def test_a_second_deploy_updates_in_place_and_keeps_the_alarm_email(
    redeployed: dict[str, Any], outputs: dict[str, str], aws: Client
) -> None:
    (stack,) = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["AlarmEmail"] == ALARM_EMAIL
    assert parameters["Stage"] == STAGE
    functions = aws("lambda").list_functions()["Functions"]
    assert sorted(f["FunctionArn"] for f in functions) == sorted(
        f["FunctionArn"] for f in redeployed["functions"]
    )
    assert aws("apigateway").get_rest_apis()["items"] == redeployed["apis"]
    (mapping,) = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    notification = aws("s3").get_bucket_notification_configuration(Bucket=outputs["BucketName"])
    assert len(notification["LambdaFunctionConfigurations"]) == 1


# -- and gone after `make destroy` ---------------------------------------------------------------
@pytest.fixture(scope="module")
def destroyed(deployed: Step, redeployed: dict[str, Any], rehearsal: Rehearsal) -> Step:
    step = rehearsal.make("destroy")
    assert step.returncode == 0, step.output[-6000:]
    return step


def test_make_destroy_removes_everything(
    destroyed: Step, stack_resources: dict[str, Any], aws: Client
) -> None:
    assert "rehearsal: the deploy needs no AWS CLI" not in destroyed.output
    assert f"stack {STACK} deleted" in destroyed.output
    with pytest.raises(ClientError, match="does not exist"):
        aws("cloudformation").describe_stacks(StackName=STACK)
    assert [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]] == []
    assert aws("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert aws("apigateway").get_rest_apis()["items"] == []
    assert [r for r in aws("events").list_rules()["Rules"] if r["Name"].startswith(PREFIX)] == []
    roles = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert not {r for r in roles if r.startswith(PREFIX)}
    assert aws("dynamodb").list_tables()["TableNames"] == []
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert buckets == {f"orderflow-artifacts-{ACCOUNT}-{REGION}"}  # kept, as on AWS
    assert aws("sqs").list_queues().get("QueueUrls", []) == []
    assert aws("stepfunctions").list_state_machines()["stateMachines"] == []
    kinds = {r["ResourceType"] for r in stack_resources.values()}
    assert kinds <= {
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::StepFunctions::StateMachine",
        "AWS::SNS::Topic",
    }, "a new kind of resource: check above that destroy removes it"
    assert aws("logs").describe_log_groups()["logGroups"] == [] or all(
        not g["logGroupName"].endswith(f"{PREFIX}-ingest")
        for g in aws("logs").describe_log_groups()["logGroups"]
    )
    assert aws("sns").list_topics()["Topics"] == []


def test_the_rehearsal_takes_at_most_a_couple_of_minutes(
    destroyed: Step, rehearsal: Rehearsal
) -> None:
    assert sum(step.seconds for step in rehearsal.steps) < 240
