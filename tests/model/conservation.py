"""The conservation model: random sequences of what happens in production, driven through the
embedded emulator, checked after every settled step against a model of what was sent.

The promise checked: every order of every uploaded version ends in exactly one place: stored
(with that content, or identical content already there), or dead-lettered with a reason and
then reviewed (retried, repaired, archived) or waiting in the redrive queue; every batch's
counts add up; no version is processed twice or skipped; nothing stored is ever overwritten.

The model is independent of the product: it writes the files itself (JSON, JSON Lines, CSV),
knows which orders are valid because it chose them from a small table of valid, invalid and
repairable values, and reads the outcome from the emulated AWS resources (the orders table,
the batch records, the DLQ messages, the review records, the archive), not from the product's
own accounting. A DLQ message, a review item and an archive object each hold a rejection group
(the rejected orders of one chunk); the model opens them and checks every order on its own.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from chalicelib import aws
from orderflow_cli.dlq import redrive
from orderflow_cli.emulator.lambdas import current_function
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.emulator.weather import Weather, set_weather
from orderflow_cli.stack import Stack
from orderflow_cli.stage import stage_environment

# Small chunks, so a file of a few orders spans several Map items processed concurrently;
# short backoffs, so retries do not slow the search.
EMULATOR_SETTINGS = {
    "CHUNK_MAX_ORDERS": "3",
    "STORE_RETRY_BASE_SECONDS": "0.001",
    "STORE_RETRY_MAX_SECONDS": "0.01",
}
DLQ_OUTAGE_ABSORBED = 24  # refused DLQ sends in a row that a chunk outlasts (36 attempts)
ORDER_IDS = [f"M-{n}" for n in range(1, 9)]  # a small pool: duplicates and conflicts are common
FORMATS = ("json", "jsonl", "csv")
COLUMNS = ("OrderId", "item-id", "item-desc", "qty", "name", "email")

# What an order's qty and email can be, and what the model expects of each.
VALID_QTY = ("1", "2", "3")
REPAIRABLE_QTY = {"2.0": 2}  # the reviewer's qty_integral_decimal rule
INVALID_QTY = ("0", "-1", "lots")
VALID_EMAIL = ("ana@example.com", "bo@example.org")
REPAIRABLE_EMAIL = {"<ana@example.com>": "ana@example.com"}  # the email_wrapping rule
INVALID_EMAIL = ("not-an-email",)


@dataclass(frozen=True)
class Sent:
    """One order as the model sent it (every value a string, as in a CSV)."""

    order_id: str
    item_id: str
    desc: str
    qty: str
    email: str

    def as_order(self) -> dict[str, Any]:
        return {
            "order-info": {
                "OrderId": self.order_id,
                "item-id": self.item_id,
                "item-desc": self.desc,
                "qty": self.qty,
            },
            "contact-info": {"name": "Model Buyer", "email": self.email},
        }

    @property
    def valid(self) -> bool:
        return self.qty in VALID_QTY and self.email in VALID_EMAIL

    @property
    def repairable(self) -> bool:
        qty_ok = self.qty in VALID_QTY or self.qty in REPAIRABLE_QTY
        email_ok = self.email in VALID_EMAIL or self.email in REPAIRABLE_EMAIL
        return not self.valid and qty_ok and email_ok

    def stored_form(self, repaired: bool = False) -> tuple[Any, ...]:
        """What the orders table holds for this order (after the reviewer's repair)."""
        qty = REPAIRABLE_QTY.get(self.qty, self.qty) if repaired else self.qty
        email = REPAIRABLE_EMAIL.get(self.email, self.email) if repaired else self.email
        return (self.order_id, self.item_id, self.desc, int(qty), "Model Buyer", email)


def stored_form_of(item: dict[str, Any]) -> tuple[Any, ...]:
    info, contact = item["order-info"], item["contact-info"]
    return (
        info["OrderId"],
        info["item-id"],
        info["item-desc"],
        int(info["qty"]),
        contact["name"],
        contact["email"],
    )


def sent_orders() -> st.SearchStrategy[Sent]:
    qty = st.sampled_from([*VALID_QTY, *VALID_QTY, *REPAIRABLE_QTY, *INVALID_QTY])
    email = st.sampled_from([*VALID_EMAIL, *VALID_EMAIL, *REPAIRABLE_EMAIL, *INVALID_EMAIL])
    return st.builds(
        Sent,
        order_id=st.sampled_from(ORDER_IDS),
        item_id=st.sampled_from(["101", "202"]),
        desc=st.sampled_from(["Mug", "Blue mug, 350 ml", "Ünïcode tea"]),
        qty=qty,
        email=email,
    )


def encode(orders: list[Sent], fmt: str) -> bytes:
    """The model's own writers (the product's readers are what is under test)."""
    if fmt == "json":
        return json.dumps({"orders": [o.as_order() for o in orders]}).encode()
    if fmt == "jsonl":
        return "".join(json.dumps(o.as_order()) + "\n" for o in orders).encode()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for o in orders:
        writer.writerow([o.order_id, o.item_id, o.desc, o.qty, "Model Buyer", o.email])
    return text.getvalue().encode()


def first_row(fmt: str) -> int:
    """The row number of a file's first order: its position (JSON), its line (CSV's header is
    line 1)."""
    return 2 if fmt == "csv" else 1


@dataclass
class Version:
    """One uploaded object version and the orders it holds, by row."""

    key: str
    version_id: str
    rows: dict[int, Sent]


@dataclass
class Faults:
    """Failures injected at the botocore layer, below the product's retry logic. Each counter
    is a budget of consecutive failures still to inject."""

    throttled_puts: int = 0  # DynamoDB PutItem: ProvisionedThroughputExceededException
    refused_dlq_sends: int = 0  # SQS SendMessageBatch: a service error
    crash_chunk_after_puts: int | None = None  # ValidateOrder dies after this many more puts
    failing_reviews: int = 0  # the reviewer's reads fail: its deliveries come back
    injected: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str) -> bool:
        with self.lock:
            left = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            self.injected[name] += 1
            return True


def _refusal(code: str) -> tuple[AWSResponse, dict[str, Any]]:
    error = {"Error": {"Code": code, "Message": f"injected {code}"}}
    return AWSResponse("https://injected", 400, HTTPHeaders(), None), {
        **error,
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


class ChunkCrash(RuntimeError):
    """ValidateOrder died half way through its chunk (injected)."""


def install_faults(local: EmbeddedAWS, faults: Faults) -> None:
    def on_put(**_: Any) -> Any:
        if current_function.get() == "ValidateOrder" and faults.crash_chunk_after_puts is not None:
            with faults.lock:
                if faults.crash_chunk_after_puts is not None:
                    if faults.crash_chunk_after_puts == 0:
                        faults.crash_chunk_after_puts = None
                        faults.injected["crash_chunk"] += 1
                        raise ChunkCrash("injected: the function died half way through a chunk")
                    faults.crash_chunk_after_puts -= 1
        if faults.take("throttled_puts"):
            return _refusal("ProvisionedThroughputExceededException")
        return None

    def on_send(**_: Any) -> Any:
        return _refusal("ServiceUnavailable") if faults.take("refused_dlq_sends") else None

    def on_review_read(**_: Any) -> Any:
        if current_function.get() == "ReviewDeadLetters" and faults.take("failing_reviews"):
            return _refusal("InternalServerError")
        return None

    aws.order_writes().meta.events.register("before-call.dynamodb.PutItem", on_put)
    local.dynamodb.meta.events.register("before-call.dynamodb.GetItem", on_review_read)
    local.sqs.meta.events.register("before-call.sqs.SendMessageBatch", on_send)


# Calm, the figure (3% DynamoDB on every table, 2% S3 SlowDown), and a bad hour.
WEATHERS = (
    "",
    "dynamodb=3%,s3=2%",
    "dynamodb=10%,s3=5%,sqs=5%,sfn=3%,events=5%,lambda=3%,ssm=5%,sts=5%",
)


class Violation(AssertionError):
    """The promise does not hold."""


class ConservationModel(RuleBasedStateMachine):
    """Uploads, repeats, faults and operator actions, in any order; `settle` lets the system
    finish what it was given and checks the promise."""

    sequences = 0  # counted across runs, for the soak's report
    steps = 0
    settles = 0
    orders_checked = 0

    def __init__(self) -> None:
        super().__init__()
        self.local = EmbeddedAWS(EMULATOR_SETTINGS, map_concurrency=4)
        self.local.start()
        self.local.ensure_sender("p")  # the partner whose folder every file goes to
        self.faults = Faults()
        install_faults(self.local, self.faults)
        self.versions: list[Version] = []
        self.pending = 0  # uploads whose events were not handled yet
        self.files = 0
        # review id (`<batch_id>:<row>`) -> the order's entry, its group in the redrive queue
        self.waiting: dict[str, dict[str, Any]] = {}
        self.stored_before: dict[str, tuple[Any, ...]] = {}
        self.duplicated: set[str] = set()  # message ids the model delivered a second time
        self.settled = False  # whether anything was settled yet (rules that need outcomes)
        self.events_doubled = False  # whether the waiting S3 events were already doubled
        type(self).sequences += 1

    def teardown(self) -> None:
        try:
            if self.versions:
                self._settle()
                self._check()
        finally:
            self.local.stop()

    # -- what happens in production ----------------------------------------------------------
    @initialize(
        orders=st.lists(sent_orders(), min_size=1, max_size=8), fmt=st.sampled_from(FORMATS)
    )
    def a_first_file(self, orders: list[Sent], fmt: str) -> None:
        self.a_new_file(orders, fmt)

    @precondition(lambda self: self.pending < 4)
    @rule(orders=st.lists(sent_orders(), min_size=1, max_size=8), fmt=st.sampled_from(FORMATS))
    def a_new_file(self, orders: list[Sent], fmt: str) -> None:
        self.files += 1
        self._upload(f"{self.local.settings.incoming_prefix}p/file-{self.files}.{fmt}", orders, fmt)

    @precondition(lambda self: self.pending < 4 and bool(self.versions))
    @rule(
        data=st.data(),
        orders=st.lists(sent_orders(), min_size=1, max_size=8),
    )
    def the_same_key_again_with_other_content(
        self, data: st.DataObject, orders: list[Sent]
    ) -> None:
        earlier = data.draw(st.sampled_from(self.versions))
        self._upload(earlier.key, orders, earlier.key.rsplit(".", 1)[-1])

    @precondition(lambda self: self.pending < 4 and bool(self.versions))
    @rule(data=st.data())
    def the_same_content_again(self, data: st.DataObject) -> None:
        earlier = data.draw(st.sampled_from(self.versions))
        fmt = earlier.key.rsplit(".", 1)[-1]
        rows = sorted(earlier.rows)
        self._upload(earlier.key, [earlier.rows[r] for r in rows], fmt)

    @precondition(lambda self: self.pending > 0 and not self.events_doubled)
    @rule()
    def the_s3_events_are_delivered_twice(self) -> None:
        """Every waiting S3 event arrives twice (once per upload: doubling the doubled events
        again would only grow the queue, not find anything new)."""
        type(self).steps += 1
        self.events_doubled = True
        url = self.local.events_queue_url
        bodies: list[str] = []
        while True:
            messages = self.local.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.local.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                bodies.append(message["Body"])
        for body in bodies:
            for _ in range(2):
                self.local.sqs.send_message(QueueUrl=url, MessageBody=body)

    @rule(
        kind=st.sampled_from(
            ["throttled_puts", "refused_dlq_sends", "crash_chunk_after_puts", "failing_reviews"]
        ),
        size=st.integers(0, 6),
    )
    def a_fault(self, kind: str, size: int) -> None:
        """A burst of DynamoDB throttling, the DLQ refusing sends for a while, a ValidateOrder
        invocation dying half way through its chunk, or the reviewer failing for a while."""
        type(self).steps += 1
        if kind == "crash_chunk_after_puts":
            self.faults.crash_chunk_after_puts = size % 3
        elif kind == "failing_reviews":
            self.faults.failing_reviews += 2 * size + 1
        elif kind == "refused_dlq_sends":
            # within what the pipeline promises to absorb: 4 sends per invocation, 4 ValidateOrder
            # invocations, 4 RecordBatch invocations and its last call; a longer outage fails
            # the batch by design (it says so, with `unprocessed`: test_failures.py)
            self.faults.refused_dlq_sends = min(
                self.faults.refused_dlq_sends + size + 1, DLQ_OUTAGE_ABSORBED
            )
        else:
            self.faults.throttled_puts += size + 1

    @rule(weather=st.sampled_from(WEATHERS), seed=st.integers(0, 2**16))
    def the_weather_turns(self, weather: str, seed: int) -> None:
        """AWS's weather from now on (orderflow_cli/emulator/weather.py): throttles of every
        service the product calls, below the retries, at the rates of a busy day or worse."""
        type(self).steps += 1
        self.local.weather = Weather.parse(weather).with_seed(seed) if weather else None
        set_weather(self.local.weather)

    @precondition(lambda self: self.settled)
    @rule(pick=st.integers(0, 1000))
    def a_dead_letter_is_delivered_again(self, pick: int) -> None:
        type(self).steps += 1
        # which rejections exist can depend on timing (who wins a conflict), so the choice is a
        # number, not a draw from the emulator's state: hypothesis replays it the same way
        bodies = sorted(self.local.dlq_received.values())
        if not bodies:
            return
        body = bodies[pick % len(bodies)]
        self.duplicated.add(str(json.loads(body)["message_id"]))
        self.local.sqs.send_message(QueueUrl=self.local.settings.dlq_url, MessageBody=body)

    @precondition(lambda self: self.pending < 4 and self.settled)
    @rule(picks=st.lists(st.integers(0, 1000), min_size=1, max_size=3), edit=st.booleans())
    def an_operator_redrives_archived_orders(self, picks: list[int], edit: bool) -> None:
        type(self).steps += 1
        stack = Stack(
            self.local.s3, self.local.dynamodb, self.local.sqs, stage_environment(self.local.stage)
        )
        archived = [
            r
            for r in stack.reviews.query()
            if r["decision"] == "archive" and "redriven_to" not in r
        ]
        if not archived:
            return
        archived.sort(key=lambda r: r["review_id"])
        chosen = list(
            {r["review_id"]: r for r in (archived[p % len(archived)] for p in picks)}.values()
        )
        edits = {}
        if edit:
            for record in chosen:
                order_id = record.get("order_id") or "M-1"
                edits[record["review_id"]] = Sent(
                    order_id, "101", "Edited", "1", VALID_EMAIL[0]
                ).as_order()
        result = redrive(stack, [r["review_id"] for r in chosen], reason=None, edited=edits)
        if result["sent"]:
            for key in result["keys"].values():  # one redrive file per sender
                self._learn(key, "jsonl")

    @rule()
    def settle(self) -> None:
        type(self).steps += 1
        if self.versions:
            self._settle()
            self._check()

    # -- driving -----------------------------------------------------------------------------
    def _upload(self, key: str, orders: list[Sent], fmt: str) -> None:
        type(self).steps += 1
        response = self.local.s3.put_object(
            Bucket=self.local.settings.bucket, Key=key, Body=encode(orders, fmt)
        )
        start = first_row(fmt)
        rows = {start + i: o for i, o in enumerate(orders)}
        self.versions.append(Version(key, response["VersionId"], rows))
        self.pending += 1
        self.events_doubled = False

    def _learn(self, key: str, fmt: str) -> None:
        """A file the product wrote (a redrive): read it as the model's own JSON Lines."""
        head = self.local.s3.head_object(Bucket=self.local.settings.bucket, Key=key)
        body = self.local.s3.get_object(
            Bucket=self.local.settings.bucket, Key=key, VersionId=head["VersionId"]
        )["Body"].read()
        rows = {}
        for line_number, line in enumerate(body.decode().splitlines(), start=first_row(fmt)):
            order = json.loads(line)
            info, contact = order["order-info"], order["contact-info"]
            rows[line_number] = Sent(
                info["OrderId"],
                info["item-id"],
                info["item-desc"],
                str(info["qty"]),
                contact["email"],
            )
        self.versions.append(Version(key, head["VersionId"], rows))
        self.pending += 1

    def _settle(self) -> None:
        """Everything the system was given runs to its end: events, executions, the reviewer."""
        local = self.local
        for _ in range(5):  # redrives may add files; each round handles what the last one made
            for _, batch_id in local.deliver_s3_events():
                local.wait(batch_id, timeout=300)
            self.pending = 0
            local.deliver_app_events()
            local.dead_letters.settle()
            for body in local.drain_redrive_queue():
                self.waiting.update(orders_of(json.loads(body)))
            if not local.sqs.receive_message(
                QueueUrl=local.events_queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0
            ).get("Messages"):
                break
        type(self).settles += 1
        self.settled = True

    # -- the promise ---------------------------------------------------------------------------
    @invariant()
    def counted(self) -> None:
        """Cheap, after every step: no batch record ever says more than it holds."""
        for record in self.local.scan_table(self.local.settings.batches_table):
            if record.get("status") in {"succeeded", "failed", "quarantined"}:
                parts = record.get("stored", 0) + record.get("rejected", 0)
                if record.get("total", 0) != parts + record.get("unprocessed", 0):
                    raise Violation(f"counts do not add up: {record}")

    def _check(self) -> None:
        local = self.local
        items = {i["OrderId"]: i for i in local.scan_table(local.settings.orders_table)}
        stored = {order_id: stored_form_of(item) for order_id, item in items.items()}
        batches = list(local.scan_table(local.settings.batches_table))
        reviews: dict[str, dict[str, Any]] = {}
        for item in local.scan_table(local.settings.reviews_table):
            for review in item.get("orders", {}).values():
                review_id = str(review["review_id"])
                if review_id != f"{item['batch_id']}:{review['row']}":
                    raise Violation(f"review {review_id} is kept in batch {item['batch_id']}")
                if review_id in reviews:
                    raise Violation(f"{review_id} was reviewed in two groups")
                reviews[review_id] = review
        messages: dict[str, dict[str, Any]] = {}
        for body in local.dlq_received.values():
            for review_id, entry in orders_of(json.loads(body)).items():
                messages.setdefault(review_id, entry)

        # nothing overwritten
        for order_id, before in self.stored_before.items():
            if stored.get(order_id) != before:
                raise Violation(f"{order_id} was {before}, now {stored.get(order_id)}")
        # nothing stored that was never sent (valid, or as the reviewer repairs it)
        possible: dict[str, set[tuple[Any, ...]]] = {}
        for version in self.versions:
            for sent in version.rows.values():
                forms = possible.setdefault(sent.order_id, set())
                if sent.valid:
                    forms.add(sent.stored_form())
                if sent.repairable:
                    forms.add(sent.stored_form(repaired=True))
        for order_id, form in stored.items():
            if form not in possible.get(order_id, set()):
                raise Violation(f"{order_id} is stored as {form}, which no file sent")

        for version in self.versions:
            mine = [
                b
                for b in batches
                if b.get("source_key") == version.key
                and b.get("source_version") == version.version_id
            ]
            if len(mine) != 1:
                raise Violation(f"{version.key}@{version.version_id}: {len(mine)} batches")
            self._check_version(version, mine[0], stored, reviews, messages)
        self.stored_before = stored

    def _check_version(
        self,
        version: Version,
        batch: dict[str, Any],
        stored: dict[str, tuple[Any, ...]],
        reviews: dict[str, dict[str, Any]],
        messages: dict[str, dict[str, Any]],
    ) -> None:
        where = f"{version.key}@{version.version_id} (batch {batch['batch_id']})"
        if batch.get("status") != "succeeded":
            raise Violation(f"{where} ended {batch.get('status')}: {batch.get('error')}")
        if batch.get("total") != len(version.rows):
            raise Violation(
                f"{where}: total {batch.get('total')}, the file has {len(version.rows)}"
            )
        rejected = {
            int(m["row"]): m for m in messages.values() if m.get("batch_id") == batch["batch_id"]
        }
        if len(rejected) != batch.get("rejected"):
            raise Violation(
                f"{where}: {batch.get('rejected')} rejected, {len(rejected)} in the DLQ"
            )
        for row, sent in version.rows.items():
            type(self).orders_checked += 1
            message = rejected.get(row)
            if message is None:  # the pipeline stored it: this content is in the table
                if not sent.valid or stored.get(sent.order_id) != sent.stored_form():
                    raise Violation(
                        f"{where} row {row}: counted stored, table holds"
                        f" {stored.get(sent.order_id)} for {sent}"
                    )
                continue
            self._check_rejection(where, row, sent, message, stored, reviews)

    def _check_rejection(
        self,
        where: str,
        row: int,
        sent: Sent,
        message: dict[str, Any],
        stored: dict[str, tuple[Any, ...]],
        reviews: dict[str, dict[str, Any]],
    ) -> None:
        reason = message["reason"]
        expected_reason = {
            "invalid": not sent.valid,
            "conflict": sent.valid and stored.get(sent.order_id) != sent.stored_form(),
            "store_failed": sent.valid,
        }
        if not expected_reason.get(reason, False):
            raise Violation(f"{where} row {row}: dead-lettered as {reason}: {sent}")
        if not message.get("errors"):
            raise Violation(f"{where} row {row}: dead-lettered without a reason")
        review_id = str(message["review_id"])
        review = reviews.get(review_id)
        waiting = review_id in self.waiting
        # exactly one of: reviewed, waiting (a second delivery of a reviewed group may wait
        # beside its review: the copy, not the order, is in the redrive queue)
        if review is None and not waiting:
            raise Violation(f"{where} row {row}: dead-lettered, never reviewed, not waiting")
        duplicated = str(message["message_id"]) in self.duplicated
        if review is not None and waiting and not duplicated:
            raise Violation(f"{where} row {row}: reviewed and also waiting in the redrive queue")
        if review is None:
            return
        if review.get("reason") != reason:
            raise Violation(f"{where} row {row}: reviewed as {review.get('reason')}, sent {reason}")
        ended = review["ended"]
        if ended in {"stored", "unchanged"}:
            form = sent.stored_form(repaired=review["decision"] == "repair")
            if stored.get(sent.order_id) != form:
                raise Violation(
                    f"{where} row {row}: reviewer says {ended}, table holds"
                    f" {stored.get(sent.order_id)}, expected {form}"
                )
        elif ended == "archived":
            archived = json.loads(
                self.local.s3.get_object(
                    Bucket=self.local.settings.bucket, Key=review["archive_key"]
                )["Body"].read()
            )
            entry = archived.get("orders", {}).get(review_id)
            if entry is None or entry.get("row") != row:
                raise Violation(f"{where} row {row}: archive {review['archive_key']} lacks it")
        else:
            raise Violation(f"{where} row {row}: reviewer ended it as {ended!r}")


def orders_of(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The orders of one DLQ message (a rejection group), by review id (`<batch_id>:<row>`):
    each entry with its group's `message_id` and `batch_id`."""
    batch_id = str(message["batch_id"])
    return {
        f"{batch_id}:{entry['row']}": {
            **entry,
            "review_id": f"{batch_id}:{entry['row']}",
            "message_id": message["message_id"],
            "batch_id": batch_id,
        }
        for entry in message["rejections"]
    }
