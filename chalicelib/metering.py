"""Requests metered where they are made: one botocore hook on every client of `chalicelib.aws`
counts each call, as AWS bills it, into the `costs.Requests` of the invocation that made it.

An invocation opens its meter with `metered()` (the handlers in app.py, through `wiring`); a
call made inside counts in that meter, and in no other: the meter lives in a `ContextVar`, so
functions that run at once in one process (the embedded emulator) each count only their own
calls, and a call made where no meter is open (a test driver, the emulator) counts nowhere.
Work handed to threads counts in its caller's meter when the thread runs in a copy of the
caller's context (`pipeline.inflight` does; so does `pipeline.report`'s upload). A meter opened
inside another (RecordBatch processing a chunk again) counts apart from it.

A call counts when it is made (botocore's `before-call`), failed or refused ones too, each
retry that is a call of its own (the orders table's client retries in `pipeline.store`), at:
- S3: GET, HEAD and every other request as `s3_get`; PUT, COPY and POST (the parts of a
  multipart upload too) as `s3_put`; a List as `s3_list`; a DELETE is free;
- DynamoDB: a PutItem's write units from its item's size (`dynamo.item_size`, 1 KB a unit); an
  UpdateItem's from the size of its key and values (a lower bound: DynamoDB bills the larger of
  the item before and after, and every item the pipeline updates is under 1 KB); a read's
  units from the size of what it returned (4 KB a unit, each read counted as a strongly
  consistent one: an eventually consistent read costs half, so it is counted high);
- SQS: one request per 64 KB of the messages' bodies (`costs.sqs_units`);
- EventBridge: one event per 64 KB of each entry put.
Other services' calls cost nothing per request here (Step Functions bills transitions,
`pipeline.transitions`; SSM standard parameters and STS are free).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from chalicelib import costs
from chalicelib.dynamo import item_size, measured

_READ_UNIT_BYTES = 4 * 1024
_EVENT_UNIT_BYTES = 64 * 1024
_PENDING = "orderflow_metering"  # where a call's price waits, in botocore's request context


class _Meter:
    """One invocation's count; its threads add to it at once."""

    __slots__ = ("lock", "requests")

    def __init__(self) -> None:
        self.requests = costs.Requests()
        self.lock = threading.Lock()

    def add(self, name: str, amount: int) -> None:
        with self.lock:
            setattr(self.requests, name, getattr(self.requests, name) + amount)


_current: ContextVar[_Meter | None] = ContextVar("orderflow_meter", default=None)


@contextmanager
def metered() -> Iterator[costs.Requests]:
    """Counts the calls made inside the block (and in work it hands to threads that run in a
    copy of its context) in the `Requests` it yields."""
    meter = _Meter()
    token = _current.set(meter)
    try:
        yield meter.requests
    finally:
        _current.reset(token)


def current() -> costs.Requests | None:
    """The open meter's count, None where no meter is open."""
    meter = _current.get()
    return meter.requests if meter is not None else None


_C = TypeVar("_C")


def attach(client: _C) -> _C:
    """Meters every call `client` makes (once per client; a service without a price per
    request is left alone)."""
    meta = client.meta  # type: ignore[attr-defined]
    model = meta.service_model
    price = _PRICES.get(model.service_name)
    if price is None:
        return client
    events = meta.events
    service = model.service_id.hyphenize()

    def priced(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        """Prices the call from its parameters, before it is made: counted by `_count` only
        once it is made (a call that fails before it is sent is not billed)."""
        context[_PENDING] = price(model, params)

    events.register(
        f"before-parameter-build.{service}", priced, unique_id=f"orderflow-metering:{service}"
    )
    # Counted first of every `before-call` handler, on each operation's own event: a handler
    # of an operation's event runs before one of the bare `before-call`, and one that answers
    # in the call's place (a stub, an injected fault) ends the chain.
    for operation in model.operation_names:
        name = f"before-call.{service}.{operation}"
        events.register_first(name, _count, unique_id=f"orderflow-metering:{name}")
    for operation in _READS if service == "dynamodb" else ():
        name = f"after-call.{service}.{operation}"
        events.register(name, _count_read, unique_id=f"orderflow-metering:{name}")
    return client


def _count(context: dict[str, Any], **_: Any) -> None:
    priced = context.pop(_PENDING, None)
    meter = _current.get()
    if priced and meter is not None:
        name, amount = priced
        if amount:
            meter.add(name, amount)


def _count_read(parsed: Any, model: Any, **_: Any) -> None:
    """A DynamoDB read's units, from what it returned."""
    meter = _current.get()
    if meter is not None:
        meter.add("dynamodb_read_units", _read_units(model.name, parsed or {}))


Priced = tuple[str, int] | None


def _s3(model: Any, params: Mapping[str, Any]) -> Priced:
    method = str(model.http.get("method", "GET"))
    if method == "DELETE":
        return None
    if model.name.startswith("List"):
        return "s3_list", 1
    return ("s3_put", 1) if method in {"PUT", "POST"} else ("s3_get", 1)


def _dynamodb(model: Any, params: Mapping[str, Any]) -> Priced:
    if model.name == "PutItem":
        return "dynamodb_write_units", costs.write_units(measured(params.get("Item", {})))
    if model.name in {"UpdateItem", "DeleteItem"}:
        sized = {**params.get("Key", {}), **params.get("ExpressionAttributeValues", {})}
        return "dynamodb_write_units", costs.write_units(item_size(sized))
    if model.name == "BatchWriteItem":
        writes = [w for ws in params.get("RequestItems", {}).values() for w in ws]
        units = sum(
            costs.write_units(item_size(w.get("PutRequest", {}).get("Item", {}))) for w in writes
        )
        return "dynamodb_write_units", units
    return None


def _sqs(model: Any, params: Mapping[str, Any]) -> Priced:
    if model.name == "SendMessageBatch":
        size = sum(_utf8(e.get("MessageBody", "")) for e in params.get("Entries", []))
        return "sqs_requests", costs.sqs_units(size)
    if model.name == "SendMessage":
        return "sqs_requests", costs.sqs_units(_utf8(params.get("MessageBody", "")))
    return "sqs_requests", 1


def _events(model: Any, params: Mapping[str, Any]) -> Priced:
    if model.name != "PutEvents":
        return None
    sizes = (
        sum(_utf8(str(entry.get(name, ""))) for name in ("Source", "DetailType", "Detail"))
        for entry in params.get("Entries", [])
    )
    return "eventbridge_events", sum(max(1, math.ceil(s / _EVENT_UNIT_BYTES)) for s in sizes)


_PRICES: dict[str, Callable[[Any, Mapping[str, Any]], Priced]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "events": _events,
}
_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})


def _read_units(operation: str, parsed: Mapping[str, Any]) -> int:
    if operation == "GetItem":
        items = [parsed.get("Item") or {}]
    elif operation == "BatchGetItem":
        return (
            sum(
                max(1, math.ceil(item_size(i) / _READ_UNIT_BYTES))
                for found in (parsed.get("Responses") or {}).values()
                for i in found
            )
            or 1
        )
    else:  # a Query or a Scan: the items it read, summed, then rounded up
        items = list(parsed.get("Items") or [])
    return max(1, math.ceil(sum(item_size(i) for i in items) / _READ_UNIT_BYTES))


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if not text.isascii() else len(text)
