"""What invokes each of the app's functions, read from its Chalice decorators, the one place
that says it (as `chalice deploy` reads them): nothing here names a function, a prefix or an
event pattern of its own.

- `on_s3_event`: the bucket notification Chalice configures (the decorator's events and
  prefix/suffix filter, one configuration per function, its `Id` the function's name), with an
  SQS queue as its target: moto delivers S3 notifications in-process to SQS, not to Lambda
  (which needs Docker). `deliver_s3_events` hands each record to the function it is for.
- `on_cw_event`: an EventBridge rule per function, with the decorator's pattern, whose target is
  a queue of the rule's name (for the same reason); `rule_to_queue` is that routing.
- `on_sqs_message`: an `SqsEventSourceMapping` per function, with the decorator's batch size.

The app names its bucket and queue from its stage's settings when it is first imported, which
in one process may have been under another stage: here each trigger is attached to this stage's
bucket and dead-letter queue, by their settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from chalice.app import Chalice, CloudWatchEventConfig, S3EventConfig, SQSEventConfig

from chalicelib import aws
from orderflow_cli.emulator.event_sources import SqsEventSourceMapping

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import QueueConfigurationOutputTypeDef


def notify_s3_events(app: Chalice, bucket: str, queue_name: str) -> str:
    """The bucket's notifications for every `on_s3_event` function, to a new queue of that
    name; returns the queue's URL."""
    url = aws.sqs().create_queue(QueueName=queue_name)["QueueUrl"]
    configurations: list[QueueConfigurationOutputTypeDef] = []
    for config in app.event_sources:
        if isinstance(config, S3EventConfig):
            rules = [{"Name": n, "Value": v} for n, v in _filters(config) if v]
            configurations.append(
                {
                    "Id": config.name,
                    "QueueArn": queue_arn(url),
                    "Events": config.events,  # type: ignore[typeddict-item]
                    "Filter": {"Key": {"FilterRules": rules}},  # type: ignore[typeddict-item]
                }
            )
    aws.s3().put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": configurations},
    )
    return url


def _filters(config: S3EventConfig) -> list[tuple[str, str]]:
    return [("prefix", config.prefix), ("suffix", config.suffix)]


def deliver_s3_events(url: str, hand_over: Callable[[str, str, dict[str, Any]], None]) -> None:
    """Hands every waiting S3 notification over, one record at a time: `hand_over(function,
    key, event)`, with the function it is for, the object's key (decoded) and the event with
    that one record, as Lambda gives it. A message is deleted once all its records are handed
    over: one whose handler raised is received again, as Lambda retries an asynchronous event."""
    sqs = aws.sqs()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return
        for message in messages:
            event = json.loads(message["Body"])
            for record in event.get("Records", []):
                key = unquote_plus(record["s3"]["object"]["key"])
                hand_over(record["s3"]["configurationId"], key, {**event, "Records": [record]})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def route_app_events(app: Chalice, prefix: str) -> dict[str, str]:
    """A rule and a queue named `<prefix><function>` for each `on_cw_event` function: what
    Chalice's rule with a Lambda target does on AWS. Returns each function's queue URL."""
    return {
        config.name: rule_to_queue(prefix + config.name, config.event_pattern)
        for config in app.event_sources
        if isinstance(config, CloudWatchEventConfig)
    }


def sqs_mappings(
    app: Chalice,
    call: Callable[[str, Any], Any],
    turns: threading.Lock,
    this_stage: Mapping[str, str],
) -> dict[str, SqsEventSourceMapping]:
    """An event source mapping for each `on_sqs_message` function, as Chalice deploys it; the
    queue's URL is `this_stage[function]` when given, else the decorator's queue's."""
    mappings = {}
    for config in app.event_sources:
        if isinstance(config, SQSEventConfig) and config.queue:
            url = (
                this_stage.get(config.name)
                or aws.sqs().get_queue_url(QueueName=config.queue)["QueueUrl"]
            )
            mappings[config.name] = SqsEventSourceMapping(
                aws.sqs(),
                url,
                queue_arn(url),
                config.name,
                call,
                batch_size=config.batch_size,
                turns=turns,
            )
    return mappings


def rule_to_queue(name: str, pattern: Mapping[str, Any]) -> str:
    """An EventBridge rule on the default bus whose target is a new queue of the same name;
    returns the queue's URL."""
    url = aws.sqs().create_queue(QueueName=name)["QueueUrl"]
    aws.events().put_rule(Name=name, EventPattern=json.dumps(pattern))
    aws.events().put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn(url)}])
    return url


def queue_arn(url: str) -> str:
    attributes = aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def drain(url: str) -> list[str]:
    """Every message waiting in the queue (received and deleted), as sent."""
    sqs = aws.sqs()
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return bodies
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
