"""The completion event: one EventBridge event per batch that ends, for users' own rules.

    source:       "orderflow"
    detail-type:  "Batch Completed"
    detail:       `contracts.Completion` (its module describes the JSON)

A rule on the bus (`EVENT_BUS_NAME`, the account's default bus unless set) routes it to e-mail,
Slack, a queue or the webhook function, with no code of ours.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chalicelib.contracts import Completion

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "orderflow"
DETAIL_TYPE = "Batch Completed"
PATTERN = {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}


class EventNotPublished(Exception):
    """EventBridge refused the completion event (RecordBatch is retried)."""


class CompletionEvents:
    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self._client = client
        self._bus = bus

    def publish(self, detail: Completion) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail.to_dict(), default=str),
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise EventNotPublished(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
