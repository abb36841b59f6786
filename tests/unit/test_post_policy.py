"""The emulator's checks of a presigned POST (orderflow_cli/emulator/post_policy.py), form by
form: each refusal is S3's status and code, and a form S3 takes passes. Forms are signed by
the tests' own SigV4 implementation (tests/sigv4_post.py), never by the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from orderflow_cli.emulator.post_policy import (
    PolicyRefusal,
    check_form,
    patch_s3_post_policies,
    sigv4_signing_key,
)
from tests.sigv4_post import encode_policy, signature, signing_key, sigv4_form

BUCKET = "orderflow-local-orders"
KEY = "incoming/alpha/uploads/up-0123456789abcdef01234567/orders.csv"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def secret_for(access_key: str) -> str | None:
    return "testing" if access_key == "testing" else None


def form(**overrides: object) -> dict[str, str]:
    given = {"bucket": BUCKET, "key": KEY, "content_type": "text/csv", "max_bytes": 100}
    return sigv4_form(now=NOW, **{**given, **overrides})  # type: ignore[arg-type]


def check(fields: dict[str, str], *, key: str | None = KEY, size: int | None = 50) -> None:
    check_form(fields, bucket=BUCKET, key=key, size=size, secret_for=secret_for, now=NOW)


def refusal(fields: dict[str, str], **kwargs: object) -> PolicyRefusal:
    with pytest.raises(PolicyRefusal) as refused:
        check(fields, **kwargs)  # type: ignore[arg-type]
    return refused.value


def test_a_form_as_signed_is_taken() -> None:
    check(form())
    check(form(), size=1)
    check(form(), size=100)  # content-length-range is inclusive at both ends


def test_the_key_changed_to_another_senders_folder_fails_the_key_condition() -> None:
    fields = {**form(), "key": "incoming/beta/forged.csv"}

    refused = refusal(fields, key="incoming/beta/forged.csv")

    assert (refused.status, refused.code) == (403, "AccessDenied")
    assert refused.message == (
        f'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "{KEY}"]'
    )


def test_a_larger_or_empty_file_is_s3s_entity_too_large_or_too_small() -> None:
    large, small = refusal(form(), size=1_200_000), refusal(form(), size=0)

    assert (large.status, large.code) == (400, "EntityTooLarge")
    assert large.details == (("ProposedSize", "1200000"), ("MaxSizeAllowed", "100"))
    assert (small.status, small.code) == (400, "EntityTooSmall")
    assert small.details == (("ProposedSize", "0"), ("MinSizeAllowed", "1"))


def test_another_content_type_fails_its_condition() -> None:
    refused = refusal({**form(), "Content-Type": "application/json"})

    assert (refused.status, refused.code) == (403, "AccessDenied")
    assert '["eq", "$Content-Type", "text/csv"]' in refused.message


def test_an_expired_policy_is_refused_however_well_signed() -> None:
    refused = refusal(form(expires_in=-1))

    assert (refused.status, refused.code, refused.message) == (
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )


@pytest.mark.parametrize(
    "tamper",
    [
        "policy rewritten for another key",
        "signed with another secret",
        "signature of another date",
    ],
)
def test_a_policy_changed_after_signing_does_not_match_its_signature(tamper: str) -> None:
    fields = form()
    if tamper == "policy rewritten for another key":
        policy = json.loads(base64.b64decode(fields["policy"]))
        policy["conditions"] = [
            {"key": "incoming/beta/forged.csv"} if "key" in c else c for c in policy["conditions"]
        ]
        fields = {**fields, "key": "incoming/beta/forged.csv", "policy": encode_policy(policy)}
    elif tamper == "signed with another secret":
        fields = form(secret="not-the-secret")
    else:
        fields = {**fields, "x-amz-signature": signature(fields["policy"], "testing", "20260302")}

    refused = refusal(fields, key=fields["key"])

    assert (refused.status, refused.code) == (403, "SignatureDoesNotMatch")
    assert dict(refused.details)["StringToSign"] == fields["policy"]


def test_an_unknown_access_key_and_an_unsigned_form_are_refused() -> None:
    unknown = refusal(form(access_key="AKIAUNKNOWN"))
    anonymous = refusal({"key": KEY, "Content-Type": "text/csv"})

    assert (unknown.status, unknown.code) == (403, "InvalidAccessKeyId")
    assert (anonymous.status, anonymous.code, anonymous.message) == (
        403,
        "AccessDenied",
        "Access Denied",
    )


def test_a_field_no_condition_names_is_an_extra_input_field_unless_ignored() -> None:
    refused = refusal({**form(), "x-amz-meta-sender": "beta"})

    assert (refused.status, refused.code) == (403, "AccessDenied")
    assert refused.message == "Invalid according to Policy: Extra input fields: x-amz-meta-sender"
    check({**form(), "x-ignore-note": "anything"})  # S3 ignores x-ignore- fields


def test_field_names_are_matched_without_regard_to_case() -> None:
    fields = {name.upper() if name != "key" else name: v for name, v in form().items()}

    check(fields)


def test_starts_with_and_the_key_after_filename_is_replaced() -> None:
    policy = {
        "expiration": "2026-03-01T13:00:00Z",
        "conditions": [
            {"bucket": BUCKET},
            ["starts-with", "$key", "incoming/alpha/"],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": "testing/20260301/us-east-1/s3/aws4_request"},
            {"x-amz-date": "20260301T120000Z"},
        ],
    }
    encoded = encode_policy(policy)
    fields = {
        "key": "incoming/alpha/${filename}",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": "testing/20260301/us-east-1/s3/aws4_request",
        "x-amz-date": "20260301T120000Z",
        "policy": encoded,
        "x-amz-signature": signature(encoded, "testing", "20260301"),
    }

    check(fields, key="incoming/alpha/orders.csv")  # the key as stored, ${filename} replaced
    refused = refusal(fields, key="incoming/beta/orders.csv")
    assert '["starts-with", "$key", "incoming/alpha/"]' in refused.message


def test_a_form_without_a_file_or_key_or_with_a_broken_policy_is_a_400() -> None:
    no_file, no_key = refusal(form(), size=None), refusal(form(), key=None)
    broken = {**form(), "policy": "not base64!"}
    broken["x-amz-signature"] = signature(broken["policy"], "testing", "20260301")
    not_json = refusal(broken)

    assert (no_file.status, no_file.code) == (400, "InvalidArgument")
    assert (no_key.status, no_key.code) == (400, "InvalidArgument")
    assert (not_json.status, not_json.code) == (400, "InvalidPolicyDocument")


def test_a_legacy_signature_version_2_form_is_checked_too() -> None:
    policy = encode_policy(
        {
            "expiration": "2026-03-01T13:00:00Z",
            "conditions": [{"bucket": BUCKET}, {"key": KEY}, ["content-length-range", 1, 100]],
        }
    )
    digest = hmac.new(b"testing", policy.encode(), hashlib.sha1).digest()
    fields = {
        "key": KEY,
        "AWSAccessKeyId": "testing",
        "policy": policy,
        "signature": base64.b64encode(digest).decode(),
    }

    check(fields)
    assert refusal({**fields, "signature": "AAAA"}).code == "SignatureDoesNotMatch"
    assert refusal(fields, key="incoming/beta/x.csv").code == "AccessDenied"


def test_the_refusal_is_s3s_xml_error_document() -> None:
    status, headers, body = refusal(form(), size=500).answer()

    error = ET.fromstring(body)
    assert status == 400
    assert headers == {"Content-Type": "application/xml"}
    assert error.tag == "Error"
    assert error.findtext("Code") == "EntityTooLarge"
    assert error.findtext("ProposedSize") == "500"
    assert error.findtext("RequestId")


def test_the_tests_signer_is_the_documented_algorithm_and_agrees_with_botocores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the same signing key from the emulator's derivation and the tests' own
    assert sigv4_signing_key("s", "20260301", "us-east-1", "s3") == signing_key("s", "20260301")
    # a form botocore hands a client verifies with the tests' signer, and passes the check
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    post = client.generate_presigned_post(
        Bucket=BUCKET,
        Key=KEY,
        Fields={"Content-Type": "text/csv"},
        Conditions=[{"Content-Type": "text/csv"}, ["content-length-range", 1, 100]],
        ExpiresIn=300,
    )
    fields = post["fields"]
    date = fields["x-amz-credential"].split("/")[1]
    assert fields["x-amz-signature"] == signature(fields["policy"], "testing", date)
    now = datetime.now(UTC)
    check_form(fields, bucket=BUCKET, key=KEY, size=10, secret_for=secret_for, now=now)
    later = now + timedelta(seconds=301)
    with pytest.raises(PolicyRefusal, match="Policy expired"):
        check_form(fields, bucket=BUCKET, key=KEY, size=10, secret_for=secret_for, now=later)


def test_the_patch_is_applied_once() -> None:
    from moto.s3.responses import S3Response

    patch_s3_post_policies()
    patched = S3Response._bucket_response_post
    patch_s3_post_policies()

    assert S3Response._bucket_response_post is patched
    assert patched.__wrapped__ is not patched  # type: ignore[attr-defined]
