"""The embedded emulator: the whole pipeline on moto, in this process, with no AWS account.

`EmbeddedAWS` creates what the deployed stack creates: the bucket, tables and queues are read
from `infra/stack.yaml` (`cloudformation.Provisioning`), the state machine is rendered from the
one definition. It links the bucket's notifications to the app's `on_s3_event`
handler through an SQS queue (moto delivers S3 notifications in-process to SQS, not to Lambda),
and runs the app's Lambda functions in-process. The product's code never imports this package.

How each function is triggered, here and on AWS:
- `on_sqs_message` functions (the DLQ reviewer): an `SqsEventSourceMapping` per function, as
  Lambda's event source mapping. With `poll_dead_letters` it polls from a thread between
  `start()` and `stop()`, so the reviewer works while the pipeline runs; `settle()` waits until
  the queue is empty (and polls in the caller's thread when nothing polls in the background).
- `on_s3_event` and `on_cw_event` functions: AWS invokes them asynchronously from the bucket's
  notification or the EventBridge rule. moto's Lambda targets need Docker, so here both land in
  SQS queues and `deliver_s3_events` / `deliver_app_events` hand what waits to the function.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
from chalice.app import CloudWatchEventConfig, SQSEventConfig

from chalicelib import aws, metrics, wiring
from chalicelib.dynamo import plain_item
from chalicelib.pipeline import definition
from chalicelib.pipeline import events as completion
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.trigger import execution_arn, source_for
from chalicelib.senders import SenderRegistry
from chalicelib.settings import Settings, get_settings
from orderflow_cli.emulator.cloudformation import (
    TEMPLATE_PATH,
    Provisioning,
    StackParameters,
    load_template,
    stage_names,
)
from orderflow_cli.emulator.event_sources import SqsEventSourceMapping
from orderflow_cli.emulator.lambdas import CallRecorder, InProcessLambda, app_functions
from orderflow_cli.emulator.moto_patches import (
    patch_backend_lookup_lock,
    patch_distributed_map_loop,
    patch_dynamodb_atomic_writes,
    patch_dynamodb_item_size,
    patch_dynamodb_query_by_partition,
    patch_s3_atomic_puts,
    patch_s3_event_version_ids,
    patch_s3_url_reload,
    patch_sfn_atomic_starts,
    patch_sqs_receive_depth,
    patch_sqs_send_depth,
)
from orderflow_cli.emulator.post_policy import patch_s3_post_policies
from orderflow_cli.emulator.weather import Weather, set_weather
from orderflow_cli.stage import REGION, stage_environment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# The DLQ's redrive policy, as deployed.
DLQ_MAX_RECEIVES = int(
    load_template()["Resources"]["DeadLetterQueue"]["Properties"]["RedrivePolicy"][
        "maxReceiveCount"
    ]
)
ACCOUNT = "123456789012"
# The sender of files `orders run` and the tests upload without naming one, and of the demo key
# `orders serve` prints: an installation with one sender never has to name it.
DEFAULT_SENDER = "demo"
APP_NAME = "orderflow"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class Execution:
    batch_id: str
    status: str  # the execution's: SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    seconds: float
    error: str | None


# How many Map items run at once locally. The functions are threads of one interpreter, so
# more than one at a time only overlaps their waits (a retry's backoff) and makes them queue
# for the interpreter's lock: one at a time was the fastest of 1, 2 and 4 (bench, 6,000 orders).
MAP_CONCURRENCY = 1
# How long a thread keeps the interpreter's lock while others wait for it (CPython: 5 ms). The
# emulator's threads are busy Lambda functions: at 5 ms, on two cores, they hand the lock back
# and forth between cores and each request costs about a third more CPU (measured, 4 threads);
# at 50 ms a thread that waits on I/O (the local API server) may wait that long for its turn.
SWITCH_INTERVAL = 0.05
# The functions' CloudWatch metrics (EMF lines, `chalicelib.metrics`) are kept in memory, the
# newest this many: on Lambda they go to the function's log; here stdout is the CLI's own.
METRIC_LINES_KEPT = 10_000  # about 4 MB at most


class EmbeddedAWS:
    """Start with `with EmbeddedAWS() as local:`; every AWS call of the process is emulated."""

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        stage: str = "local",
        map_concurrency: int = MAP_CONCURRENCY,
        poll_dead_letters: bool = False,
        stack_template: Path = TEMPLATE_PATH,
        weather: Weather | None = None,
    ) -> None:
        self.stage = stage
        # AWS's throttles and latency (weather.py); None: ORDERFLOW_WEATHER's, else calm
        self.weather = weather
        self.stack_template = stack_template
        self._redrive_queue = ""
        self.map_concurrency = map_concurrency
        self.poll_dead_letters = poll_dead_letters
        self._overrides = dict(overrides or {})
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_switch_interval = sys.getswitchinterval()
        self.lambdas: InProcessLambda | None = None
        self.app: ModuleType | None = None
        self._app_event_queues: dict[str, str] = {}
        self.event_source_mappings: dict[str, SqsEventSourceMapping] = {}  # by function
        # Held by each delivery of an event source mapping and by the local server's delivery
        # of S3 and EventBridge events: one delivery at a time. API requests do not take it
        # (they run at once, as on API Gateway; moto_patches keeps moto's state consistent).
        self.turns = threading.Lock()
        self.recorder = CallRecorder()
        self.metric_lines: deque[str] = deque(maxlen=METRIC_LINES_KEPT)
        self._saved_metrics_output: metrics.Output | None = None

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedAWS:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        environment = {**_FAKE_CREDENTIALS, **stage_environment(self.stage), **self._overrides}
        if "ORDERFLOW_LOG_LEVEL" in os.environ:  # `ORDERFLOW_LOG_LEVEL=INFO orders run ...`
            environment["LOG_LEVEL"] = os.environ["ORDERFLOW_LOG_LEVEL"]
        for name, value in environment.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        get_settings.cache_clear()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        patch_sqs_send_depth()
        patch_sqs_receive_depth()
        patch_s3_event_version_ids()
        patch_dynamodb_atomic_writes()
        patch_dynamodb_item_size()
        patch_dynamodb_query_by_partition()
        patch_s3_atomic_puts()
        patch_s3_url_reload()
        patch_sfn_atomic_starts()
        patch_backend_lookup_lock()
        patch_distributed_map_loop()
        patch_s3_post_policies()  # S3's checks of a presigned POST (emulator/post_policy.py)
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", self.recorder)
        aws.reset()
        wiring.scoped_reads.cache_clear()  # its clients belong to the emulator that made them
        self._saved_metrics_output = metrics.set_output(self.metric_lines.append)
        self.app = importlib.import_module("app")
        self._create_resources(get_settings())
        self.lambdas = InProcessLambda(app_functions(self.app), f"{APP_NAME}-{self.stage}-")
        self.lambdas.install()
        self._map_queues_to_functions()
        # AWS's weather from here on: the stack is provisioned in calm, as a deploy finishes
        if self.weather is None:
            self.weather = Weather.from_environment(dict(os.environ))
        set_weather(self.weather)
        if self.poll_dead_letters:
            self.dead_letters.enable()

    def stop(self) -> None:
        if self._mock is not None:
            self._wait_for_running_executions()
            for mapping in self.event_source_mappings.values():
                mapping.disable()  # before the mock goes: no call may reach a real endpoint
            self._mock.stop()
            self._mock = None
            set_weather(None)
            sys.setswitchinterval(self._saved_switch_interval)
        if self._saved_metrics_output is not None:
            metrics.set_output(self._saved_metrics_output)
            self._saved_metrics_output = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        get_settings.cache_clear()
        aws.reset()

    # -- clients ----------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def s3(self) -> S3Client:
        return aws.s3()

    @property
    def dynamodb(self) -> DynamoDBClient:
        return aws.dynamodb()

    @property
    def sqs(self) -> SQSClient:
        return aws.sqs()

    @property
    def sfn(self) -> SFNClient:
        return aws.sfn()

    @property
    def events_queue_url(self) -> str:
        return self.sqs.get_queue_url(QueueName=f"{APP_NAME}-{self.stage}-s3-events")["QueueUrl"]

    # -- the stack --------------------------------------------------------------------------
    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{APP_NAME}-{self.stage}-{name}"

    def substitutions(self) -> dict[str, str]:
        """What the deployed stack fills into the definition, with this stack's names."""
        return {
            "PrepareFileFunctionArn": self.function_arn("PrepareFile"),
            "ValidateOrderFunctionArn": self.function_arn("ValidateOrder"),
            "RecordBatchFunctionArn": self.function_arn("RecordBatch"),
            "WorkPrefix": self.settings.work_prefix,
            "BucketName": self.settings.bucket,
        }

    def provisioning(self) -> Provisioning:
        """The buckets, tables and queues of the stack (`stack_template`), named for this stage:
        what the app finds by a setting has the stage's name (`NAMED_BY_SETTING`), the rest the
        stack's own name for the stage."""
        parameters = StackParameters(stage=self.stage, account=ACCOUNT, region=REGION)
        names = stage_names(self.settings.model_dump(by_alias=True))
        return Provisioning.from_template(load_template(self.stack_template), parameters, names)

    def _create_resources(self, settings: Settings) -> None:
        stack = self.provisioning()
        for bucket in stack.buckets:
            self.s3.create_bucket(Bucket=bucket.name)
            # As deployed: every upload is a new version, so the same file sent again is a new
            # batch while a repeated event for one version is not.
            if bucket.versioned:
                self.s3.put_bucket_versioning(
                    Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
                )
        for table in stack.tables:
            self.dynamodb.create_table(**table.definition)
        for queue in stack.queues:  # a redrive target before the queue that names it
            self.sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)
        dead_letters = stack.queue("DeadLetterQueue").attributes["RedrivePolicy"]
        self._redrive_queue = json.loads(dead_letters)["deadLetterTargetArn"].rsplit(":", 1)[-1]
        events_url = self.sqs.create_queue(QueueName=f"{APP_NAME}-{self.stage}-s3-events")[
            "QueueUrl"
        ]
        events_arn = self._queue_arn(events_url)
        self.s3.put_bucket_notification_configuration(
            Bucket=settings.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": events_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "prefix", "Value": settings.incoming_prefix}
                                ]
                            }
                        },
                    }
                ]
            },
        )
        self._route_completion_events()
        self._route_app_events()
        aws.ssm().put_parameter(
            Name=settings.callback_secret_parameter,
            Value="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            Type="SecureString",
            Overwrite=True,
        )
        wiring.callback_secrets.cache_clear()
        aws.ssm().put_parameter(
            Name=settings.idempotency_secret_parameter,
            Value=secrets.token_urlsafe(48),
            Type="SecureString",
            Overwrite=True,
        )
        wiring.idempotency_key.cache_clear()
        name = settings.state_machine_arn.rsplit(":", 1)[-1]
        rendered = definition.render(self.substitutions())
        self.sfn.create_state_machine(
            name=name,
            definition=definition.for_emulator(rendered, self.map_concurrency),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{APP_NAME}-{self.stage}-ingest",
            type="STANDARD",
        )

    @property
    def redrive_queue_url(self) -> str:
        """The queue the DLQ's redrive policy names (infra/stack.yaml)."""
        return self.sqs.get_queue_url(QueueName=self._redrive_queue)["QueueUrl"]

    def drain_redrive_queue(self) -> list[str]:
        """Every message waiting in the DLQ's redrive queue (received and deleted), as sent: a
        poison message need not be JSON."""
        return self._drain(self.redrive_queue_url)

    # -- Lambda's triggers ------------------------------------------------------------------
    def _map_queues_to_functions(self) -> None:
        """An event source mapping for each `on_sqs_message` function, as Chalice deploys it.
        The app names the DLQ from `DLQ_URL` when it is first imported, which in this process
        may have been under another stage: the reviewer's queue is this stage's DLQ."""
        assert self.app is not None
        assert self.lambdas is not None
        this_stage = {"ReviewDeadLetters": self.settings.dlq_url}
        for config in self.app.app.event_sources:
            if isinstance(config, SQSEventConfig) and config.queue:
                url = (
                    this_stage.get(config.name)
                    or self.sqs.get_queue_url(QueueName=config.queue)["QueueUrl"]
                )
                self.event_source_mappings[config.name] = SqsEventSourceMapping(
                    self.sqs,
                    url,
                    self._queue_arn(url),
                    config.name,
                    self.lambdas.call,
                    batch_size=config.batch_size,
                    turns=self.turns,
                )

    @property
    def dead_letters(self) -> SqsEventSourceMapping:
        """The DLQ's event source mapping: the reviewer (`ReviewDeadLetters`) is its function."""
        return self.event_source_mappings["ReviewDeadLetters"]

    @property
    def dlq_received(self) -> dict[str, str]:
        """Every message the DLQ delivered to the reviewer, by message id."""
        return self.dead_letters.received

    @property
    def completions_queue_url(self) -> str:
        name = f"{APP_NAME}-{self.stage}-completions"
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def _route_completion_events(self) -> None:
        """A rule for the completion events with an SQS target, as a user would add one."""
        self._rule_to_queue(f"{APP_NAME}-{self.stage}-completions", completion.PATTERN)

    def _route_app_events(self) -> None:
        """A rule and queue per `on_cw_event` handler of the app: what Chalice's rule with a
        Lambda target does on AWS (moto's Lambda targets need Docker)."""
        assert self.app is not None
        for config in self.app.app.event_sources:
            if isinstance(config, CloudWatchEventConfig):
                name = f"{APP_NAME}-{self.stage}-{config.name}"
                self._app_event_queues[config.name] = self._rule_to_queue(
                    name, config.event_pattern
                )

    def _rule_to_queue(self, name: str, pattern: Mapping[str, Any]) -> str:
        """An EventBridge rule on the default bus whose target is a new queue of the same
        name; returns the queue's URL."""
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        aws.events().put_rule(Name=name, EventPattern=json.dumps(pattern))
        aws.events().put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": self._queue_arn(url)}])
        return url

    def _queue_arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def deliver_app_events(self) -> int:
        """Hands every waiting EventBridge event to the app's handler for it; returns how many."""
        assert self.lambdas is not None
        delivered = 0
        for name, event in self.take_app_events():
            self.lambdas.call(name, event)
            delivered += 1
        return delivered

    def take_app_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every waiting EventBridge event (received and deleted), with the function it is for,
        for a caller that delivers them itself (the local server: each in its own thread)."""
        taken: list[tuple[str, dict[str, Any]]] = []
        for name, url in self._app_event_queues.items():
            for body in self._drain(url):
                event = json.loads(body)
                event.setdefault("account", ACCOUNT)  # moto's events omit it; AWS's carry it
                taken.append((name, event))
        return taken

    def completion_events(self) -> list[dict[str, Any]]:
        """Every completion event the rule delivered so far (received and deleted)."""
        return [json.loads(body) for body in self._drain(self.completions_queue_url)]

    # -- driving it -------------------------------------------------------------------------
    def senders(self) -> SenderRegistry:
        return SenderRegistry(self.dynamodb, self.settings.senders_table)

    def ensure_sender(self, sender_id: str = DEFAULT_SENDER) -> None:
        """Registers the sender unless it is there (its key is not needed: files come by S3)."""
        registry = self.senders()
        if registry.get(sender_id) is None:
            registry.add(sender_id, f"Sender {sender_id}")

    def sender_key(self, name: str, sender: str = DEFAULT_SENDER) -> str:
        """Where a file named `name` is uploaded for the sender: its incoming folder."""
        return f"{self.settings.incoming_prefix}{sender}/{name}"

    def upload(self, path: Path, key: str | None = None, *, sender: str = DEFAULT_SENDER) -> str:
        """Uploads the file into the sender's folder (registered first, if it is not), or to
        `key` as given (nothing registered: a test of keys outside any sender's folder)."""
        if key is None:
            self.ensure_sender(sender)
            key = self.sender_key(path.name, sender)
        with path.open("rb") as body:
            self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=body)
        return key

    def deliver_s3_events(self) -> list[tuple[str, str]]:
        """Hands every waiting S3 notification to the app's handler, as Lambda would.

        Returns `(key, batch_id)` for each object it was told about, in order.
        """
        assert self.app is not None
        started: list[tuple[str, str]] = []
        url = self.events_queue_url
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return started
            for message in messages:
                event = json.loads(message["Body"])
                for record in event.get("Records", []):
                    obj = record["s3"]["object"]
                    key = unquote_plus(obj["key"])
                    source = source_for(  # the handler's own naming of the object
                        record["s3"]["bucket"]["name"],
                        key,
                        obj.get("versionId"),
                        obj.get("eTag"),
                        incoming_prefix=self.settings.incoming_prefix,
                        senders=self.senders(),
                        batches=self.batches(),
                    )
                    started.append((key, source.batch_id))
                    single = {**event, "Records": [record]}
                    assert self.lambdas is not None
                    self.lambdas.call("on_file_uploaded", single)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def execution_arn(self, batch_id: str) -> str:
        return execution_arn(self.settings.state_machine_arn, batch_id)

    def poll(self, batch_id: str) -> Execution | None:
        """The batch's execution once it has ended, else None."""
        described = self.sfn.describe_execution(executionArn=self.execution_arn(batch_id))
        if described["status"] == "RUNNING":
            return None
        stop = described.get("stopDate")
        seconds = (stop - described["startDate"]).total_seconds() if stop else 0.0
        error = described.get("error")
        if error:
            error = f"{error}: {described.get('cause', '')}".strip()
        return Execution(batch_id, described["status"], seconds, error)

    def wait(self, batch_id: str, timeout: float = 3600, poll: float = 0.05) -> Execution:
        """Waits for the batch's execution to end."""
        deadline = time.monotonic() + timeout
        while (execution := self.poll(batch_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still running after {timeout} s")
            time.sleep(poll)
        return execution

    def batches(self) -> BatchRecords:
        return BatchRecords(self.dynamodb, self.settings.batches_table)

    def item_count(self, table: str) -> int:
        """How many items the table holds now. moto counts them when asked (AWS refreshes
        `ItemCount` about every six hours): the emulator's own count, without a scan, which
        moto pages in time quadratic in the table (each page walks from the first item to its
        `ExclusiveStartKey`)."""
        return int(self.dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])

    def scan_table(self, table: str) -> Iterator[dict[str, Any]]:
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
            yield from (plain_item(item) for item in page["Items"])

    def drain_dlq(self) -> list[dict[str, Any]]:
        """Every message waiting in the DLQ (received and deleted), as parsed bodies."""
        return [json.loads(body) for body in self._drain(self.settings.dlq_url)]

    def _drain(self, url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            bodies += [message["Body"] for message in messages]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def _wait_for_running_executions(self) -> None:
        try:
            arn = self.settings.state_machine_arn
            running = self.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
            for execution in running.get("executions", []):
                self.wait(execution["name"], timeout=60)
        except Exception:  # noqa: BLE001, S110 - best effort while shutting down
            pass
