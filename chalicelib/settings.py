"""Typed settings, read once from the stage's environment (`.chalice/config.json`)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseModel):
    """Every name and knob the functions need; each field is one environment variable."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stage: str = Field("dev", alias="STAGE")
    log_level: LogLevel = Field("INFO", alias="LOG_LEVEL")
    bucket: str = Field("orderflow-dev-orders", alias="BUCKET_NAME")
    orders_table: str = Field("orderflow-dev-orders", alias="ORDERS_TABLE")
    batches_table: str = Field("orderflow-dev-batches", alias="BATCHES_TABLE")
    dlq_url: str = Field("", alias="DLQ_URL")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")
    # The bucket's four prefixes (with archive_prefix below): every key under them is built by
    # chalicelib/pipeline/naming.py, and only there.
    incoming_prefix: str = Field("incoming/", alias="INCOMING_PREFIX")
    work_prefix: str = Field("work/", alias="WORK_PREFIX")
    quarantine_prefix: str = Field("quarantine/", alias="QUARANTINE_PREFIX")
    chunk_max_orders: int = Field(1000, ge=1, alias="CHUNK_MAX_ORDERS")
    chunk_max_bytes: int = Field(1_000_000, ge=1024, alias="CHUNK_MAX_BYTES")
    store_max_retries: int = Field(3, ge=0, alias="STORE_MAX_RETRIES")
    store_max_throttle_retries: int = Field(10, ge=0, alias="STORE_MAX_THROTTLE_RETRIES")
    store_retry_base_seconds: float = Field(0.05, ge=0, alias="STORE_RETRY_BASE_SECONDS")
    store_retry_max_seconds: float = Field(2.0, ge=0, alias="STORE_RETRY_MAX_SECONDS")
    # Conditional puts in flight at once inside one chunk (chalicelib.pipeline.pacing), at most:
    # a throttle lowers it for a while. `make capacity` says why this many.
    store_writers: int = Field(1, ge=1, le=64, alias="STORE_WRITERS")
    api_max_orders: int = Field(10_000, ge=1, alias="API_MAX_ORDERS")
    api_max_bytes: int = Field(5_000_000, ge=1, alias="API_MAX_BYTES")
    upload_max_bytes: int = Field(1_073_741_824, ge=1, alias="UPLOAD_MAX_BYTES")
    upload_url_seconds: int = Field(900, ge=60, le=3600, alias="UPLOAD_URL_SECONDS")
    event_bus: str = Field("default", alias="EVENT_BUS_NAME")
    reviews_table: str = Field("orderflow-dev-reviews", alias="REVIEWS_TABLE")
    senders_table: str = Field("orderflow-dev-senders", alias="SENDERS_TABLE")
    # The role the API assumes, with a session policy held to the caller's sender, for its
    # reads (chalicelib/api/scope.py); empty: the function's own credentials.
    api_read_role_arn: str = Field("", alias="API_READ_ROLE_ARN")
    # The key of the batch ids an Idempotency-Key seeds (SSM, or Secrets Manager through SSM).
    idempotency_secret_parameter: str = Field(
        "/aws/reference/secretsmanager/orderflow-dev-idempotency-secret",
        alias="IDEMPOTENCY_SECRET_PARAMETER",
    )
    # The key that signs upload links (chalicelib/api/links.py), read by the authorizer.
    link_secret_parameter: str = Field(
        "/aws/reference/secretsmanager/orderflow-dev-link-secret", alias="LINK_SECRET_PARAMETER"
    )
    archive_prefix: str = Field("archive/", alias="ARCHIVE_PREFIX")
    # The DLQ's last delivery of a message before its redrive policy moves it aside: the stack's
    # maxReceiveCount. On it, the reviewer archives an order whose store still fails instead of
    # letting its whole group leave for the redrive queue.
    review_last_delivery: int = Field(5, ge=1, alias="REVIEW_LAST_DELIVERY")
    callback_secret_parameter: str = Field(
        "/aws/reference/secretsmanager/orderflow-dev-callback-secret",
        alias="CALLBACK_SECRET_PARAMETER",
    )
    callback_require_https: bool = Field(True, alias="CALLBACK_REQUIRE_HTTPS")
    callback_allow_loopback: bool = Field(False, alias="CALLBACK_ALLOW_LOOPBACK")
    callback_attempts: int = Field(5, ge=1, le=10, alias="CALLBACK_ATTEMPTS")
    callback_retry_base_seconds: float = Field(2.0, ge=0, alias="CALLBACK_RETRY_BASE_SECONDS")
    # One deadline for a whole delivery, every attempt and the backoff between them (five
    # attempts with a 2 s base sleep 30 s in all); well under DeliverCallback's Lambda timeout.
    callback_deadline_seconds: float = Field(60.0, gt=0, le=240, alias="CALLBACK_DEADLINE_SECONDS")
    # Where clients reach S3 for presigned uploads; empty means AWS's own endpoint. The local
    # server sets it to its emulated S3 endpoint.
    s3_public_endpoint: str = Field("", alias="S3_PUBLIC_ENDPOINT")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; `get_settings.cache_clear()` re-reads the environment.

    A value may name `{account}` and `{region}` (config.json does, for names that differ per
    account, such as the bucket's): they are filled from the running function's own account
    and region, so no account-specific value is ever written into a file.
    """
    fields = {f.alias for f in Settings.model_fields.values() if f.alias}
    values = {k: v for k, v in os.environ.items() if k in fields}
    if any("{account}" in v or "{region}" in v for v in values.values()):
        from chalicelib import aws

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
        account = aws.account_id()
        values = {k: v.replace("{account}", account).replace("{region}", region)
                  for k, v in values.items()}  # fmt: skip
    return Settings.model_validate(values)
