"""The one media type of the API's request bodies: JSON, and a body says so.

Chalice answers a Content-Type other than its routes' own with a 415 of its own shape
(`{"Code", "Message"}`), and takes a body sent without one for JSON. Here both are the API's
415 `unsupported_media_type`, in the API's error shape, before Chalice looks.

A body that says it is JSON must also be JSON text: `check_json_content` refuses, by its first
bytes, a gzip stream, a ZIP archive (an .xlsx workbook), an OLE2 file (.xls), a PDF or an image
with the same 415 before anything reads it, so that the API handler (256 MB, 29 s) never
unpacks or parses a file; such files go through POST /uploads, where PrepareFile reads them
within their budget.
"""

from __future__ import annotations

from typing import Final

from chalicelib.api.errors import UnsupportedMediaType

JSON = "application/json"

# What a body that is not JSON text starts with, and what it is then.
_NOT_JSON: Final = (
    (b"\x1f\x8b", "a gzip stream"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
    (b"PK\x05\x06", "a ZIP archive (an .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 file (a legacy .xls workbook)"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)


def check_body_type(content_type: str | None, body: bytes) -> None:
    """Raises `UnsupportedMediaType` for a request that names another media type than JSON
    (parameters such as `charset` aside), or that carries a body without naming one."""
    if content_type is None:
        if body:
            raise UnsupportedMediaType(
                f"the body has no Content-Type: send it as JSON with Content-Type: {JSON}"
            )
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != JSON:
        raise UnsupportedMediaType(
            f"Content-Type {content_type[:100]!r} is not supported: send JSON with "
            f"Content-Type: {JSON}"
        )


def check_json_content(body: bytes) -> None:
    """Raises `UnsupportedMediaType` for a body whose first bytes say it is a file of another
    kind (gzip, ZIP, OLE2, PDF, an image), whatever its Content-Type said: POST /orders reads
    JSON text only."""
    for magic, what in _NOT_JSON:
        if body.startswith(magic):
            raise UnsupportedMediaType(
                f"the body is {what}, not JSON text: POST /orders takes a JSON document only "
                "(sent as is, not compressed); send other files through POST /uploads"
            )
