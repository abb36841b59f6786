"""A request's body read as HTTP/1.1 frames it, with API Gateway's limits, for the local server.

`read_body` reads `Content-Length` bytes, or a chunked body (`Transfer-Encoding: chunked`; chunk
extensions ignored, trailer fields read and dropped, as API Gateway does). A body whose framing
cannot be read (a Content-Length that is not one number, another transfer coding, both at once,
a broken or short chunk, a body that ends early) raises `Unreadable` with a 400, and one over
API Gateway's 10 MB payload limit with a 413, each in the API's error shape: the caller answers
it and closes the connection (where the next request would start is unknown).
"""

from __future__ import annotations

import re
from email.message import Message
from typing import BinaryIO

from chalicelib.api.errors import ApiError, BadRequest, PayloadTooLarge

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's largest request payload (REST APIs: 10 MB)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class Unreadable(Exception):
    """The request's body cannot be read: answered with `error`, then the connection closes."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def read_body(headers: Message, rfile: BinaryIO) -> bytes:
    """The body of the request whose `headers` were read from `rfile`, read from it."""
    lengths = headers.get_all("Content-Length") or []
    coding = headers.get("Transfer-Encoding")
    if coding is not None:
        if [c.strip().lower() for c in coding.split(",")] != ["chunked"]:
            raise Unreadable(
                BadRequest(f"Transfer-Encoding {coding!r} is not supported: send chunked")
            )
        if lengths:
            raise Unreadable(
                BadRequest("a request has Content-Length or Transfer-Encoding, not both")
            )
        return _read_chunks(rfile)
    if not lengths:
        return b""
    if len({v.strip() for v in lengths}) != 1 or not _is_digits(lengths[0].strip()):
        shown = ", ".join(repr(v) for v in lengths)
        raise Unreadable(BadRequest(f"Content-Length {shown} is not a number of bytes"))
    length = int(lengths[0].strip())
    if length > MAX_BODY_BYTES:
        raise Unreadable(_too_large(length))
    body: bytes = rfile.read(length)
    if len(body) < length:
        raise Unreadable(
            BadRequest(f"the body ended after {len(body)} of {length} bytes (Content-Length)")
        )
    return body


def _read_chunks(rfile: BinaryIO) -> bytes:
    body = bytearray()
    while True:
        size_line = rfile.readline(1024)
        size_text = size_line.split(b";", 1)[0].strip()  # a chunk extension is ignored
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise Unreadable(BadRequest("the chunked body has a malformed chunk size"))
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > MAX_BODY_BYTES:
            raise Unreadable(_too_large(len(body) + size))
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise Unreadable(BadRequest("the chunked body ended inside a chunk"))
        body += chunk
    while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
        pass  # trailer fields: not passed on (API Gateway does not either)
    return bytes(body)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _too_large(size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body has at least {size} bytes; API Gateway takes at most {MAX_BODY_BYTES}"
    )
