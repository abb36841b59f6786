"""AWS list prices used by the cost model, in one place.

Source: the public AWS pricing pages for each service, region us-east-1 (N. Virginia),
on-demand, no free tier, as recorded on 2026-11-25:
  Step Functions  https://aws.amazon.com/step-functions/pricing/
  Lambda          https://aws.amazon.com/lambda/pricing/        (x86, first pricing tier)
  S3 Standard     https://aws.amazon.com/s3/pricing/
  DynamoDB        https://aws.amazon.com/dynamodb/pricing/on-demand/
  SQS             https://aws.amazon.com/sqs/pricing/           (standard queue, first tier)
Check them again before quoting a figure to a customer: prices change.
"""

from __future__ import annotations

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
