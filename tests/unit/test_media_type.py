"""A request body is JSON and says so."""

from __future__ import annotations

import pytest

from chalicelib.api.errors import UnsupportedMediaType
from chalicelib.api.media import check_body_type


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        ("Application/JSON; charset=utf-8", b"{}"),
        (" application/json ;charset=UTF-16", b"{}"),
        (None, b""),  # nothing sent, nothing to name
        ("application/json", b""),
    ],
)
def test_json_and_an_absent_body_pass(content_type: str | None, body: bytes) -> None:
    check_body_type(content_type, body)


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        (None, b"{}", "no Content-Type"),
        ("application/x-www-form-urlencoded", b"{}", "'application/x-www-form-urlencoded'"),
        ("text/plain", b"", "'text/plain'"),
        ("application/json-seq", b"{}", "'application/json-seq'"),
        ("application/vnd.api+json", b"{}", "'application/vnd.api+json'"),
        ("", b"{}", "''"),
    ],
)
def test_anything_else_is_a_415_that_says_what_to_send(
    content_type: str | None, body: bytes, says: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        check_body_type(content_type, body)

    assert raised.value.STATUS == 415
    assert raised.value.body()["error"]["code"] == "unsupported_media_type"
    assert says in raised.value.message
    assert "Content-Type: application/json" in raised.value.message
