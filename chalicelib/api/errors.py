"""The API's errors: each carries its HTTP status and a stable code, mapped in one place
(`to_response`). The body is always `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    """An error a client can act on."""

    STATUS: ClassVar[int] = 400
    CODE: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.CODE
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError):
    """The request is malformed (not JSON, not a list of orders, a bad parameter)."""


class PayloadTooLarge(ApiError):
    """The request carries more orders or bytes than one request may."""

    STATUS = 413
    CODE = "payload_too_large"


class NotFound(ApiError):
    """No such batch or order."""

    STATUS = 404
    CODE = "not_found"


class MethodNotAllowed(ApiError):
    """The route exists, but not with this method (answered by the local server; on AWS, API
    Gateway answers it before any function runs)."""

    STATUS = 405
    CODE = "method_not_allowed"


class Conflict(ApiError):
    """The request contradicts an earlier one (an Idempotency-Key reused with another body), or
    the state of what it names (the rejections of a batch that has not ended)."""

    STATUS = 409
    CODE = "conflict"


class UnsupportedMediaType(ApiError):
    """The body's content type is not one the route takes."""

    STATUS = 415
    CODE = "unsupported_media_type"


INTERNAL_ERROR_BODY = {
    "error": {"code": "internal_error", "message": "the request could not be processed"}
}
