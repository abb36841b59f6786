"""GET /batches/{batch_id}/rejections: the batch's rejection report a page at a time, every row
once and in file order, read by ranged GETs; only the caller's own batch, only once it ended."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws, wiring
from chalicelib.api import rejections, service
from chalicelib.api.errors import ApiError
from chalicelib.contracts import Reason, Rejection
from chalicelib.contracts.completion import Counts
from chalicelib.orders.records import FieldError
from chalicelib.pipeline import report
from chalicelib.pipeline.batches import BatchRecords
from chalicelib.pipeline.report import ReportWriter, extra_columns
from chalicelib.review.queries import decode_document, encode_document
from tests.conftest import order
from tests.unit.conftest import MotoStack

ROWS = 2_150
REASONS = (Reason.INVALID, Reason.INVALID, Reason.CONFLICT, Reason.STORE_FAILED)


def _rejection(row: int) -> Rejection:
    # every 50th order is large (a 20 KB description: lines cross the read windows)
    desc = ("ü" * 20_000) if row % 50 == 0 else f"<script>alert({row})</script>"
    shown = order(f"o-{row}", qty="0", extra_field='=HYPERLINK("x")')
    shown["order-info"]["item-desc"] = desc
    error = FieldError("order-info.qty", "qty.not_positive_integer", "qty must be ...", "0")
    return Rejection(row, shown, f"o-{row}", REASONS[row % 4], (error,))


@pytest.fixture
def ended(batches_table: str, moto_stack: MotoStack) -> dict[str, Any]:
    """A batch of acme's that ended with 2,150 rejections (rows 2, 4, ...), its report in S3."""
    settings = moto_stack.settings
    aws.s3().create_bucket(Bucket=settings.bucket)
    made = [_rejection(row) for row in range(2, 2 * ROWS + 2, 2)]
    writer = ReportWriter(extra_columns(r.order for r in made))
    for rejection in made:
        writer.add(rejection)
    keys = writer.upload(aws.s3(), settings.bucket, "work/acme/b-1/report/")
    records = BatchRecords(aws.dynamodb(), settings.batches_table)
    records.start("acme", "b-1", bucket=settings.bucket, key="incoming/acme/a.csv", version=None)
    counts = Counts(total=ROWS, rejected=ROWS)
    records.finish("acme", "b-1", status="succeeded", counts=counts, error=None, report=keys)
    return {"rejections": made, "keys": keys, "records": records}


def _pages(deps: Any, limit: str, reason: str | None = None, batch: str = "b-1") -> list[Any]:
    pages, cursor = [], None
    while True:
        page = service.list_rejections(
            batch, sender="acme", reason=reason, limit=limit, cursor=cursor, deps=deps
        )
        pages.append(page)
        cursor = page.get("next")
        if cursor is None:
            return pages
        assert len(pages) < 5_000


def _reading_ranges(deps: Any) -> list[str]:
    """The Range of every GetObject the caller's (scoped) clients make from now on."""
    ranges: list[str] = []
    client = deps.reads("acme").presigner
    client.meta.events.register(
        "provide-client-params.s3.GetObject",
        lambda params, **_: ranges.append(params.get("Range", "")),
    )
    return ranges


@pytest.mark.parametrize("limit", ["100", "500", "137"])
def test_every_rejected_row_once_in_file_order_by_ranged_reads(
    ended: dict[str, Any], moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.setattr(report, "READ_WINDOW", 16 * 1024)  # many windows, lines across them
    deps = wiring.api_deps(moto_stack.settings)
    ranges = _reading_ranges(deps)

    pages = _pages(deps, limit)

    rows = [r for page in pages for r in page["rejections"]]
    assert rows == [r.to_dict() for r in ended["rejections"]]  # each once, order included
    assert all(len(p["rejections"]) == int(limit) for p in pages[:-1])
    assert {p["batch_id"] for p in pages} == {"b-1"}
    assert ranges
    assert all(r.startswith("bytes=") for r in ranges)
    for each in ranges:
        first, last = map(int, each.removeprefix("bytes=").split("-"))
        assert last - first + 1 == 16 * 1024  # never the whole report at once
    hostile = rows[0]
    assert hostile["order"]["order-info"]["item-desc"] == "<script>alert(2)</script>"
    assert hostile["order"]["extra_field"] == '=HYPERLINK("x")'  # as sent, not neutralised


@pytest.mark.parametrize("reason", ["invalid", "conflict", "store_failed"])
def test_a_reason_gives_that_reasons_rows_alone(
    ended: dict[str, Any], moto_stack: MotoStack, reason: str
) -> None:
    pages = _pages(wiring.api_deps(moto_stack.settings), "100", reason)

    rows = [r for page in pages for r in page["rejections"]]
    assert rows == [r.to_dict() for r in ended["rejections"] if r.reason == reason]


def test_a_filter_that_matches_little_stops_reading_and_hands_on_a_cursor(
    ended: dict[str, Any], moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rejections, "SCAN_BYTES", 50_000)
    pages = _pages(wiring.api_deps(moto_stack.settings), "500", "conflict")
    rows = [r["row"] for page in pages for r in page["rejections"]]
    assert rows == [r.row for r in ended["rejections"] if r.reason == "conflict"]
    assert len(pages) > 5  # it did stop and go on


def test_a_page_is_cut_by_its_size_too(
    ended: dict[str, Any], moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rejections, "PAGE_BYTES", 100_000)
    pages = _pages(wiring.api_deps(moto_stack.settings), "500")
    rows = [r["row"] for page in pages for r in page["rejections"]]
    assert rows == [r.row for r in ended["rejections"]]
    assert max(len(json.dumps(p["rejections"])) for p in pages) < 250_000


def _refused(deps: Any, batch: str = "b-1", sender: str = "acme", **query: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        service.list_rejections(batch, sender=sender, deps=deps, **query)
    return refused.value


def test_another_senders_batch_answers_as_none_and_a_running_one_is_not_ended(
    ended: dict[str, Any], moto_stack: MotoStack
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    records: BatchRecords = ended["records"]
    records.start("acme", "b-2", bucket="b", key="k", version=None)

    assert (_refused(deps, sender="other").STATUS, _refused(deps, sender="other").code) == (
        404, "not_found",
    )  # fmt: skip
    assert _refused(deps, batch="nope").code == "not_found"
    assert _refused(deps, batch="../b-1").code == "not_found"
    not_ended = _refused(deps, batch="b-2")
    assert (not_ended.STATUS, not_ended.code) == (409, "batch_not_ended")


def test_an_ended_batch_without_rejections_answers_an_empty_list(
    ended: dict[str, Any], moto_stack: MotoStack
) -> None:
    records: BatchRecords = ended["records"]
    records.finish(
        "acme", "clean", status="succeeded", counts=Counts(total=2, stored=2), error=None
    )
    deps = wiring.api_deps(moto_stack.settings)
    assert service.list_rejections("clean", sender="acme", deps=deps) == {
        "batch_id": "clean",
        "rejections": [],
    }


def test_a_cursor_of_another_query_or_report_is_a_bad_cursor(
    ended: dict[str, Any], moto_stack: MotoStack
) -> None:
    deps = wiring.api_deps(moto_stack.settings)
    first = service.list_rejections("b-1", sender="acme", limit="10", deps=deps)
    cursor = first["next"]
    document = decode_document(cursor, ("t", "s", "b", "r", "o", "e"))
    assert _refused(deps, cursor=cursor, reason="invalid").code == "bad_cursor"
    assert _refused(deps, cursor=cursor, sender="other").code == "bad_cursor"  # before the 404
    for change in ({"o": document["o"] + 3}, {"o": 0}, {"o": -5}, {"e": "x/y"}, {"b": "b-2"}):
        forged = encode_document({**document, **change})
        assert _refused(deps, cursor=forged).code == "bad_cursor", change
    # the report written again (a redrive), its lines where they were: only its ETag tells
    settings = moto_stack.settings
    key = ended["keys"]["jsonl"]
    body = aws.s3().get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    again = body.replace(b'"o-2"', b'"o-X"')
    assert len(again) == len(body)
    assert again != body
    aws.s3().put_object(Bucket=settings.bucket, Key=key, Body=again)
    changed = _refused(deps, cursor=cursor)
    assert changed.code == "bad_cursor"
    assert "written again" in changed.message


@pytest.mark.parametrize(
    ("query", "code"),
    [({"reason": "lost"}, "bad_reason"), ({"limit": "501"}, "bad_limit"),
     ({"limit": "0"}, "bad_limit"), ({"cursor": "%%%"}, "bad_cursor")],
)  # fmt: skip
def test_a_bad_parameter_is_a_400(
    ended: dict[str, Any], moto_stack: MotoStack, query: dict[str, str], code: str
) -> None:
    refused = _refused(wiring.api_deps(moto_stack.settings), **query)
    assert (refused.STATUS, refused.code) == (400, code)
