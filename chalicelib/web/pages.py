"""The partners' page: its files, served by the API function itself under a strict policy.

The page is plain HTML, CSS and JavaScript modules in `static/` (no build step, no third-party
origin): `GET /` answers `index.html` and `GET /static/{name}` the rest. It talks only to the
public API, with the same authorizer as every other client, and to S3 for the presigned upload.

Every answer carries the same Content Security Policy: scripts and styles only from the page's
own origin (no inline script, style or handler), connections only to the API and to the S3
origin the presigned POSTs go to, no form submission, no `<base>`, and no framing
(`frame-ancestors 'none'`, with `X-Frame-Options: DENY` for older browsers). The S3 origin is
the one the API's own presigner signs for (on AWS the bucket's regional endpoint, on
`orders serve` the local emulator's address), so the policy can never disagree with the URLs
the API hands out.

`fields.json` is built here from the order's fields, the group each belongs to
(`records.ORDER_GROUPS`) and their synonyms (`readers.names`), so the page's mapping editor and
its editor of rejected rows know the order exactly as the reader builds it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from chalicelib.orders.readers.names import SYNONYMS
from chalicelib.orders.records import ORDER_FIELDS, ORDER_GROUPS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Page", "content_security_policy", "index", "s3_origin", "static_file"]

STATIC: Final = Path(__file__).with_name("static")
FIELDS: Final = "fields.json"  # built from the readers' names, not a file
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# What a static name may be: one file of `static/`, never a path (no `/`, no `..`).
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(?:js|css|json|svg)$")


@dataclass(frozen=True, slots=True)
class Page:
    """One answer: its text and headers (the policy's included)."""

    body: str
    headers: dict[str, str | list[str]] = field(default_factory=dict)


def content_security_policy(s3: str) -> str:
    """The page's policy; `s3` is the origin uploads go to (`https://host[:port]`), or empty."""
    connect = " ".join(part for part in ("'self'", s3) if part)
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def s3_origin(presigner: S3Client, bucket: str) -> str:
    """The origin (`scheme://host[:port]`) the presigner's upload URLs for `bucket` point at.
    Signing is local arithmetic: no request is made."""
    url = presigner.generate_presigned_post(bucket, "probe")["url"]
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def index(s3: str) -> Page:
    """The page itself (never cached: a deploy's new page is seen at once)."""
    headers = _headers(s3, _TYPES[".html"])
    headers["Cache-Control"] = "no-store"
    return Page(_read("index.html"), headers)


def static_file(name: str, s3: str) -> Page | None:
    """`static/<name>`, or None for a name that is not one of the page's files."""
    if not _NAME.fullmatch(name):
        return None
    if name == FIELDS:
        body = _fields()
    elif name in _files():
        body = _read(name)
    else:
        return None
    headers = _headers(s3, _TYPES[Path(name).suffix])
    headers["Cache-Control"] = "no-cache"  # revalidated: a deploy's new script is seen at once
    return Page(body, headers)


def _headers(s3: str, content_type: str) -> dict[str, str | list[str]]:
    return {
        "Content-Type": content_type,
        "Content-Security-Policy": content_security_policy(s3),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


@cache
def _files() -> frozenset[str]:
    return frozenset(path.name for path in STATIC.iterdir() if _NAME.fullmatch(path.name))


@cache
def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@cache
def _fields() -> str:
    return json.dumps(
        {
            "fields": list(ORDER_FIELDS),
            "groups": {name: group for group, names in ORDER_GROUPS.items() for name in names},
            "synonyms": {k: list(v) for k, v in SYNONYMS.items()},
        }
    )
