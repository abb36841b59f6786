"""`orders batches redrive` against a running `orders serve`: a batch that is not failed, or
no batch at all, is one line on stderr and exit code 1; nothing is started."""

from __future__ import annotations

import pytest

from orderflow_cli.exits import ExitCode
from orderflow_cli.main import main
from tests.api.conftest import Served
from tests.conftest import order


def test_redriving_a_batch_that_did_not_fail_is_refused_in_one_line(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    posted = served.call("POST", "/orders", json={"orders": [order("redrive-me")]})
    assert posted.status_code == 202
    batch_id = posted.json()["batch_id"]
    assert served.wait_for(batch_id)["status"] == "succeeded"
    capsys.readouterr()

    code = main(["batches", "redrive", batch_id, "--sender", "demo", "--endpoint", served.s3_url])

    err = capsys.readouterr().err
    assert code == ExitCode.PROBLEMS
    assert err == (
        f"orders batches redrive: batch {batch_id} is succeeded, not failed:"
        " only a failed batch is redriven\n"
    )
    assert served.call("GET", f"/batches/{batch_id}").json()["status"] == "succeeded"


def test_redriving_no_batch_is_refused_in_one_line(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batches", "redrive", "no-such-batch", "--sender", "demo",
                 "--endpoint", served.s3_url])  # fmt: skip

    assert code == ExitCode.PROBLEMS
    assert capsys.readouterr().err == (
        "orders batches redrive: no batch 'no-such-batch' of sender 'demo'\n"
    )


def test_redrive_without_an_endpoint_or_stage_says_where_it_looked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["batches", "redrive", "x", "--endpoint", "not-a-url"])

    assert code == ExitCode.USAGE
    assert "is not a URL" in capsys.readouterr().err
