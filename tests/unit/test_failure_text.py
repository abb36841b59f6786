"""Errors carried to a batch record (and so to GET /batches) are one line: no trace, no path."""

from __future__ import annotations

import json

import pytest

from chalicelib.log import one_line
from chalicelib.pipeline.finish import describe_exception, describe_failure

# What Step Functions catches when a Python Lambda function raises: the Cause is the function's
# error payload, its stackTrace as the Python runtime writes it.
LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "[Errno 2] No such file or directory: '/tmp/work/chunk-0.json'",
        "errorType": "FileNotFoundError",
        "requestId": "8f5d6c0e-0000-4000-8000-000000000000",
        "stackTrace": [
            '  File "/var/task/app.py", line 170, in prepare_file_handler\n    return x()\n',
            '  File "/opt/python/lib/python3.13/site-packages/boto3/s3.py", line 9, in get\n',
        ],
    }
)


def test_a_lambda_failure_keeps_its_type_and_message_and_loses_its_trace_and_paths():
    text = describe_failure("FileNotFoundError", LAMBDA_CAUSE)

    assert text == "FileNotFoundError: [Errno 2] No such file or directory: '<path>'"


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (
            'boom\nTraceback (most recent call last):\n  File "/work/x.py", line 1\n',
            "States.TaskFailed: boom",
        ),
        ('Traceback (most recent call last):\n  File "/work/x.py", line 1', "States.TaskFailed"),
        ("", "States.TaskFailed"),
        (None, "States.TaskFailed"),
        ("{not json", "States.TaskFailed: {not json"),
        ("cannot read C:\\Users\\me\\app.py now", "States.TaskFailed: cannot read <path> now"),
    ],
)
def test_a_cause_that_is_not_a_lambda_payload_is_cut_to_its_first_line(cause, expected):
    assert describe_failure("States.TaskFailed", cause) == expected


def test_urls_and_s3_keys_are_not_taken_for_paths():
    text = "GET https://example.com/a/b failed for incoming/api/x.json in s3://bucket/work/y"

    assert one_line(text) == text


def test_an_exception_is_one_line_of_type_and_message():
    problem = OSError("cannot open /usr/lib/python3/site-packages/x.py\nsecond line")

    assert describe_exception(problem) == "OSError: cannot open <path>"


def test_a_very_long_message_is_cut():
    assert len(describe_failure("E", "x" * 5000)) == 300


def test_get_batches_keeps_an_older_records_traced_error_to_one_line(local):
    # given a batch recorded before errors were kept to one line
    from chalicelib import wiring
    from chalicelib.api import service
    from chalicelib.contracts import Counts
    from chalicelib.pipeline.batches import FAILED

    batches = wiring.batch_records(local.settings)
    traced = (
        'RuntimeError: {"errorType": "RuntimeError", "errorMessage": "boom", "stackTrace":'
        ' ["  File \\"/var/task/app.py\\", line 1"]}'
    )
    batches.finish("demo", "old-batch", status=FAILED, counts=Counts(),
        error={"code": "pipeline.prepare_failed", "message": traced}, report=None,
    )  # fmt: skip

    # when it is read through the API
    body = service.batch_status("old-batch", sender="demo", deps=wiring.api_deps(local.settings))

    # then its message stops before the trace
    message = body["error"]["message"]
    assert message == 'RuntimeError: {"errorType": "RuntimeError", "errorMessage": "boom",'
    assert "File" not in message
    assert "/var/task" not in message
