"""The partners' page as the app serves it: its policy, its files and nothing else.

The policy is checked by parsing the header as a browser does (directives split on `;`, sources
on whitespace), not by comparing it with the string the module builds.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from chalicelib.orders.readers.columns import Columns
from chalicelib.orders.readers.names import SYNONYMS, normalise
from chalicelib.orders.records import ORDER_FIELDS
from chalicelib.web import pages


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed.setdefault(words[0].lower(), words[1:])  # the first one wins, as in browsers
    return parsed


def test_the_policy_allows_only_our_own_scripts_styles_and_the_upload_origin() -> None:
    policy = directives(pages.content_security_policy("http://127.0.0.1:8001"))
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:8001"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)


def test_the_upload_origin_is_where_the_presigner_points() -> None:
    local = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:8123",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert pages.s3_origin(local, "orderflow-local-orders") == "http://127.0.0.1:8123"
    aws = boto3.client(
        "s3",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    origin = pages.s3_origin(aws, "orderflow-dev-orders-1-eu-west-1")
    assert origin.startswith("https://orderflow-dev-orders-1-eu-west-1.s3")
    assert origin.endswith(".amazonaws.com")


@pytest.mark.parametrize(
    "name",
    ["../app.py", "..", "static/app.js", "app.py", "index.html", "x.js/..", ".app.js", "%2e%2e"],
)
def test_a_name_that_is_not_one_of_the_pages_files_is_not_served(name: str) -> None:
    assert pages.static_file(name, "") is None


def test_the_fields_file_lists_what_the_reader_matches() -> None:
    served = pages.static_file("fields.json", "")
    assert served is not None
    fields = json.loads(served.body)
    assert fields["fields"] == list(ORDER_FIELDS)
    # where the page puts a corrected value: the group the reader builds the field into
    built = Columns(list(ORDER_FIELDS), "test", None).order(list(ORDER_FIELDS))
    for name in ORDER_FIELDS:
        assert built[fields["groups"][name]][name] == name
    for name in ORDER_FIELDS:  # every synonym the page offers is one the reader takes
        assert [normalise(s) for s in fields["synonyms"][name]] == [
            normalise(s) for s in SYNONYMS[name]
        ]


def test_every_file_of_the_page_is_served_with_the_policy_and_its_type() -> None:
    names = [p.name for p in Path(pages.STATIC).iterdir() if p.suffix in {".js", ".css"}]
    assert "app.js" in names
    assert "app.css" in names
    for name in names:
        served = pages.static_file(name, "https://bucket.s3.amazonaws.com")
        assert served is not None, name
        assert served.body == (pages.STATIC / name).read_text(encoding="utf-8")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert directives(str(served.headers["Content-Security-Policy"]))["frame-ancestors"] == [
            "'none'"
        ]
        wanted = "text/javascript" if name.endswith(".js") else "text/css"
        assert str(served.headers["Content-Type"]).startswith(wanted)


def test_the_page_names_only_its_own_files_and_no_inline_script() -> None:
    page = pages.index("")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.body
    lowered = html.lower()
    assert "<script>" not in lowered  # every script has a src
    assert " on" + "click=" not in lowered
    assert "style=" not in lowered
    assert "http://" not in lowered
    assert "https://" not in lowered  # no CDN, no third-party origin
