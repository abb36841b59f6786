"""POST /orders takes JSON text only: a workbook, a gzip stream or another binary file sent as
its body is a 415 before anything reads it, whatever Content-Type it came with (issue 21: a
1 MB workbook bomb posted as the body answered 202 after 22.5 s, its handler 2 GB larger)."""

from __future__ import annotations

import codecs
import gzip
import json
import time
import tracemalloc
from typing import Any
from unittest import mock

import pytest

from chalicelib.api.errors import UnsupportedMediaType
from chalicelib.api.media import check_json_content
from chalicelib.api.service import Deps, accept_orders
from chalicelib.settings import Settings
from tests.api.conftest import Served
from tests.unit.readers.bombs import (
    GiB,
    gzip_of,
    header_row,
    order_row,
    repeated,
    sheet_of,
    xlsx,
)
from tests.unit.readers.support import order, workbook

ORDERS = json.dumps({"orders": [order("1")]}).encode()


@pytest.fixture(scope="module")
def workbook_bomb() -> bytes:
    """1 MB: a sheet of 1 GiB of whitespace."""
    return xlsx(sheet_of(header_row(), repeated(b" ", GiB), order_row(2)), level=9)


def bodies(bomb: bytes) -> list[tuple[str, bytes]]:
    return [
        ("a workbook bomb", bomb),
        ("a workbook", workbook(("Orders", [["OrderId"], ["1"]]))),
        ("gzip of JSON", gzip.compress(ORDERS)),
        ("gzip of 2 GiB of blank lines", gzip_of(b"", b"\n", 2 * GiB)),
        ("a legacy workbook", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512),
        ("a PDF", b"%PDF-1.7\n"),
        ("a PNG", b"\x89PNG\r\n\x1a\n" + b"\0" * 16),
    ]


def test_json_text_passes(workbook_bomb: bytes) -> None:
    for body in (ORDERS, codecs.BOM_UTF8 + ORDERS, b"", b"  [1]", b"not json at all"):
        check_json_content(body)  # what is not JSON is the reader's 400 to say


def test_a_file_sent_as_the_body_is_refused_before_it_is_read(workbook_bomb: bytes) -> None:
    deps = Deps(
        Settings.model_validate({}),
        s3=_unused(),
        sfn=_unused(),
        dynamodb=_unused(),
        presigner=_unused(),
    )
    for what, body in bodies(workbook_bomb):
        tracemalloc.start()
        started = time.perf_counter()
        with pytest.raises(UnsupportedMediaType) as refused:
            accept_orders(body, idempotency_key=None, callback_url=None, sender="s", deps=deps)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        assert refused.value.STATUS == 415, what
        assert refused.value.code == "unsupported_media_type", what
        assert "POST /uploads" in refused.value.message, what
        assert seconds < 0.05, (what, seconds)
        assert peak < 64 * 1024, (what, peak)  # nothing of the body was unpacked


def _unused() -> Any:
    """A client the refusal must never reach."""
    return mock.NonCallableMock(spec=[])  # any attribute it is asked for is an error


def test_a_workbook_bomb_posted_as_json_is_a_415_at_once(
    served: Served, workbook_bomb: bytes
) -> None:
    typed = {"Content-Type": "application/json"}

    started = time.perf_counter()
    response = served.call("POST", "/orders", data=workbook_bomb, headers=typed)
    seconds = time.perf_counter() - started

    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "ZIP archive" in response.json()["error"]["message"]
    assert seconds < 2
    good = served.call("POST", "/orders", data=json.dumps([order("json-only-1")]), headers=typed)
    assert good.status_code == 202, good.text
    assert served.wait_for(good.json()["batch_id"])["status"] == "succeeded"
