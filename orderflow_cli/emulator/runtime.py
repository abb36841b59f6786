"""The embedded emulator: the whole pipeline on moto, in this process, with no AWS account.

`EmbeddedAWS` creates what the deployed stack creates, all of it read from `infra/stack.yaml`
(`cloudformation.Provisioning`, created by `provision`): the bucket, tables, queues, secrets and
the state machine, its definition rendered with the stack's own substitutions. What invokes each
function is read from the app's decorators (`triggers`): the bucket's notification, the
EventBridge rules, the queues' event source mappings. It runs the app's Lambda functions
in-process (`lambdas`). The product's code never imports this package; the helpers only tests
use are in `tests/driver.py`.

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

import importlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3

from chalicelib import aws, metrics, wiring
from chalicelib.dynamo import plain_item
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.naming import sender_file_key
from chalicelib.pipeline.trigger import execution_arn, source_for
from chalicelib.senders import SenderRegistry
from chalicelib.settings import Settings, get_settings
from orderflow_cli.emulator import moto_patches, provision, triggers
from orderflow_cli.emulator.cloudformation import TEMPLATE_PATH, Provisioning, load_template
from orderflow_cli.emulator.event_sources import SqsEventSourceMapping
from orderflow_cli.emulator.lambdas import CallRecorder, InProcessLambda, app_functions
from orderflow_cli.emulator.post_policy import patch_s3_post_policies
from orderflow_cli.emulator.weather import Weather, set_weather
from orderflow_cli.stage import REGION, stage_environment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

_DLQ = load_template()["Resources"]["DeadLetterQueue"]["Properties"]
DLQ_MAX_RECEIVES = int(_DLQ["RedrivePolicy"]["maxReceiveCount"])  # its redrive policy's
ACCOUNT = "123456789012"  # moto's default account
# The sender of files `orders run` and the tests upload without naming one, and of the demo key
# `orders serve` prints: an installation with one sender never has to name it.
DEFAULT_SENDER = "demo"
_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_FAKE_CREDENTIALS = {**dict.fromkeys(_KEYS, "testing"), "AWS_DEFAULT_REGION": REGION}


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
        self._s3_events_queue = ""
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
        moto_patches.apply_all()
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
        self._create_resources()
        self.lambdas = InProcessLambda(app_functions(self.app), self.function_prefix)
        self.lambdas.install()
        self.event_source_mappings = triggers.sqs_mappings(
            self.app.app,
            self.lambdas.call,
            self.turns,
            {"ReviewDeadLetters": self.settings.dlq_url},  # this stage's DLQ (triggers.py)
        )
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
        """The queue the bucket's notifications go to (triggers.py)."""
        return self._s3_events_queue

    # -- the stack --------------------------------------------------------------------------
    @property
    def function_prefix(self) -> str:
        """What Chalice puts before a function's name when it deploys it: `<app>-<stage>-`."""
        assert self.app is not None
        return f"{self.app.app.app_name}-{self.stage}-"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_prefix}{name}"

    def provisioning(self) -> Provisioning:
        """Everything the stack (`stack_template`) creates, named for this stage."""
        environment = self.settings.model_dump(by_alias=True)
        return Provisioning.for_stage(
            self.stage, environment, account=ACCOUNT, region=REGION, template=self.stack_template
        )

    def _create_resources(self) -> None:
        assert self.app is not None
        stack = self.provisioning()
        provision.create(stack, self.map_concurrency)
        wiring.callback_secrets.cache_clear()  # the secrets are this emulator's
        wiring.idempotency_key.cache_clear()
        wiring.link_key.cache_clear()
        dead_letters = stack.queue("DeadLetterQueue").attributes["RedrivePolicy"]
        self._redrive_queue = json.loads(dead_letters)["deadLetterTargetArn"].rsplit(":", 1)[-1]
        self._s3_events_queue = triggers.notify_s3_events(
            self.app.app, self.settings.bucket, f"{self.function_prefix}s3-events"
        )
        self._app_event_queues = triggers.route_app_events(self.app.app, self.function_prefix)

    @property
    def redrive_queue_url(self) -> str:
        """The queue the DLQ's redrive policy names (infra/stack.yaml)."""
        return self.sqs.get_queue_url(QueueName=self._redrive_queue)["QueueUrl"]

    def drain_redrive_queue(self) -> list[str]:
        """Every message waiting in the DLQ's redrive queue (received and deleted), as sent: a
        poison message need not be JSON."""
        return triggers.drain(self.redrive_queue_url)

    # -- Lambda's triggers ------------------------------------------------------------------
    @property
    def dead_letters(self) -> SqsEventSourceMapping:
        """The DLQ's event source mapping: the reviewer (`ReviewDeadLetters`) is its function."""
        return self.event_source_mappings["ReviewDeadLetters"]

    @property
    def dlq_received(self) -> dict[str, str]:
        """Every message the DLQ delivered to the reviewer, by message id."""
        return self.dead_letters.received

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
            for body in triggers.drain(url):
                event = json.loads(body)
                event.setdefault("account", ACCOUNT)  # moto's events omit it; AWS's carry it
                taken.append((name, event))
        return taken

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
        return sender_file_key(self.settings.incoming_prefix, sender, name)

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
        started: list[tuple[str, str]] = []

        def hand_over(function: str, key: str, event: dict[str, Any]) -> None:
            obj = event["Records"][0]["s3"]["object"]
            source = source_for(  # the handler's own naming of the object
                event["Records"][0]["s3"]["bucket"]["name"],
                key,
                obj.get("versionId"),
                obj.get("eTag"),
                incoming_prefix=self.settings.incoming_prefix,
                senders=self.senders(),
                batches=self.batches(),
            )
            started.append((key, source.batch_id))
            assert self.lambdas is not None
            self.lambdas.call(function, event)

        triggers.deliver_s3_events(self.events_queue_url, hand_over)
        return started

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

    def drain_dlq_bodies(self) -> list[str]:
        """Every message waiting in the DLQ (received and deleted), as its body."""
        return triggers.drain(self.settings.dlq_url)

    def drain_dlq(self) -> list[dict[str, Any]]:
        """Every message waiting in the DLQ (received and deleted), as parsed bodies."""
        return [json.loads(body) for body in self.drain_dlq_bodies()]

    def _wait_for_running_executions(self) -> None:
        try:
            arn = self.settings.state_machine_arn
            running = self.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
            for execution in running.get("executions", []):
                self.wait(execution["name"], timeout=60)
        except Exception:  # noqa: BLE001, S110 - best effort while shutting down
            pass
