"""The published OpenAPI document and the app's routes describe the same API."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.callbacks import DELIVERY_STATUSES
from chalicelib.pipeline.batches import PENDING
from tests.conftest import REPO

OPENAPI = REPO / "api" / "openapi.json"


def _app_routes() -> dict[str, set[str]]:
    import app

    return {path: set(methods) for path, methods in app.app.routes.items()}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    document = json.loads(OPENAPI.read_text())
    documented = {
        path: {method.upper() for method in operations}
        for path, operations in document["paths"].items()
    }

    assert documented == _app_routes()


def test_the_document_says_which_routes_need_a_key_as_the_app_does() -> None:
    import app

    document = json.loads(OPENAPI.read_text())
    default = document["security"]
    for path, methods in app.app.routes.items():
        for method, entry in methods.items():
            security = document["paths"][path][method.lower()].get("security", default)
            assert bool(security) == (entry.authorizer is not None), (path, method)


def test_the_document_lists_every_status_a_webhook_delivery_can_end_in() -> None:
    document = json.loads(OPENAPI.read_text())
    (callback,) = _find(document, "callback")

    assert set(callback["properties"]["status"]["enum"]) == {PENDING, *DELIVERY_STATUSES}


def _find(node: Any, key: str) -> list[dict[str, Any]]:
    """Every value under `key` anywhere in a JSON document."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, dict):
                found.append(value)
            found.extend(_find(value, key))
    elif isinstance(node, list):
        for value in node:
            found.extend(_find(value, key))
    return found
