"""AWS's published limits and latencies, each with its source; the assumptions; the scenarios.

Every figure the model takes from AWS is a constant here with the page it was read on (checked
2026-12-07). What AWS does not publish is an assumption, named as such where it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- AWS's published limits and latencies (each checked on the page named, 2026-12-07) --------

# DynamoDB: one partition serves at most 1,000 write units a second (and 3,000 read units),
# adaptive capacity included.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html
PARTITION_WCU = 1_000.0
# DynamoDB on demand: "New on-demand tables will be able to sustain up to 4,000 writes per
# second and 12,000 reads per second"; more than twice the previous peak within 30 minutes
# may throttle (the model does not count on the table growing during a run).
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/pre-warming-on-demand-capacity-mode.html
NEW_ON_DEMAND_WCU = 4_000.0
# The default table-level quota of an on-demand table: 40,000 write request units a second.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html
TABLE_QUOTA_WCU = 40_000.0
# Warm throughput: what a table serves at once; CreateTable/UpdateTable `WarmThroughput`
# raises it ahead of a peak ("pre-warming"). The warmed scenario is the table quota itself.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html
WARM_WCU = TABLE_QUOTA_WCU
# A put's round trip: DynamoDB delivers "single-digit millisecond latency" (on-demand page
# above); 5 ms is the middle of that range (`--put-rtt-ms`).
PUT_RTT_SECONDS = 0.005
# Lambda: 1,000 concurrent executions per Region by default.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ACCOUNT_CONCURRENCY = 1_000
# Lambda scaling: each function gains at most 1,000 execution environments every 10 seconds.
# https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html
LAMBDA_SCALE_ENVIRONMENTS = 1_000
LAMBDA_SCALE_SECONDS = 10.0
# Lambda CPU: "At 1,769 MB, a function has the equivalent of one vCPU", in proportion below.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
LAMBDA_MB_PER_VCPU = 1_769
# Step Functions Distributed Map: at most 10,000 child executions at once (the default when
# MaxConcurrency is 0 or absent); at most 1,000 open Map Runs per account.
# https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
# https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
MAP_MAX_CHILDREN = 10_000
MAP_OPEN_RUNS = 1_000
# A rate for starting a Distributed Map's child workflow executions: none is published (the
# service-quotas page and the Distributed Map pages, searched 2026-12-07). The model assumes
# none: only MaxConcurrency and Lambda bound the children.
MAP_CHILD_START_RATE: float | None = None
# Express child workflows run at most 5 minutes.
# https://docs.aws.amazon.com/step-functions/latest/dg/express-limits.html
EXPRESS_MAX_SECONDS = 300.0
# S3: at least 3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD requests a second per
# partitioned prefix.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html
# https://repost.aws/knowledge-center/s3-object-key-naming-pattern
S3_PUT_PER_PREFIX = 3_500.0
S3_GET_PER_PREFIX = 5_500.0
# S3 latency: for requests under 512 KB "median latencies are often in the tens of
# milliseconds"; 30 ms is taken (`--s3-ms`).
# https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html
S3_REQUEST_SECONDS = 0.030
# S3 event notifications are "typically delivered in seconds but can sometimes take a minute
# or longer".
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/NotificationHowTo.html
S3_EVENT_SECONDS = 1.0
# SQS standard queues: "a nearly unlimited number of API calls per second" per action.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html
# EventBridge PutEvents: 10,000 transactions a second in us-east-1 (one event per batch here).
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
EVENTBRIDGE_PUT_EVENTS_PER_SECOND = 10_000.0

# -- Assumptions: nothing published was found; each is named where it is printed -----------------
SQS_REQUEST_SECONDS = 0.010  # a SendMessageBatch's round trip
S3_BYTES_PER_SECOND = 50e6  # one Lambda's transfer to or from S3, beyond the request latency
COLD_START_SECONDS = 1.0  # a Python function's first invocation in a new environment
CHILD_START_SECONDS = 0.1  # an Express child's start and its lambda:invoke, beyond Lambda
LAMBDA_CPU_SPEED = 1.0  # a Lambda vCPU against one core of the machine that measured the CPU

# -- The emulator's own parameters, for the check against the local run ------------------------
# `orderflow_cli.emulator.runtime.MAP_CONCURRENCY` (read at run time when it can be).
EMULATOR_MAP_CONCURRENCY = 1
# moto's interpreter: "about 1 s per 100 items of a Map ... with an instant Lambda"
# (/work/shared/notes/local-aws.md, "Speed").
EMULATOR_MAP_ITEM_SECONDS = 0.01

# -- The scenarios and the aims (the issue's) ----------------------------------------------------
SIZES = (100_000, 1_000_000)
SENDERS = (1, 10)
AIM_NEW_TABLE_SECONDS = 300.0  # one sender's 1,000,000 orders on a new on-demand table
AIM_WARM_TABLE_SECONDS = 60.0  # ... and on a table warmed to 40,000 writes/s
INVALID = 0.10  # the fraction of invalid orders of the generated files and of the cost model


@dataclass(frozen=True, slots=True)
class Platform:
    """AWS's figures (the defaults), or the emulator's for the check against the local run."""

    name: str = "AWS"
    put_rtt: float = PUT_RTT_SECONDS
    s3_request: float = S3_REQUEST_SECONDS
    s3_bytes_per_second: float = S3_BYTES_PER_SECOND
    sqs_request: float = SQS_REQUEST_SECONDS
    s3_event: float = S3_EVENT_SECONDS
    child_start: float = CHILD_START_SECONDS
    cold_start: float = COLD_START_SECONDS
    cpu_speed: float = LAMBDA_CPU_SPEED
    partition_wcu: float | None = PARTITION_WCU  # None: no partition limit (the emulator)
    account_concurrency: int = LAMBDA_ACCOUNT_CONCURRENCY
    scale_environments: int = LAMBDA_SCALE_ENVIRONMENTS
    scale_seconds: float = LAMBDA_SCALE_SECONDS
    map_max_children: int = MAP_MAX_CHILDREN

    def s3_seconds(self, size: float) -> float:
        return self.s3_request + max(0.0, size) / self.s3_bytes_per_second


@dataclass(frozen=True, slots=True)
class Scenario:
    orders: int
    senders: int
    table_wcu: float
    table: str  # "new on-demand" or "warmed to 40,000"

    @property
    def label(self) -> str:
        return f"{self.orders:,} x {self.senders}, {self.table}"


def scenarios() -> list[Scenario]:
    tables = (("new on-demand", NEW_ON_DEMAND_WCU), ("warm 40,000", WARM_WCU))
    return [
        Scenario(orders, senders, wcu, table)
        for orders in SIZES
        for table, wcu in tables
        for senders in SENDERS
    ]
