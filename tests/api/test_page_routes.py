"""The partners' page through `orders serve`: served without a key, under its policy, and the
emulated bucket takes a browser's cross-origin upload as the stack's CORS rules allow."""

from __future__ import annotations

import requests

from tests.api.conftest import Served


def _policy(header: str) -> dict[str, list[str]]:
    return {words[0]: words[1:] for part in header.split(";") if (words := part.split())}


def test_the_page_is_served_without_a_key_and_may_connect_only_to_the_api_and_s3(
    served: Served,
) -> None:
    answer = requests.get(served.url + "/", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1" in answer.text
    policy = _policy(answer.headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'", served.s3_url]
    assert policy["frame-ancestors"] == ["'none'"]
    assert answer.headers["x-frame-options"] == "DENY"
    script = requests.get(served.url + "/static/app.js", timeout=30)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


def test_a_file_the_page_does_not_have_is_a_404_in_the_error_shape(served: Served) -> None:
    for name in ("nope.js", "app.py", "..%2Fapp.py", "%2e%2e"):
        answer = requests.get(served.url + "/static/" + name, timeout=30)
        assert answer.status_code == 404, name
        assert answer.json()["error"]["code"] in {"not_found", "route_not_found"}, name


def test_the_bucket_answers_a_browsers_preflight_for_an_upload(served: Served) -> None:
    upload = served.call(
        "POST", "/uploads", json={"filename": "a.csv", "content_type": "text/csv"}
    ).json()
    preflight = requests.options(
        upload["url"],
        headers={
            "Origin": served.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in {served.url, "*"}
    assert "POST" in preflight.headers["access-control-allow-methods"]
    rules = served.client("s3").get_bucket_cors(Bucket=upload["url"].rstrip("/").split("/")[-1])
    assert rules["CORSRules"][0]["AllowedMethods"] == ["POST"]
