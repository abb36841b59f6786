"""The stack's alarms and dashboard (infra/stack.yaml), checked offline: cfn-lint is clean;
every alarm watches a resource the stack or Chalice creates, with the threshold written down
here from CloudWatch's recommended alarms, and notifies the alarm topic; the dashboard graphs
metrics the functions emit and shows every alarm."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib import metrics
from infra import policies
from orderflow_cli.emulator.cloudformation import Resolver, StackParameters, load_template
from tests.conftest import REPO

TEMPLATE = REPO / "infra" / "stack.yaml"
CONFIG = json.loads((REPO / ".chalice" / "config.json").read_text())

# What each kind of alarm is: namespace, metrics, statistic, period (s), evaluation periods,
# datapoints to alarm, threshold, comparison. From CloudWatch's recommended alarms (Lambda
# Errors 3 of 3 and Throttles 5 of 5 above 0; Step Functions ExecutionsFailed and
# ExecutionsTimedOut above 0 at once; SQS age and depth 15 of 15, at or above a threshold of
# our own; API Gateway 5XXError on average above 0.05; DynamoDB throttle events 5 of 5).
KINDS: dict[str, tuple[Any, ...]] = {
    "function errors": ("AWS/Lambda", ("Errors",), "Sum", 60, 3, 3, 0, "GreaterThanThreshold"),
    "function throttles": ("AWS/Lambda", ("Throttles",), "Sum", 60, 5, 5, 0,
                           "GreaterThanThreshold"),
    "executions failed": ("AWS/States", ("ExecutionsFailed",), "Sum", 60, 1, 1, 0,
                          "GreaterThanThreshold"),
    "executions timed out": ("AWS/States", ("ExecutionsTimedOut",), "Sum", 60, 1, 1, 0,
                             "GreaterThanThreshold"),
    # 1.5 times the DLQ's 720 s visibility timeout (asserted below)
    "dlq oldest message": ("AWS/SQS", ("ApproximateAgeOfOldestMessage",), "Maximum", 60, 15, 15,
                           1080, "GreaterThanOrEqualToThreshold"),
    "dlq depth": ("AWS/SQS", ("ApproximateNumberOfMessagesVisible",), "Maximum", 60, 15, 15,
                  1000, "GreaterThanOrEqualToThreshold"),
    "redrive queue not empty": ("AWS/SQS", ("ApproximateNumberOfMessagesVisible",), "Maximum",
                                60, 1, 1, 0, "GreaterThanThreshold"),
    "table throttles": ("AWS/DynamoDB", ("ReadThrottleEvents", "WriteThrottleEvents"), "Sum",
                        60, 5, 5, 0, "GreaterThanThreshold"),
    "api 5xx": ("AWS/ApiGateway", ("5XXError",), "Average", 60, 3, 3, 0.05,
                "GreaterThanThreshold"),
}  # fmt: skip

# The dimension each resource is named by, and the type of resource it must name.
_REFERENCED_TYPE = {
    "QueueName": "AWS::SQS::Queue",
    "TableName": "AWS::DynamoDB::Table",
    "StateMachineArn": "AWS::StepFunctions::StateMachine",
}


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _of_type(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in stack["Resources"].items() if r["Type"] == kind}


def chalice_function_names(stage: str) -> set[str]:
    """The names Chalice gives the stage's functions: the API handler `<app>-<stage>`, every
    other function `<app>-<stage>-<name>` (chalice/deploy/appgraph.py)."""
    app = CONFIG["app_name"]
    return {
        f"{app}-{stage}" if name == "api_handler" else f"{app}-{stage}-{name}"
        for name in CONFIG["stages"][stage]["lambda_functions"]
    }


def _target(
    stack: dict[str, Any], resolver: Resolver, dimensions: list[dict[str, Any]]
) -> tuple[str, ...]:
    """The resolved dimension values; a Ref or GetAtt must name a resource of the right type."""
    values = []
    for dimension in dimensions:
        raw = dimension["Value"]
        reference = raw if isinstance(raw, dict) else {}
        referenced = reference.get("Ref") or (reference.get("Fn::GetAtt") or [None])[0]
        expected = _REFERENCED_TYPE.get(dimension["Name"])
        if expected is not None:
            assert referenced in stack["Resources"], dimension
            assert stack["Resources"][referenced]["Type"] == expected, dimension
        values.append(str(resolver.resolve(raw)))
    return tuple(values)


def describe(
    stack: dict[str, Any], resolver: Resolver, properties: dict[str, Any]
) -> tuple[Any, ...]:
    """(namespace, metrics, statistic, period, evaluation periods, datapoints, threshold,
    comparison) and the resource watched, from an alarm's properties."""
    common = (
        properties["EvaluationPeriods"],
        properties["DatapointsToAlarm"],
        properties["Threshold"],
        properties["ComparisonOperator"],
    )
    if "Metrics" not in properties:
        target = _target(stack, resolver, properties["Dimensions"])
        kind = (properties["Namespace"], (properties["MetricName"],), properties["Statistic"],
                properties["Period"])  # fmt: skip
        return (*kind, *common), target
    # metric math: the sum of its metrics, each of the same resource
    queries = [q for q in properties["Metrics"] if "MetricStat" in q]
    stats = [q["MetricStat"] for q in queries]
    (expression,) = [q for q in properties["Metrics"] if "Expression" in q]
    assert expression["ReturnData"] is True
    assert all(q.get("ReturnData") is False for q in queries)
    assert expression["Expression"] == " + ".join(f"FILL({q['Id']}, 0)" for q in queries)
    (namespace,) = {s["Metric"]["Namespace"] for s in stats}
    ((statistic, period),) = {(s["Stat"], s["Period"]) for s in stats}
    (target,) = {_target(stack, resolver, s["Metric"]["Dimensions"]) for s in stats}
    names = tuple(s["Metric"]["MetricName"] for s in stats)
    return (namespace, names, statistic, period, *common), target


@pytest.mark.parametrize("stage", policies.STAGES)
def test_every_alarm_watches_what_it_should_with_the_recommended_threshold(
    stack: dict[str, Any], stage: str
) -> None:
    resolver = Resolver(stack, StackParameters(stage, "123456789012", "us-east-1"))
    found = {
        describe(stack, resolver, alarm["Properties"])
        for alarm in _of_type(stack, "AWS::CloudWatch::Alarm").values()
    }

    machine = resolver.resolve({"Ref": "IngestStateMachine"})
    expected = {
        *((KINDS["function errors"], (f,)) for f in chalice_function_names(stage)),
        *((KINDS["function throttles"], (f,)) for f in chalice_function_names(stage)),
        *((KINDS["table throttles"], (resolver.name(t),))
          for t in _of_type(stack, "AWS::DynamoDB::Table")),
        (KINDS["dlq oldest message"], (f"orderflow-{stage}-dlq",)),
        (KINDS["dlq depth"], (f"orderflow-{stage}-dlq",)),
        (KINDS["redrive queue not empty"], (f"orderflow-{stage}-dlq-redrive",)),
        (KINDS["executions failed"], (machine,)),
        (KINDS["executions timed out"], (machine,)),
        # Chalice names the REST API after the app and deploys it to api_gateway_stage
        (KINDS["api 5xx"], (CONFIG["app_name"], CONFIG["stages"][stage]["api_gateway_stage"])),
    }  # fmt: skip
    assert found == expected
    assert len(chalice_function_names(stage)) == 8
    assert machine == f"arn:aws:states:us-east-1:123456789012:stateMachine:orderflow-{stage}-ingest"


def test_the_dlq_age_threshold_is_one_and_a_half_visibility_timeouts(
    stack: dict[str, Any],
) -> None:
    visibility = stack["Resources"]["DeadLetterQueue"]["Properties"]["VisibilityTimeout"]
    assert KINDS["dlq oldest message"][6] == 1.5 * visibility


def test_every_alarm_notifies_the_alarm_topic_and_an_empty_queue_is_ok(
    stack: dict[str, Any],
) -> None:
    alarms = _of_type(stack, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 2 * 8 + 4 + 3 + 2 + 1
    (topic,) = _of_type(stack, "AWS::SNS::Topic")
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": topic}], logical_id
        assert properties["OKActions"] == [{"Ref": topic}], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id
        name = properties["AlarmName"]["Fn::Sub"]
        assert name.startswith("${AppName}-${Stage}-"), logical_id
    names = [a["Properties"]["AlarmName"]["Fn::Sub"] for a in alarms.values()]
    assert len(set(names)) == len(names)


def test_the_alarm_e_mail_is_a_parameter_subscribed_to_the_topic(stack: dict[str, Any]) -> None:
    parameter = stack["Parameters"]["AlarmEmail"]
    assert parameter["Type"] == "String"
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("ops@example.org")
    assert pattern.fullmatch("")  # deployable before anyone is on call
    assert not pattern.fullmatch("not an address")
    (subscription,) = _of_type(stack, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert stack["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


def _dashboard(stack: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = _of_type(stack, "AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    resolver = Resolver(stack, StackParameters("dev", "123456789012", "us-east-1"))

    def substitute(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable.endswith(".Arn") and variable[:-4] in stack["Resources"]:
            assert stack["Resources"][variable[:-4]]["Type"] == "AWS::CloudWatch::Alarm"
            return f"ALARM:{variable[:-4]}"
        return str(resolver.resolve({"Fn::Sub": "${" + variable + "}"}))

    body: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", substitute, text))
    return body


def test_the_dashboard_shows_the_flow_of_orders_rejections_the_dlq_and_every_alarm(
    stack: dict[str, Any],
) -> None:
    widgets = _dashboard(stack)["widgets"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    shown = {arn.removeprefix("ALARM:") for arn in alarm_widget["properties"]["alarms"]}
    assert shown == set(_of_type(stack, "AWS::CloudWatch::Alarm"))

    graphed: set[str] = set()  # the functions' own metrics the dashboard shows
    for widget in widgets:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str) and row[0] == metrics.NAMESPACE:
                graphed.add(row[1])
                assert row[2:4] == ["Stage", "dev"]
            elif isinstance(row[0], dict):
                found = re.search(r"\{orderflow,(\w+),Stage\} MetricName=\"(\w+)\" Stage=\"dev\"",
                                  row[0]["expression"])  # fmt: skip
                assert found, row
                graphed.add(found.group(2))
    names = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
    assert graphed <= names  # nothing graphed that no function emits
    flow = {"OrdersReceived", "OrdersStored", "OrdersRejected", "BatchDuration", "OrdersReviewed"}
    assert flow <= graphed
    titles = " ".join(w["properties"].get("title", "") for w in widgets)
    assert "Rejections by reason" in titles
    dlq_rows = [row for w in widgets for row in w["properties"].get("metrics", [])
                if row[0] == "AWS/SQS"]  # fmt: skip
    assert {row[3] for row in dlq_rows} == {"orderflow-dev-dlq", "orderflow-dev-dlq-redrive"}


def test_cfn_lint_is_clean_on_the_stack() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    # W3002: DefinitionS3Location is a local path on purpose (`aws cloudformation package`)
    done = subprocess.run(
        [str(cfn_lint), "--ignore-checks", "W3002", "--", str(TEMPLATE)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
