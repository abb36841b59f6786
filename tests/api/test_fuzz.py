"""Schemathesis against the running local server: no input may cause a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import API_KEY, Served
from tests.api.test_contract import OPENAPI

schema = schemathesis.openapi.from_path(OPENAPI)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI is repeatable; widen by hand with st run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_no_input_causes_a_server_error(case: schemathesis.Case, served: Served) -> None:  # type: ignore[type-arg]
    case.call_and_validate(
        base_url=served.url,
        headers={"x-api-key": API_KEY},
        checks=[not_a_server_error],
        timeout=30,
    )
