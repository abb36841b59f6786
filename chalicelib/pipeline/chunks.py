"""Chunks: the file's records cut into pieces bounded in count and in bytes.

A chunk is one JSON document in S3: `{"batch_id", "index", "records": [[row, order, error], ...]}`
where `error` is null or a FieldError dict for a record that could not be parsed. The manifest
is a JSON array with one small item per chunk (`contracts.ChunkRef`), read by the Distributed
Map's ItemReader, and a chunk's outcome one `contracts.ChunkOutcome` in its own object:
no state's payload ever carries orders, so no file size comes near Step Functions' 256 KB limit.

A chunk, as written, never holds more than `max_bytes` (CHUNK_MAX_BYTES), whatever one order
holds: an order whose record alone would pass that is not written whole but rejected on its own
as `row.too_large`, its record holding the first characters of its text and its size (no
valid order is that large: DynamoDB stores at most 400 KB of one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from chalicelib.contracts.chunks import ChunkOutcome, ChunkRef
from chalicelib.orders.records import FieldError, Record
from chalicelib.pipeline.naming import BatchKeys

__all__ = ["ChunkRef", "ChunkStore", "cut"]

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _encode(record: Record) -> str:
    """ASCII JSON: every character is one byte (so the byte bound is exact), and text that is
    not valid Unicode (a lone surrogate, which JSON allows) survives the round trip."""
    error = record.error.to_dict() if record.error else None
    return json.dumps([record.row, record.order, error], default=str)


_EXCERPT = 200  # characters of a too-large order's text that its stand-in keeps


def _too_large(record: Record, encoded: str, max_bytes: int) -> str:
    """The stand-in for a record larger than a chunk: its row, an excerpt, `row.too_large`."""
    message = (
        f"the order is {len(encoded):,} bytes as a chunk holds it, more than a whole chunk may "
        f"({max_bytes:,}, CHUNK_MAX_BYTES): it is not read further; no order may be that large"
    )
    error = FieldError("order", "row.too_large", message, None)
    return _encode(Record(record.row, encoded[:_EXCERPT] + "...", error))


def cut(records: Iterable[Record], max_orders: int, max_bytes: int) -> Iterator[list[str]]:
    """Groups encoded records into chunks of at most `max_orders` and `max_bytes` (an order
    larger than a chunk is replaced by its `row.too_large` stand-in)."""
    chunk: list[str] = []
    size = 0
    for record in records:
        encoded = _encode(record)
        if len(encoded) > max_bytes:
            encoded = _too_large(record, encoded, max_bytes)
        if chunk and (len(chunk) >= max_orders or size + len(encoded) > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        yield chunk


class ChunkStore:
    """Reads and writes a batch's chunks, manifest and per-chunk outcomes in S3."""

    def __init__(self, client: S3Client, bucket: str, keys: BatchKeys) -> None:
        self.client = client
        self.bucket = bucket
        self.keys = keys

    def write_chunk(self, index: int, encoded: list[str]) -> ChunkRef:
        key = self.keys.chunk(index)
        head = f'{{"batch_id": {json.dumps(self.keys.batch_id)}, "index": {index}, "records": ['
        body = head + ",".join(encoded) + "]}"
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        return ChunkRef(index, key, len(encoded))

    def write_manifest(self, refs: list[ChunkRef]) -> str:
        body = json.dumps([r.to_dict() for r in refs])
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.keys.manifest,
            Body=body.encode(),
            ContentType="application/json",
        )
        return self.keys.manifest

    def read_manifest(self) -> list[ChunkRef]:
        return [ChunkRef.from_dict(item) for item in self._get_json(self.keys.manifest)]

    def read_chunk(self, key: str) -> list[Record]:
        document = self._get_json(key)
        return [
            Record(row, order, FieldError.from_dict(error) if error else None)
            for row, order, error in document["records"]
        ]

    def write_result(self, outcome: ChunkOutcome) -> None:
        """Writes a chunk's outcome (`contracts.ChunkOutcome`), for RecordBatch to count."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.keys.result(outcome.index),
            Body=json.dumps(outcome.to_dict()).encode(),
            ContentType="application/json",
        )

    def read_result(self, index: int) -> ChunkOutcome | None:
        """The chunk's outcome; None when it has none (the chunk never finished)."""
        try:
            document = self._get_json(self.keys.result(index))
        except self.client.exceptions.NoSuchKey:
            return None
        return ChunkOutcome.from_dict(document)

    def _get_json(self, key: str) -> Any:
        return json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
