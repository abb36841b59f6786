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


def test_every_request_body_is_json_and_its_415_is_documented() -> None:
    document = json.loads(OPENAPI.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            assert set(operation["requestBody"]["content"]) == {"application/json"}, path
            unsupported = operation["responses"].get("415")
            assert unsupported == {"$ref": "#/components/responses/UnsupportedMediaType"}, (
                path,
                method,
            )
    shape = document["components"]["responses"]["UnsupportedMediaType"]
    assert shape["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_limits_the_document_states_are_the_ones_the_api_applies() -> None:
    from chalicelib.api.uploads import UPLOAD_FILENAME_MAX
    from chalicelib.pipeline.naming import BATCH_ID

    document = json.loads(OPENAPI.read_text())
    (batch_id,) = [
        p for p in document["paths"]["/reviews"]["get"]["parameters"] if p["name"] == "batch_id"
    ]
    assert batch_id["schema"]["pattern"] == BATCH_ID.pattern
    upload = document["paths"]["/uploads"]["post"]["requestBody"]["content"]["application/json"]
    assert upload["schema"]["properties"]["filename"]["maxLength"] == UPLOAD_FILENAME_MAX


def test_the_document_leaves_orders_to_the_pipeline() -> None:
    # The API accepts documents and the pipeline judges orders: no member of an order is typed
    # in the contract, so a value the pipeline rejects is not a request the contract forbids.
    document = json.loads(OPENAPI.read_text())
    order = document["components"]["schemas"]["Order"]

    assert order["type"] == "object"
    assert not _find_types(order["properties"])


def _find_types(node: Any) -> list[Any]:
    """Every `type` constraint anywhere under a schema node."""
    if isinstance(node, dict):
        found = [node["type"]] if "type" in node else []
        return found + [t for value in node.values() for t in _find_types(value)]
    if isinstance(node, list):
        return [t for value in node for t in _find_types(value)]
    return []
