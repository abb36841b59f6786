"""Unit tests for chalicelib.pipeline.chunks (cut, ChunkStore) and chalicelib.log."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.contracts import ChunkOutcome, Reason, Rejection
from chalicelib.costs import Requests
from chalicelib.log import JsonFormatter, configure, get_logger, mask_emails
from chalicelib.orders.records import FieldError, Record
from chalicelib.pipeline.chunks import ChunkRef, ChunkStore, cut
from chalicelib.pipeline.naming import BatchKeys
from tests.conftest import order

BUCKET = "orderflow-test"


def records(count: int, **extra: Any) -> list[Record]:
    return [Record(row, order(f"O-{row}", **extra)) for row in range(1, count + 1)]


def decoded(chunk: list[str]) -> list[list[Any]]:
    return [json.loads(encoded) for encoded in chunk]


# --- cut --------------------------------------------------------------------------------------


def test_cut_bounds_chunks_by_count_and_keeps_order_and_rows():
    # given 10 small records
    given = records(10)

    # when cut into chunks of at most 3 (bytes no limit)
    chunks = list(cut(given, max_orders=3, max_bytes=10**9))

    # then 3 + 3 + 3 + 1, in file order, each record with its row and order as given
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    flat = [item for chunk in chunks for item in decoded(chunk)]
    assert flat == [[r.row, r.order, None] for r in given]


def test_cut_bounds_chunks_by_bytes():
    # given records of about 200 bytes each
    given = records(20, note="n" * 100)
    [[one]] = list(cut(given[:1], 1, 10**9))
    assert 150 < len(one.encode()) < 400

    # when cut with a byte bound that fits a few of them, and no count bound
    max_bytes = 1000
    chunks = list(cut(given, max_orders=10**6, max_bytes=max_bytes))

    # then each chunk, joined as it is written, stays within the bound and none is empty
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk
        assert len(",".join(chunk).encode()) <= max_bytes
    # and a chunk is only closed when the next record would not fit
    for chunk, following in itertools.pairwise(chunks):
        assert len(",".join([*chunk, following[0]]).encode()) > max_bytes
    assert [item[0] for chunk in chunks for item in decoded(chunk)] == list(range(1, 21))


def test_the_byte_bound_is_exact_and_counts_the_separators():
    # given nine records of exactly the same encoded length
    given = records(9)
    lengths = {len(encoded) for chunk in cut(given, 1, 10**9) for encoded in chunk}
    [length] = lengths

    # when the bound is exactly three records joined by commas, then chunks hold three
    fits_three = 3 * length + 2
    assert [len(c) for c in cut(given, 100, fits_three)] == [3, 3, 3]

    # and one byte less leaves no room for the third
    assert [len(c) for c in cut(given, 100, fits_three - 1)] == [2, 2, 2, 2, 1]


def test_a_record_larger_than_the_byte_bound_is_rejected_alone_and_no_chunk_passes_it():
    # given a huge record between two small ones
    given = [
        Record(1, order("1")),
        Record(2, order("2", blob="b" * 5000)),
        Record(3, order("3")),
    ]

    # when cut with a bound smaller than the huge record
    chunks = list(cut(given, max_orders=100, max_bytes=1024))

    # then it is neither dropped nor split, nor written whole: its row is rejected on its own
    # with an excerpt, and every chunk stays within the bound
    items = [item for chunk in chunks for item in decoded(chunk)]
    assert [item[0] for item in items] == [1, 2, 3]
    assert all(len(",".join(chunk).encode()) <= 1024 for chunk in chunks)
    assert items[0][2] is None
    assert items[2][2] is None
    _, excerpt, error = items[1]
    assert error["code"] == "row.too_large"
    assert excerpt.startswith('[2, {"order-info"')
    assert len(excerpt) < 300


def test_cut_of_nothing_is_no_chunk():
    assert list(cut([], max_orders=10, max_bytes=1000)) == []


def test_cut_keeps_a_parse_error_with_its_record():
    # given a record that could not be parsed
    error = FieldError("row", "row.invalid_json", "not JSON", None)
    given = [Record(1, order("1")), Record(2, '{"order-info": ', error)]

    # when cut, then the error travels with the raw text
    [chunk] = list(cut(given, 10, 10**6))
    assert decoded(chunk)[1] == [2, '{"order-info": ', error.to_dict()]


def test_cut_bounds_non_ascii_chunks_in_bytes():
    # given records whose text is mostly two-byte characters
    given = records(20, note="é" * 100)

    # when cut with a byte bound
    chunks = list(cut(given, max_orders=10**6, max_bytes=1000))

    # then every chunk, as written to S3 (UTF-8), stays within the bound
    assert all(len(",".join(chunk).encode()) <= 1000 for chunk in chunks)


# --- ChunkStore -------------------------------------------------------------------------------


@pytest.fixture
def chunk_store() -> Iterator[ChunkStore]:
    """A batch's chunk store on one bucket of moto's S3: all it needs."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield ChunkStore(client, BUCKET, BatchKeys("batch-1", "demo", "work/", "quarantine/"))


def test_chunks_round_trip_through_s3_with_their_errors(chunk_store):
    # given records with unicode, numbers, and one unparseable record with its FieldError
    error = FieldError("row", "row.field_count", "3 fields, expected 6", ["a", "b", "c"])
    given = [
        Record(2, order("1", note="ñandú 注文", weight=1.5, tags=[1, None, True])),
        Record(3, ["a", "b", "c"], error),
        Record(4, order("3")),
    ]
    [chunk] = list(cut(given, 10, 10**6))

    # when written and read back
    ref = chunk_store.write_chunk(5, chunk)
    back = chunk_store.read_chunk(ref.key)

    # then the records are equal, error included, and the chunk says where it lives
    assert back == given
    assert back[1].error == error
    assert ref == ChunkRef(5, "work/demo/batch-1/chunks/000005.json", 3)
    document = json.loads(chunk_store.client.get_object(Bucket=BUCKET, Key=ref.key)["Body"].read())
    assert document["batch_id"] == "batch-1"
    assert document["index"] == 5


def test_a_record_with_a_lone_surrogate_round_trips(chunk_store):
    # given a record as the JSON Lines reader yields it for a line holding "\ud800"
    given = [Record(1, json.loads('{"note": "\\ud800"}'))]
    [chunk] = list(cut(given, 10, 10**6))

    # when written and read back, then it is the same record (or at least no crash)
    ref = chunk_store.write_chunk(0, chunk)
    assert chunk_store.read_chunk(ref.key) == given


def test_manifest_round_trips(chunk_store):
    # given the chunks of a batch
    refs = [chunk_store.write_chunk(i, c) for i, c in enumerate(cut(records(7), 3, 10**6))]

    # when the manifest is written and read
    key = chunk_store.write_manifest(refs)

    # then it lists every chunk in order with its count
    assert key == "work/demo/batch-1/manifest.json"
    assert chunk_store.read_manifest() == refs
    assert [r.count for r in refs] == [3, 3, 1]


def test_a_result_is_read_back_and_a_missing_one_is_none(chunk_store):
    # given one written outcome, with a rejection whose order holds non-ASCII text
    rejection = Rejection(
        row=3, order={"note": "ñ"}, order_id=None, reason=Reason.INVALID,
        errors=(FieldError("qty", "qty.missing", "qty is required", None),),
    )  # fmt: skip
    outcome = ChunkOutcome(
        index=0, total=3, stored=2, unchanged=1, rejections=(rejection,),
        requests=Requests(s3_get=1, s3_put=1),
    )  # fmt: skip
    chunk_store.write_result(outcome)

    # then it reads back as it was written, and an unwritten one is None
    assert chunk_store.read_result(0) == outcome
    assert chunk_store.read_result(0).rejected_by_reason == {Reason.INVALID: 1}
    assert chunk_store.read_result(1) is None


# --- logging ----------------------------------------------------------------------------------


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test-stage"))
    logger = logging.getLogger("tests.unit.log-capture")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.handlers = []


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_each_log_record_is_one_json_object_with_level_stage_and_extra_fields(capture):
    logger, stream = capture

    # when two records are logged, one spanning several lines, with extra fields
    logger.info("chunk processed", extra={"batch_id": "b-1", "chunk": 3, "counts": {"ok": 2}})
    logger.warning("line one\nline two", extra={"batch_id": "b-2"})

    # then each is exactly one line of JSON with the fields
    first, second = lines(stream)
    assert first["message"] == "chunk processed"
    assert first["level"] == "INFO"
    assert first["stage"] == "test-stage"
    assert first["logger"] == "tests.unit.log-capture"
    assert first["batch_id"] == "b-1"
    assert first["chunk"] == 3
    assert first["counts"] == {"ok": 2}
    assert second["message"] == "line one\nline two"
    assert second["level"] == "WARNING"
    # and none of the LogRecord's own attributes leak in
    assert not {"args", "msg", "pathname", "lineno", "levelno", "created"} & first.keys()


def test_an_exception_is_logged_on_the_same_line(capture):
    logger, stream = capture
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("failed", extra={"batch_id": "b"})
    [entry] = lines(stream)
    assert entry["level"] == "ERROR"
    assert "ValueError: bad value" in entry["exception"]


def test_a_value_that_is_not_json_is_logged_as_text(capture):
    logger, stream = capture
    logger.info("odd", extra={"ids": {1, 2}, "obj": object()})
    [entry] = lines(stream)
    assert entry["ids"] == "{1, 2}"
    assert entry["obj"].startswith("<object object")


def test_email_addresses_are_masked_in_message_and_extra_fields(capture):
    logger, stream = capture

    # when e-mail addresses appear in the message, in an extra field and nested in one
    logger.info(
        "order from ana.nunez@example.org rejected",
        extra={"email": "Foo.Bar+x@test.com", "order": {"contact": ["z@ex.io"]}},
    )

    # then only their first character and domain are kept
    [entry] = lines(stream)
    assert entry["message"] == "order from a***@example.org rejected"
    assert entry["email"] == "F***@test.com"
    assert entry["order"] == {"contact": ["z***@ex.io"]}
    assert "nunez" not in stream.getvalue()
    assert "Bar" not in stream.getvalue()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ana.nunez@example.org", "a***@example.org"),
        ("write to ana@example.org, bo@x.io.", "write to a***@example.org, b***@x.io."),
        ("a@b.co", "a***@b.co"),
        ("no address here @ all", "no address here @ all"),
    ],
)
def test_mask_emails(text, masked):
    assert mask_emails(text) == masked


@pytest.mark.parametrize(
    "address", ["ñandú@example.org", "josé.garcía@example.org"], ids=["n-tilde", "accents"]
)
def test_internationalised_addresses_are_masked_too(address):
    local_part = address.split("@")[0]
    assert local_part[1:] not in mask_emails(f"from {address}")


@pytest.fixture
def orderflow_logger() -> Iterator[logging.Logger]:
    """The real `orderflow` logger, restored afterwards."""
    logger = logging.getLogger("orderflow")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    logger.handlers = []
    yield logger
    logger.handlers = handlers
    logger.setLevel(level)
    logger.propagate = propagate


def test_configure_is_idempotent(orderflow_logger, capsys):
    # given a logger configured twice, the second time at another level
    configure("local", "INFO")
    configure("local", "WARNING")

    # then it has one JSON handler and the last level
    json_handlers = [h for h in orderflow_logger.handlers if isinstance(h.formatter, JsonFormatter)]
    assert len(json_handlers) == 1
    ours = [h for h in orderflow_logger.handlers if not type(h).__module__.startswith("_pytest")]
    assert len(ours) == 1  # pytest may add its own capture handlers; configure adds one
    assert orderflow_logger.level == logging.WARNING

    # and a module's logger writes exactly one JSON line per record to stderr
    get_logger("process").warning("once", extra={"batch_id": "b"})
    get_logger("process").info("below the level")
    err = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in err] == ["once"]
    assert json.loads(err[0])["logger"] == "orderflow.process"
    assert json.loads(err[0])["stage"] == "local"
