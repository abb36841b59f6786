"""AWS list prices, in one place, and the cost receipt of a batch priced with them.

The benchmark's cost model (bench/) and each batch's receipt (`Requests`, `receipt`) use these
prices; nothing else holds one.

Source: the public AWS pricing pages for each service, region us-east-1 (N. Virginia),
on-demand, no free tier, as recorded on 2026-11-25:
  Step Functions  https://aws.amazon.com/step-functions/pricing/
  Lambda          https://aws.amazon.com/lambda/pricing/        (x86, first pricing tier)
  S3 Standard     https://aws.amazon.com/s3/pricing/
  DynamoDB        https://aws.amazon.com/dynamodb/pricing/on-demand/
  SQS             https://aws.amazon.com/sqs/pricing/           (standard queue, first tier)
  EventBridge     https://aws.amazon.com/eventbridge/pricing/   (custom events)
Check them again before quoting a figure to a customer: prices change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

PRICES_AS_OF = "2026-11-25"
REGION = "us-east-1"

SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000
SFN_EXPRESS_PER_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_PER_GB_SECOND = 0.00001667
SFN_EXPRESS_MIN_MEMORY_GB = 64 / 1024  # Express duration is billed in 64 MB steps
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
S3_PER_PUT = 0.005 / 1_000  # PUT, COPY, POST, LIST
S3_PER_GET = 0.0004 / 1_000  # GET and all other requests
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000
SQS_PER_REQUEST = 0.40 / 1_000_000  # each 64 KB chunk of a request's payload is one request
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000  # custom events put on a bus (64 KB each)

SQS_UNIT_BYTES = 64 * 1024  # one SQS request per 64 KB of a request's payload
DYNAMODB_WRITE_UNIT_BYTES = 1024  # one write unit per 1 KB of an item written
DEFAULT_LAMBDA_MEMORY_MB = 256  # .chalice/config.json lambda_memory_size, when a context lacks it


def sqs_units(payload_bytes: int) -> int:
    """The SQS requests one call is billed as: one per 64 KB of its payload, at least one."""
    return max(1, math.ceil(payload_bytes / SQS_UNIT_BYTES))


def write_units(item_bytes: int) -> int:
    """The DynamoDB write units of one item written: one per 1 KB, at least one."""
    return max(1, math.ceil(item_bytes / DYNAMODB_WRITE_UNIT_BYTES))


def lambda_gb_seconds(seconds: float, context: Any) -> float:
    """A function's measured run as GB-seconds, at the memory its context reports."""
    try:
        memory_mb = int(getattr(context, "memory_limit_in_mb", DEFAULT_LAMBDA_MEMORY_MB))
    except (TypeError, ValueError):
        memory_mb = DEFAULT_LAMBDA_MEMORY_MB
    return seconds * memory_mb / 1024


@dataclass(slots=True)
class Requests:
    """What a batch asked of each service, as AWS bills it: the requests metered where they
    are made (chalicelib.metering), the transitions counted from the definition
    (pipeline.transitions), each function's run (docs/pipeline.md, "A batch's cost receipt")."""

    s3_get: int = 0  # GET and HEAD
    s3_put: int = 0  # PUT and COPY (a DELETE is free)
    s3_list: int = 0
    dynamodb_write_units: int = 0
    dynamodb_read_units: int = 0
    sqs_requests: int = 0  # in 64 KB units
    eventbridge_events: int = 0
    sfn_state_transitions: int = 0  # the standard workflow's
    sfn_express_requests: int = 0  # one per chunk's Express child execution
    sfn_express_gb_seconds: float = 0.0
    lambda_invocations: int = 0
    lambda_gb_seconds: float = 0.0

    def add(self, other: Mapping[str, Any] | Requests | None) -> Requests:
        """Adds another count (a dict as stored in a chunk's outcome, unknown names ignored)."""
        if other is None:
            return self
        values = asdict(other) if isinstance(other, Requests) else other
        for spec in fields(self):
            value = values.get(spec.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(self, spec.name, getattr(self, spec.name) + value)
        return self

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for name in ("sfn_express_gb_seconds", "lambda_gb_seconds"):
            values[name] = round(values[name], 6)
        return values

    def cost_usd(self) -> dict[str, float]:
        """The modelled cost of these requests at list prices, by service and in total."""
        by_service = {
            "s3": (self.s3_put + self.s3_list) * S3_PER_PUT + self.s3_get * S3_PER_GET,
            "dynamodb": self.dynamodb_write_units * DYNAMODB_PER_WRITE_UNIT
            + self.dynamodb_read_units * DYNAMODB_PER_READ_UNIT,
            "sqs": self.sqs_requests * SQS_PER_REQUEST,
            "eventbridge": self.eventbridge_events * EVENTBRIDGE_PER_EVENT,
            "step_functions": self.sfn_state_transitions * SFN_STANDARD_PER_TRANSITION
            + self.sfn_express_requests * SFN_EXPRESS_PER_REQUEST
            + self.sfn_express_gb_seconds * SFN_EXPRESS_PER_GB_SECOND,
            "lambda": self.lambda_invocations * LAMBDA_PER_REQUEST
            + self.lambda_gb_seconds * LAMBDA_PER_GB_SECOND,
        }
        by_service["total"] = sum(by_service.values())
        return {name: round(value, 10) for name, value in by_service.items()}


def receipt(requests: Requests) -> dict[str, Any]:
    """A batch's cost receipt: its requests, their cost in US dollars, and whose prices. The
    cost is of the requests as reported (GB-seconds rounded to the microsecond), so anyone who
    prices the receipt's own counts gets its figures exactly."""
    reported = requests.to_dict()
    return {
        "requests": reported,
        "cost_usd": Requests().add(reported).cost_usd(),
        "prices": {"region": REGION, "as_of": PRICES_AS_OF, "on_demand": True},
    }
