"""The IAM policy of each Lambda function, per stage: the one source of `.chalice/policy-*.json`.

    python infra/policies.py          # writes .chalice/policy-<stage>-<function>.json

Each function may call exactly the actions it needs, on its stage's resources only. Account
and region are wildcards (no account-specific value is written into a file); every resource
is named by the stage's prefix. tests/infra/test_policies.py runs the pipeline, the API, the
reviewer and the webhook on the emulator and fails when a function makes a call its policy
does not allow, or when these files are not what this script writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHALICE_DIR = Path(__file__).resolve().parents[1] / ".chalice"
STAGES = ("dev", "prod")
APP = "orderflow"

Statement = tuple[list[str], list[str]]


def _resources(stage: str) -> dict[str, str]:
    prefix = f"{APP}-{stage}"
    bucket = f"arn:aws:s3:::{prefix}-orders-*"
    table = f"arn:aws:dynamodb:*:*:table/{prefix}"
    return {
        "incoming": f"{bucket}/incoming/*",
        "api_incoming": f"{bucket}/incoming/*/api/*",  # incoming/<sender>/api/...
        "upload_incoming": f"{bucket}/incoming/*/uploads/*",
        "work": f"{bucket}/work/*",
        "quarantine": f"{bucket}/quarantine/*",
        "archive": f"{bucket}/archive/*",
        "orders": f"{table}-orders",
        "batches": f"{table}-batches",
        "reviews": f"{table}-reviews",
        "senders": f"{table}-senders",
        "dlq": f"arn:aws:sqs:*:*:{prefix}-dlq",
        "machine": f"arn:aws:states:*:*:stateMachine:{prefix}-ingest",
        "executions": f"arn:aws:states:*:*:execution:{prefix}-ingest:*",
        "bus": "arn:aws:events:*:*:event-bus/default",
        "secret": f"arn:aws:secretsmanager:*:*:secret:{prefix}-callback-secret-*",
        "secret_reference": (
            f"arn:aws:ssm:*:*:parameter/aws/reference/secretsmanager/{prefix}-callback-secret"
        ),
        "idempotency_secret": f"arn:aws:secretsmanager:*:*:secret:{prefix}-idempotency-secret-*",
        "idempotency_reference": (
            f"arn:aws:ssm:*:*:parameter/aws/reference/secretsmanager/{prefix}-idempotency-secret"
        ),
        "link_secret": f"arn:aws:secretsmanager:*:*:secret:{prefix}-link-secret-*",
        "link_reference": (
            f"arn:aws:ssm:*:*:parameter/aws/reference/secretsmanager/{prefix}-link-secret"
        ),
        "logs": f"arn:aws:logs:*:*:log-group:/aws/lambda/{prefix}-*",
        "api_reader": f"arn:aws:iam::*:role/{prefix}-api-reader",
    }


def statements(stage: str) -> dict[str, list[Statement]]:
    """Per function (Chalice's names): (actions, resources) pairs."""
    r = _resources(stage)
    # a dry run reads the order its put would meet (GetItem) instead of writing it
    store = (["dynamodb:PutItem", "dynamodb:GetItem"], [r["orders"]])
    progress = (["dynamodb:UpdateItem"], [r["batches"]])
    dead_letter = (["sqs:SendMessage"], [r["dlq"]])
    work = (["s3:GetObject", "s3:PutObject"], [r["work"]])
    return {
        "sender_key": [  # the API's authorizer
            (["dynamodb:GetItem"], [r["senders"]]),
            (["ssm:GetParameter"], [r["link_reference"]]),  # the key that signs upload links
            (["secretsmanager:GetSecretValue"], [r["link_secret"]]),
        ],
        "api_handler": [
            (["s3:PutObject", "s3:GetObject"], [r["api_incoming"]]),
            (["s3:PutObject"], [r["upload_incoming"]]),  # presigned POSTs are signed as us
            (["states:StartExecution"], [r["machine"]]),
            (["dynamodb:UpdateItem"], [r["batches"]]),  # a batch it promises
            # the caller's own profile (GET, PUT, DELETE /profile), by the caller's sender id
            (["dynamodb:GetItem", "dynamodb:UpdateItem"], [r["senders"]]),
            # every read (orders, batches, reviews, presigned reports) is made with the reader
            # role's credentials, held to the caller's sender (chalicelib/api/scope.py)
            (["sts:AssumeRole"], [r["api_reader"]]),
            (["ssm:GetParameter"], [r["idempotency_reference"]]),  # the key of seeded batch ids
            (["secretsmanager:GetSecretValue"], [r["idempotency_secret"]]),
        ],
        "on_file_uploaded": [
            (["dynamodb:GetItem"], [r["senders"]]),  # is the key's folder a sender's?
            (["dynamodb:GetItem"], [r["batches"]]),  # was the key's batch id promised to it?
            (["states:StartExecution"], [r["machine"]]),
            (["states:DescribeExecution"], [r["executions"]]),  # is it this object's?
            (["s3:GetObject", "s3:GetObjectVersion"], [r["incoming"]]),  # HeadObject by version
            (["s3:PutObject"], [r["quarantine"]]),  # a different second upload's report
        ],
        "PrepareFile": [
            # exactly the event's object: by version id (versioned) or ETag (unversioned)
            (
                [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                [r["incoming"]],
            ),
            (["s3:PutObject"], [r["work"], r["quarantine"]]),
            progress,
            (["dynamodb:GetItem"], [r["senders"]]),  # is the sender active?
        ],
        "ValidateOrder": [work, store, progress, dead_letter],
        "RecordBatch": [
            work,
            (["s3:AbortMultipartUpload"], [r["work"]]),  # a large report is sent in parts
            store,
            progress,
            (["dynamodb:GetItem"], [r["batches"]]),  # the start time, for BatchDuration
            dead_letter,
            (["events:PutEvents"], [r["bus"]]),
        ],
        "DeliverCallback": [
            (["dynamodb:GetItem", "dynamodb:UpdateItem"], [r["batches"]]),
            (["dynamodb:GetItem"], [r["senders"]]),  # the sender's webhook and secrets
            (["ssm:GetParameter"], [r["secret_reference"]]),
            (["secretsmanager:GetSecretValue"], [r["secret"]]),
        ],
        "ReviewDeadLetters": [
            (
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                [r["dlq"]],
            ),  # the event source mapping polls with the function's role
            (["dynamodb:GetItem", "dynamodb:PutItem"], [r["reviews"]]),
            store,
            (["s3:PutObject"], [r["archive"]]),
        ],
    }


# Active tracing (`"xray": true` in config.json): Lambda sends each invocation's segments
# with the function's role. X-Ray has no resource-level permissions, hence "*".
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def policy(stage: str, function: str) -> dict[str, Any]:
    logs = (
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [_resources(stage)["logs"]],
    )
    tracing = (XRAY_ACTIONS, ["*"])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources}
            for actions, resources in [*statements(stage)[function], logs, tracing]
        ],
    }


def file_name(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def render_all() -> dict[Path, str]:
    return {
        CHALICE_DIR / file_name(stage, function): json.dumps(policy(stage, function), indent=2)
        + "\n"
        for stage in STAGES
        for function in statements(stage)
    }


if __name__ == "__main__":
    for path, text in render_all().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(CHALICE_DIR.parent)}")
