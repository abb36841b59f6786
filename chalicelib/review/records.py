"""Review records: one item per reviewed DLQ message in the reviews table, keyed by
`review_id` (the message's `message_id`), with indexes by batch and by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.dynamo import now, plain_item, set_fields

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_BATCH = "by_batch"  # partition batch_id, sort review_id
BY_REASON = "by_reason"  # partition reason, sort created_at


class ReviewRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._serialize = TypeSerializer().serialize

    def get(self, review_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"review_id": {"S": review_id}}, ConsistentRead=True
        ).get("Item")
        return plain_item(item) if item else None

    def put(self, record: dict[str, Any]) -> bool:
        """Writes the record once; False when the review was already recorded."""
        record = {**record, "created_at": now()}
        item = {k: self._serialize(v) for k, v in record.items() if v is not None}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(review_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark(self, review_id: str, **values: Any) -> None:
        """Updates fields of a record (an operator's redrive)."""
        key = {"review_id": {"S": review_id}}
        set_fields(self._client, self._table, key, values, self._serialize)

    def query(
        self, *, batch_id: str | None = None, reason: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Records of one batch, of one reason, or both (newest last); all when neither."""
        if batch_id is None and reason is None:
            pages = self._client.get_paginator("scan").paginate(TableName=self._table)
            items = [item for page in pages for item in page["Items"]]
        else:
            index, key, value = (
                (BY_BATCH, "batch_id", batch_id) if batch_id else (BY_REASON, "reason", reason)
            )
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": index,
                "KeyConditionExpression": "#k = :v",
                "ExpressionAttributeNames": {"#k": key},
                "ExpressionAttributeValues": {":v": {"S": value}},
            }
            if batch_id and reason:
                request["FilterExpression"] = "#r = :r"
                request["ExpressionAttributeNames"]["#r"] = "reason"
                request["ExpressionAttributeValues"][":r"] = {"S": reason}
            pages = self._client.get_paginator("query").paginate(**request)
            items = [item for page in pages for item in page["Items"]]
        records = [plain_item(item) for item in items[:limit]]
        return sorted(records, key=lambda r: (r.get("batch_id", ""), r.get("row") or 0))
