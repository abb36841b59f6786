"""The one media type of the API's request bodies: JSON, and a body says so.

Chalice answers a Content-Type other than its routes' own with a 415 of its own shape
(`{"Code", "Message"}`), and takes a body sent without one for JSON. Here both are the API's
415 `unsupported_media_type`, in the API's error shape, before Chalice looks.
"""

from __future__ import annotations

from chalicelib.api.errors import UnsupportedMediaType

JSON = "application/json"


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
