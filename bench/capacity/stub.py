"""Every AWS answer of a boto3 session stubbed, from memory: what a call then costs is boto3's
own client side and the caller's (the CPU measurements of `cpu.py`)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib import costs


class _Body:
    """A response body botocore can read whole or as a stream."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._data.read() if amt is None else self._data.read(amt)


class StubbedAWS:
    """Answers every request of a boto3 session at once, from memory (`before-send`): what a
    call then costs is boto3's own client side (parameters, serialising, signing, parsing)
    and the caller's. GetObject returns the body last PUT under the key (or given in
    `objects`, by the end of their key); the bodies of SendMessageBatch are kept in `sent`."""

    def __init__(self, objects: Mapping[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.calls: dict[str, int] = {}
        self.sent: list[str] = []
        self.write_units: dict[str, int] = {}  # by table: PutItem by item size, UpdateItem 1
        self._lock = threading.Lock()  # a chunk's writers call from several threads

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> Any:
        from urllib.parse import unquote, urlsplit

        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
        path = unquote(urlsplit(str(request.url)).path)
        if operation == "GetObject":
            data = next((v for k, v in self.objects.items() if path.endswith(k)), b"{}")
            return _answer(request, data, content_length=str(len(data)), ETag='"stub"')
        if operation == "PutObject":
            body = _request_body(request.body)
            encoding = request.headers.get("Content-Encoding", b"")
            if b"aws-chunked" in (encoding if isinstance(encoding, bytes) else encoding.encode()):
                body = _unchunk(body)
            self.objects[path] = body
            return _answer(request, b"", ETag='"stub"')
        if operation == "SendMessageBatch":
            entries = json.loads(_request_body(request.body) or b"{}").get("Entries", [])
            self.sent.extend(str(entry["MessageBody"]) for entry in entries)
            return _answer(request, b'{"Successful": [], "Failed": []}')
        if operation in {"PutItem", "UpdateItem"}:
            self._count_write(operation, request)
        return _answer(request, b"{}")

    def _count_write(self, operation: str, request: Any) -> None:
        from chalicelib.dynamo import item_size

        sent = json.loads(_request_body(request.body) or b"{}")
        units = 1
        if operation == "PutItem":
            units = costs.write_units(item_size(sent.get("Item", {})))
        table = str(sent.get("TableName"))
        with self._lock:
            self.write_units[table] = self.write_units.get(table, 0) + units


def _answer(request: Any, body: bytes, **headers: str) -> Any:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    values = HTTPHeaders()
    for name, value in headers.items():
        values[name.replace("_", "-")] = value
    return AWSResponse(request.url, 200, values, _Body(body))


def _unchunk(data: bytes) -> bytes:
    """The payload of an `aws-chunked` body (size in hex, CRLF, data, CRLF; then trailers)."""
    out = bytearray()
    at = 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def _request_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    data = body.read()
    if hasattr(body, "seek"):
        body.seek(0)
    return data if isinstance(data, bytes) else str(data).encode()
