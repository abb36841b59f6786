"""Start the ingest execution for an uploaded object, exactly once per object."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chalicelib.log import get_logger
from chalicelib.pipeline.naming import batch_id_for
from chalicelib.pipeline.prepare import Source

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = get_logger("trigger")


def source_for(bucket: str, key: str, version: str | None) -> Source:
    return Source(bucket, key, version, batch_id_for(bucket, key, version))


def start_ingest(sfn: SFNClient, state_machine_arn: str, source: Source) -> bool:
    """Starts the execution named after the object; False if it was already started."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=source.batch_id,
            input=json.dumps(source.to_dict()),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        log.info("execution already started", extra={"batch_id": source.batch_id})
        return False
    log.info("execution started", extra={"batch_id": source.batch_id})
    return True
