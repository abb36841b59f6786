"""Forged presigned uploads against `orders serve` (issue 21): sender A's own upload form, its
`key` changed to B's incoming folder or to B's rejection report under `work/`, a 1.2 MB file of
20,000 orders sent through a form signed for 100 bytes of `text/csv`, a policy rewritten after
signing, an expired one. The emulated S3 refuses each with S3's status and code, and none of
their orders is stored; B's report stays B's. A form signed by the tests' own SigV4
implementation (tests/sigv4_post.py) is taken, so the emulator's verification is the documented
algorithm's. An upload URL that is never used ends `expired`."""

from __future__ import annotations

import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.pipeline.batches import UPLOAD_EXPIRY_GRACE_SECONDS, BatchRecords
from orderflow_cli.stack import Stack, open_stack
from tests.api.conftest import Served
from tests.conftest import order
from tests.sigv4_post import encode_policy, sigv4_form

LIMIT = 100  # A's own upload limit, in bytes
HEADER = "OrderId,item-id,item-desc,qty,name,email\r\n"
FINISHED = {"succeeded", "failed", "quarantined"}


@dataclass
class Sender:
    sender_id: str
    key: str


@dataclass
class Pair:
    a: Sender
    b: Sender
    stack: Stack
    b_batch: str  # B's posted batch: one order stored, one rejected (so B has a report)

    @property
    def bucket(self) -> str:
        return self.stack.names["BUCKET_NAME"]


def csv(*order_ids: str, item: str = "Lamp") -> bytes:
    rows = "".join(f"{i},101,{item},1,Ann Lee,ann@ex.io\r\n" for i in order_ids)
    return (HEADER + rows).encode()


def wait(served: Served, sender: Sender, batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status: dict[str, Any] = served.call("GET", f"/batches/{batch_id}", key=sender.key).json()
        if status.get("status") in FINISHED:
            return status
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish")


@pytest.fixture(scope="module")
def pair(served: Served) -> Pair:
    stack = open_stack(served.s3_url, "local")
    senders = []
    for name in ("alpha", "beta"):
        sender_id = f"{name}-{uuid.uuid4().hex[:6]}"
        _, key = stack.senders.add(sender_id, name.title())
        senders.append(Sender(sender_id, key))
    a, b = senders
    stack.senders.set_limits(a.sender_id, max_orders_per_request=None, max_upload_bytes=LIMIT)
    body = {"orders": [order(f"{b.sender_id}-ok"), order(f"{b.sender_id}-bad", qty="0")]}
    posted = served.call("POST", "/orders", key=b.key, json=body)
    assert posted.status_code == 202, posted.text
    b_batch = posted.json()["batch_id"]
    assert wait(served, b, b_batch)["status"] == "succeeded"
    return Pair(a, b, stack, b_batch)


def upload_form(served: Served, sender: Sender) -> dict[str, Any]:
    answer = served.call(
        "POST", "/uploads", key=sender.key, json={"filename": "o.csv", "content_type": "text/csv"}
    )
    assert answer.status_code == 201, answer.text
    presigned: dict[str, Any] = answer.json()
    return presigned


def post(url: str, fields: dict[str, str], body: bytes, name: str = "o.csv") -> Any:
    files = {"file": (name, body, fields.get("Content-Type", "text/csv"))}
    return requests.post(url, data=fields, files=files, timeout=60)


def s3_error(response: Any) -> tuple[int, str, str, dict[str, str]]:
    error = ET.fromstring(response.content)
    assert error.tag == "Error", response.text
    every = {child.tag: child.text or "" for child in error}
    return response.status_code, every["Code"], every["Message"], every


def absent(pair: Pair, key: str) -> bool:
    try:
        pair.stack.s3.head_object(Bucket=pair.bucket, Key=key)
    except ClientError as error:
        return error.response["Error"]["Code"] in {"404", "NoSuchKey"}
    return False


def nothing_stored(served: Served, pair: Pair, order_ids: list[str]) -> None:
    """None of the orders is any sender's, checked after a good upload of A's has been
    processed: the server hands uploads on in order, so a forged one would have been first."""
    control = upload_form(served, pair.a)
    control_id = f"{pair.a.sender_id}-control-{uuid.uuid4().hex[:4]}"
    response = post(control["url"], control["fields"], csv(control_id))
    assert response.status_code == 204, response.text
    assert wait(served, pair.a, control["batch_id"])["stored"] == 1
    for order_id in order_ids:
        for sender in (pair.a, pair.b):
            got = served.call("GET", f"/orders/{order_id}", key=sender.key)
            assert got.status_code == 404, (order_id, sender.sender_id, got.text)


def test_a_form_with_its_key_changed_to_another_senders_folder_is_refused(
    served: Served, pair: Pair
) -> None:
    form = upload_form(served, pair.a)
    b_upload = upload_form(served, pair.b)  # a key B was promised, and one B never was
    order_id = f"forged-{uuid.uuid4().hex[:6]}"
    refused = []
    for key in (b_upload["key"], f"incoming/{pair.b.sender_id}/forged.csv"):
        response = post(form["url"], {**form["fields"], "key": key}, csv(order_id))
        refused.append((s3_error(response)[:3], absent(pair, key)))

    condition = f'["eq", "$key", "{form["key"]}"]'
    failed = (
        403,
        "AccessDenied",
        f"Invalid according to Policy: Policy Condition failed: {condition}",
    )
    assert refused == [(failed, True), (failed, True)]
    nothing_stored(served, pair, [order_id])
    assert (
        served.call("GET", f"/batches/{b_upload['batch_id']}", key=pair.b.key).json()["status"]
        == "pending"
    )  # B's upload is still B's to make


def test_a_form_aimed_at_another_senders_report_does_not_replace_it(
    served: Served, pair: Pair
) -> None:
    record = BatchRecords(pair.stack.dynamodb, pair.stack.names["BATCHES_TABLE"]).get(
        pair.b.sender_id, pair.b_batch
    )
    assert record is not None
    report_key = record["report_keys"]["jsonl"]
    assert report_key.startswith(f"work/{pair.b.sender_id}/")
    form = upload_form(served, pair.a)
    fake = json.dumps({"order_id": "not-b", "row": 1, "errors": []}).encode()

    response = post(form["url"], {**form["fields"], "key": report_key}, fake, "r.jsonl")

    assert s3_error(response)[:2] == (403, "AccessDenied")
    status = served.call("GET", f"/batches/{pair.b_batch}", key=pair.b.key).json()
    lines = requests.get(status["report"]["jsonl"], timeout=30).text.splitlines()
    assert [json.loads(line)["order_id"] for line in lines] == [f"{pair.b.sender_id}-bad"]


def test_a_large_file_through_a_form_signed_for_100_bytes_is_refused(
    served: Served, pair: Pair
) -> None:
    form = upload_form(served, pair.a)
    assert form["max_bytes"] == LIMIT
    ids = [f"{pair.a.sender_id}-big-{i}" for i in range(20_000)]
    body = csv(*ids, item="Brass desk lamp")
    assert len(body) > 1_200_000

    too_large = post(form["url"], form["fields"], body)
    as_json = post(form["url"], {**form["fields"], "Content-Type": "application/json"}, body)
    empty = post(form["url"], form["fields"], b"")

    status, code, _, details = s3_error(too_large)
    assert (status, code) == (400, "EntityTooLarge")
    assert (details["ProposedSize"], details["MaxSizeAllowed"]) == (str(len(body)), str(LIMIT))
    assert s3_error(as_json)[:3] == (
        403,
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "text/csv"]',
    )
    assert s3_error(empty)[:2] == (400, "EntityTooSmall")
    assert absent(pair, form["key"])
    nothing_stored(served, pair, [ids[0], ids[-1]])
    batch = served.call("GET", f"/batches/{form['batch_id']}", key=pair.a.key).json()
    assert batch["status"] == "pending"  # nothing arrived: no execution, no orders


def test_a_policy_rewritten_after_signing_does_not_match_its_signature(
    served: Served, pair: Pair
) -> None:
    form = upload_form(served, pair.a)
    forged_key = f"incoming/{pair.b.sender_id}/rewritten.csv"
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [
        {"key": forged_key} if "key" in c else c
        for c in policy["conditions"]
        if not (isinstance(c, list) and c[0] == "content-length-range")
    ]
    fields = {**form["fields"], "key": forged_key, "policy": encode_policy(policy)}
    order_id = f"rewritten-{uuid.uuid4().hex[:6]}"

    response = post(form["url"], fields, csv(order_id))

    assert s3_error(response)[:2] == (403, "SignatureDoesNotMatch")
    assert absent(pair, forged_key)
    nothing_stored(served, pair, [order_id])


def test_a_form_signed_by_the_documented_sigv4_algorithm_is_taken_and_checked(
    served: Served, pair: Pair
) -> None:
    good, expired, wrong_secret, unknown_key = (upload_form(served, pair.a) for _ in range(4))

    def signed(presigned: dict[str, Any], **kwargs: Any) -> dict[str, str]:
        return sigv4_form(
            bucket=pair.bucket, key=presigned["key"], content_type="text/csv", max_bytes=LIMIT,
            **kwargs,
        )  # fmt: skip

    order_ids = [f"{pair.a.sender_id}-v4-{n}" for n in range(4)]
    answers = [
        post(good["url"], signed(good), csv(order_ids[0])),
        post(expired["url"], signed(expired, expires_in=-5), csv(order_ids[1])),
        post(wrong_secret["url"], signed(wrong_secret, secret="guessed"), csv(order_ids[2])),
        post(unknown_key["url"], signed(unknown_key, access_key="AKIAOTHER"), csv(order_ids[3])),
    ]

    assert answers[0].status_code == 204, answers[0].text
    assert s3_error(answers[1])[:3] == (
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )
    assert s3_error(answers[2])[:2] == (403, "SignatureDoesNotMatch")
    assert s3_error(answers[3])[:2] == (403, "InvalidAccessKeyId")
    assert wait(served, pair.a, good["batch_id"])["stored"] == 1
    assert served.call("GET", f"/orders/{order_ids[0]}", key=pair.a.key).status_code == 200
    nothing_stored(served, pair, order_ids[1:])


def test_an_unsigned_form_is_refused(served: Served, pair: Pair) -> None:
    form = upload_form(served, pair.a)
    order_id = f"anonymous-{uuid.uuid4().hex[:6]}"

    response = post(form["url"], {"key": form["key"], "Content-Type": "text/csv"}, csv(order_id))

    assert s3_error(response)[:3] == (403, "AccessDenied", "Access Denied")
    assert absent(pair, form["key"])


def test_an_upload_url_never_used_ends_expired(served: Served, pair: Pair) -> None:
    form = upload_form(served, pair.a)
    batches = pair.stack.names["BATCHES_TABLE"]

    now = BatchRecords(pair.stack.dynamodb, batches).get(pair.a.sender_id, form["batch_id"])
    after = time.time() + form["expires_in"] + UPLOAD_EXPIRY_GRACE_SECONDS + 1
    later = BatchRecords(pair.stack.dynamodb, batches, clock=lambda: after).get(
        pair.a.sender_id, form["batch_id"]
    )

    assert now is not None
    assert later is not None
    ends = time.mktime(time.strptime(now["upload_expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    ends -= time.timezone  # the record's times are UTC
    assert abs(ends - (time.time() + form["expires_in"])) < 10
    assert (now["status"], later["status"]) == ("pending", "expired")
    batch = served.call("GET", f"/batches/{form['batch_id']}", key=pair.a.key).json()
    assert batch["status"] == "pending"  # its URL can still be used


def test_a_form_with_two_files_is_refused(served: Served, pair: Pair) -> None:
    form = upload_form(served, pair.a)
    part = ("o.csv", csv(f"two-files-{uuid.uuid4().hex[:6]}"), "text/csv")

    response = requests.post(
        form["url"], data=form["fields"], files=[("file", part), ("file", part)], timeout=60
    )

    assert s3_error(response)[:3] == (
        400,
        "InvalidArgument",
        "POST requires exactly one file upload per request.",
    )
    assert absent(pair, form["key"])
