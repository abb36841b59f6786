"""S3's checks of a presigned POST (a browser-based upload form), which moto does not make.

Upstream (moto/s3/responses.py, 5.2.x), `S3Response._bucket_response_post` stores a form
POST's file under whatever `key` field the form carries: it reads neither the `policy` nor its
signature. A sender who changed the `key` of its own upload form could write into another
sender's folder (`incoming/<other>/...`, processed as the other's orders) or over another
sender's report (`work/<other>/...`), and a file of any size or type went through a form signed
for 100 bytes of `text/csv`. S3 refuses each of these. `patch_s3_post_policies` makes the
emulator check every form upload as S3 does before moto stores anything (AWS's "POST Policy"
and "Authenticating Requests: Browser-Based Uploads Using POST (AWS Signature Version 4)"):

- the signature: `x-amz-signature`, the hex HMAC-SHA256 of the base64 `policy` field with the
  SigV4 signing key of `x-amz-credential` (`<access key>/<date>/<region>/s3/aws4_request`), or
  in a legacy Signature Version 2 form (`AWSAccessKeyId`, `signature`) the base64 HMAC-SHA1 of
  the policy with the secret key. The emulator knows two key pairs (`emulator_secret`): the
  one in its environment while it runs (moto's `FOOBARKEY`, which the app's presigner signs
  with) and its documented dummy pair, `testing`/`testing`. A form with no signature is
  anonymous, and the stack's bucket grants anonymous callers nothing;
- the policy's `expiration`;
- each condition: an exact match (`{"key": "..."}` or `["eq", "$key", "..."]`), a prefix
  (`["starts-with", "$key", "..."]`), `["content-length-range", min, max]` on the file's
  size; `bucket` is the bucket of the URL, and a condition on `key` is checked after
  `${filename}` is replaced, as S3 does. Field names are compared without regard to case;
- that every field of the form has a condition, but `policy`, `file`, the signature's own
  fields and fields named `x-ignore-...`.

Each refusal is S3's status and error code, in S3's XML error shape:
- a condition fails (`key`, `Content-Type`, ...): 403 `AccessDenied`, "Invalid according to
  Policy: Policy Condition failed: [...]" (the condition);
- a field no condition names: 403 `AccessDenied`, "... Extra input fields: <names>";
- the expiration has passed: 403 `AccessDenied`, "Invalid according to Policy: Policy expired.";
- the file is larger or smaller than `content-length-range`: 400 `EntityTooLarge` or
  `EntityTooSmall`, with `ProposedSize` and `MaxSizeAllowed` or `MinSizeAllowed`;
- the signature is not the policy's: 403 `SignatureDoesNotMatch`; an access key other than the
  emulator's: 403 `InvalidAccessKeyId`; no signature at all: 403 `AccessDenied`;
- a policy that is not base64 JSON with `expiration` and `conditions`: 400
  `InvalidPolicyDocument`; no `key`, no file, or a signature's field missing: 400
  `InvalidArgument`.

A form that passes goes on to moto's own handler unchanged; a multi-object delete (a POST to
the bucket with `?delete`) is not a form and is moto's alone.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
# Form fields no condition has to name (AWS: "POST Policy", Condition Matching).
_UNSIGNED_FIELDS = frozenset({"policy", "file", "x-amz-signature", "signature", "awsaccesskeyid"})
_IGNORED_PREFIX = "x-ignore-"
_SIGV4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy")
_SIGV2_FIELDS = ("awsaccesskeyid", "signature", "policy")

SecretLookup = Callable[[str], str | None]


class PolicyRefusal(Exception):
    """S3's answer to a form it refuses: its status, code, message and further elements."""

    def __init__(
        self, status: int, code: str, message: str, details: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        """The refusal as S3 sends it: an XML `Error` document."""
        elements = [("Code", self.code), ("Message", self.message), *self.details]
        elements.append(("RequestId", secrets.token_hex(8).upper()))
        body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in elements)
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'
        return self.status, {"Content-Type": "application/xml"}, xml.encode()


def _denied(message: str) -> PolicyRefusal:
    return PolicyRefusal(403, "AccessDenied", message)


def _invalid_argument(message: str) -> PolicyRefusal:
    return PolicyRefusal(400, "InvalidArgument", message)


def _missing_field(name: str) -> PolicyRefusal:
    return _invalid_argument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check"
        " the order of the fields."
    )


def _invalid_policy(message: str) -> PolicyRefusal:
    return PolicyRefusal(400, "InvalidPolicyDocument", f"Invalid Policy: {message}")


def sigv4_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 signing key of a credential scope (AWS's documented derivation)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_form(
    fields: Mapping[str, str],
    *,
    bucket: str,
    key: str | None,
    size: int | None,
    secret_for: SecretLookup,
    now: datetime,
) -> None:
    """Raises `PolicyRefusal` with S3's answer unless S3 would take this form upload.

    `fields` are the form's fields (the file aside) as sent, `key` the key moto would store
    under (`${filename}` replaced), `size` the file's size in bytes (None: the form has no
    file), `secret_for` the secret key of an access key id (None: not known)."""
    named = {name.lower(): value for name, value in fields.items()}
    if key is None:
        raise _missing_field("key")
    if "x-amz-signature" in named or "x-amz-algorithm" in named or "x-amz-credential" in named:
        _check_sigv4(named, secret_for)
    elif "signature" in named or "awsaccesskeyid" in named:
        _check_sigv2(named, secret_for)
    else:
        raise _denied("Access Denied")  # anonymous: the bucket grants anonymous callers nothing
    policy = _policy_of(named["policy"])
    if now > _expiration_of(policy):
        raise _denied("Invalid according to Policy: Policy expired.")
    ranges = _check_conditions(policy, named, {**named, "bucket": bucket, "key": key})
    if size is None:
        raise _invalid_argument("POST requires exactly one file upload per request.")
    for low, high in ranges:
        if size > high:
            raise PolicyRefusal(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                (("ProposedSize", str(size)), ("MaxSizeAllowed", str(high))),
            )
        if size < low:
            raise PolicyRefusal(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
                (("ProposedSize", str(size)), ("MinSizeAllowed", str(low))),
            )


def _check_conditions(
    policy: Mapping[str, Any], named: Mapping[str, str], values: Mapping[str, str]
) -> list[tuple[int, int]]:
    """Refuses a form that fails a condition of the policy or has a field no condition names;
    returns the policy's content-length ranges, which the file's size is checked against."""
    ranges: list[tuple[int, int]] = []
    conditioned: set[str] = set()
    for condition in policy["conditions"]:
        for kind, name, expected in _conditions_in(condition):
            if kind == "content-length-range":
                ranges.append(_range_of(condition))
                continue
            conditioned.add(name.lower())
            value = values.get(name.lower(), "")
            met = value == expected if kind == "eq" else value.startswith(expected)
            if not met:
                shown = json.dumps([kind, f"${name}", expected])
                raise _denied(f"Invalid according to Policy: Policy Condition failed: {shown}")
    extra = sorted(
        name
        for name in named
        if name not in conditioned
        and name not in _UNSIGNED_FIELDS
        and not name.startswith(_IGNORED_PREFIX)
    )
    if extra:
        raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    return ranges


def _check_sigv4(named: Mapping[str, str], secret_for: SecretLookup) -> None:
    for name in _SIGV4_FIELDS:
        if name not in named:
            raise _missing_field(name)
    if named["x-amz-algorithm"] != SIGV4_ALGORITHM:
        raise _invalid_argument(
            f"x-amz-algorithm {named['x-amz-algorithm']!r} is not supported: use {SIGV4_ALGORITHM}"
        )
    scope = named["x-amz-credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _invalid_argument(
            f"x-amz-credential {named['x-amz-credential']!r} is not"
            " <access key>/<date>/<region>/<service>/aws4_request"
        )
    access_key, date, region, service, _ = scope
    secret = _secret(access_key, secret_for)
    signing_key = sigv4_signing_key(secret, date, region, service)
    expected = hmac.new(signing_key, named["policy"].encode(), hashlib.sha256).hexdigest()
    _compare(expected, named["x-amz-signature"], access_key, named["policy"])


def _check_sigv2(named: Mapping[str, str], secret_for: SecretLookup) -> None:
    for name in _SIGV2_FIELDS:
        if name not in named:
            raise _missing_field({"awsaccesskeyid": "AWSAccessKeyId"}.get(name, name))
    access_key = named["awsaccesskeyid"]
    secret = _secret(access_key, secret_for)
    digest = hmac.new(secret.encode(), named["policy"].encode(), hashlib.sha1).digest()
    _compare(base64.b64encode(digest).decode(), named["signature"], access_key, named["policy"])


def _secret(access_key: str, secret_for: SecretLookup) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise PolicyRefusal(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            (("AWSAccessKeyId", access_key),),
        )
    return secret


def _compare(expected: str, provided: str, access_key: str, policy: str) -> None:
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise PolicyRefusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
            " Check your key and signing method.",
            (
                ("AWSAccessKeyId", access_key),
                ("StringToSign", policy),
                ("SignatureProvided", provided),
            ),
        )


def _policy_of(encoded: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise _invalid_policy("Invalid JSON.") from error
    if not isinstance(policy, dict):
        raise _invalid_policy("Invalid JSON.")
    if "expiration" not in policy:
        raise _invalid_policy("Policy missing expiration.")
    if not isinstance(policy.get("conditions"), list):
        raise _invalid_policy("Policy missing conditions.")
    return policy


def _expiration_of(policy: Mapping[str, Any]) -> datetime:
    given = policy["expiration"]
    try:
        expiration = datetime.fromisoformat(str(given).replace("Z", "+00:00"))
    except ValueError as error:
        raise _invalid_policy(f"Invalid 'expiration' value: '{given}'") from error
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return expiration


def _conditions_in(condition: Any) -> list[tuple[str, str, str]]:
    """`(kind, field name, expected)` for each check a condition makes: `eq`, `starts-with`,
    or `content-length-range` (checked on the file, not a field)."""
    if isinstance(condition, dict) and condition:
        return [(_EQ, str(name), _text(value, condition)) for name, value in condition.items()]
    if isinstance(condition, list) and condition and isinstance(condition[0], str):
        kind = condition[0].lower()
        if kind == "content-length-range" and len(condition) == 3:
            return [(kind, "", "")]
        if kind in {_EQ, "starts-with"} and len(condition) == 3:
            name = condition[1]
            if isinstance(name, str) and name.startswith("$"):
                return [(kind, name[1:], _text(condition[2], condition))]
    raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}")


_EQ = "eq"


def _text(value: Any, condition: Any) -> str:
    if not isinstance(value, str):
        raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}")
    return value


def _range_of(condition: list[Any]) -> tuple[int, int]:
    try:
        low, high = int(condition[1]), int(condition[2])
    except (TypeError, ValueError) as error:
        raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}") from error
    return low, high


# The emulator's documented dummy key pair (`runtime._FAKE_CREDENTIALS`, and the clients of
# `orders ... --endpoint`): a client that signs a form of its own with it is known, as a key
# pair of the account is on AWS.
DUMMY_KEY_PAIR = ("testing", "testing")


def emulator_secret(access_key: str) -> str | None:
    """The secret key of an access key the emulator knows: the pair in its environment while
    it runs (moto's own, which the app's presigner signs with), or the dummy pair; None for
    any other key."""
    if access_key and access_key == os.environ.get("AWS_ACCESS_KEY_ID"):
        return os.environ.get("AWS_SECRET_ACCESS_KEY")
    return DUMMY_KEY_PAIR[1] if access_key == DUMMY_KEY_PAIR[0] else None


_applied = False


def patch_s3_post_policies() -> None:
    """Makes moto check each form upload (presigned POST) as S3 does (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post

    @functools.wraps(original)
    def bucket_response_post(response: S3Response, request: Any, bucket_name: str) -> Any:
        query = parse_qs(urlparse(S3Response._get_path(request)).query, keep_blank_values=True)
        if not request.headers.get("Content-Length") or "delete" in query:
            return original(response, request, bucket_name)  # moto's 411, or not a form
        try:
            check_form(
                dict(response.form_data.items()),
                bucket=bucket_name,
                key=(response.querystring.get("key") or [None])[0],
                size=_file_size(response, request),
                secret_for=emulator_secret,
                now=datetime.now(UTC),
            )
        except PolicyRefusal as refusal:
            return refusal.answer()
        return original(response, request, bucket_name)

    setattr(S3Response, "_bucket_response_post", bucket_response_post)  # noqa: B010
    _applied = True


def _file_size(response: Any, request: Any) -> int | None:
    """The size of the form's one file, the field `file`, as moto read it (`setup_class`);
    None unless the form has exactly one file and it is that field (S3 takes no other)."""
    parts = [name for name, _ in request.files.items(multi=True)] if request.files else []
    if "file" in response.form_data:  # a file part sent without a filename
        parts.append("file")
    if parts != ["file"]:
        return None
    body = response.body
    return len(body.encode() if isinstance(body, str) else body)
