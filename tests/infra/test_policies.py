"""Each function's IAM policy allows every AWS call its code makes, and the policy files are
what infra/policies.py writes. The calls are recorded on the emulator while the pipeline, the
API, the reviewer and the webhook run: a new call without its permission fails here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib import wiring
from chalicelib.api import auth, service
from infra import policies
from orderflow_cli.emulator.lambdas import current_function
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import SAMPLES, order, run, write_orders
from tests.webhook_receiver import webhook_receiver

# Operations whose IAM action has another name (everything else is service:Operation).
_ACTIONS = {
    "s3.HeadObject": {"s3:GetObject"},
    "s3.CopyObject": {"s3:GetObject", "s3:PutObject"},
    # a request that names an object version needs the version's own action
    "s3.GetObject#version": {"s3:GetObjectVersion"},
    "s3.HeadObject#version": {"s3:GetObjectVersion"},
    "s3.CopyObject#version": {"s3:GetObjectVersion", "s3:PutObject"},
    "s3.DeleteObject#version": {"s3:DeleteObjectVersion"},
    "s3.CreateMultipartUpload": {"s3:PutObject"},
    "s3.UploadPart": {"s3:PutObject"},
    "s3.CompleteMultipartUpload": {"s3:PutObject"},
    "sqs.SendMessageBatch": {"sqs:SendMessage"},
    "sqs.DeleteMessageBatch": {"sqs:DeleteMessage"},
    "ssm.GetParameter": {"ssm:GetParameter", "secretsmanager:GetSecretValue"},
    "sts.GetCallerIdentity": set(),  # needs no permission
}
_SERVICE_PREFIX = {"stepfunctions": "states"}


def _actions(operation: str) -> set[str]:
    if operation in _ACTIONS:
        return _ACTIONS[operation]
    service_name, name = operation.split(".", 1)
    return {f"{_SERVICE_PREFIX.get(service_name, service_name)}:{name}"}


def _allowed(stage: str, function: str) -> set[str]:
    document = json.loads((policies.CHALICE_DIR / policies.file_name(stage, function)).read_text())
    return {action for s in document["Statement"] for action in s["Action"]}


@contextmanager
def _calling_as(function: str) -> Iterator[None]:
    """The calls made inside are recorded as `function`'s."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


def _use_the_api(deps: Any, callback_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the API's routes call, as `api_handler`; returns the two batches it accepted."""
    with _calling_as("api_handler"):
        body = json.dumps([order("p-1"), order("p-2", qty="0")]).encode()
        accepted = service.accept_orders(
            body, idempotency_key="k", callback_url=callback_url, sender="policy-check", deps=deps
        )
        dry = service.accept_orders(
            json.dumps([order("p-1", qty="2"), order("p-3")]).encode(),
            idempotency_key=None,
            callback_url=None,
            sender="policy-check",
            deps=deps,
            dry_run="true",
        )
        service.presign_upload(
            filename="x.csv", content_type="text/csv", callback_url=None,
            sender="policy-check",
            deps=deps,
            corrects=accepted["batch_id"],  # read to check it is the caller's own real batch
        )  # fmt: skip
    return accepted, dry


def test_every_call_a_function_makes_is_allowed_by_its_policy(tmp_path: Path) -> None:
    from tests.conftest import FAST

    with EmbeddedAWS(FAST) as local, webhook_receiver() as receiver:
        deps = wiring.api_deps(local.settings)
        registry = wiring.sender_registry(local.settings)
        _, key = registry.add("policy-check", "Policy check")  # the operator's doing
        with _calling_as("sender_key"):  # the API's authorizer
            assert auth.authorize(key, registry).principal_id == "policy-check"
        accepted, dry = _use_the_api(deps, receiver.url)
        local.wait(accepted["batch_id"])
        local.wait(dry["batch_id"])
        with _calling_as("api_handler"):
            service.batch_status(accepted["batch_id"], sender="policy-check", deps=deps)
            service.get_order("p-1", sender="policy-check", deps=deps)
            service.list_reviews(accepted["batch_id"], None, sender="policy-check", deps=deps)
            service.list_reviews(None, "invalid", sender="policy-check", deps=deps)
            service.list_batches(sender="policy-check", deps=deps)
            service.list_rejections(accepted["batch_id"], sender="policy-check", deps=deps)
            service.put_profile(b'{"columns": {"qty": "Menge"}}', sender="policy-check", deps=deps)
            service.get_profile(sender="policy-check", deps=deps)
            service.clear_profile(sender="policy-check", deps=deps)
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        run(local, SAMPLES / "mixed.json", SAMPLES / "repairable.json", bad)
        run(
            local, write_orders(tmp_path / "c.json", [order("p-1", qty="7")]), sender="policy-check"
        )
        local.deliver_app_events()
        local.dead_letters.settle()
        assert receiver.received, "the webhook was delivered"

    recorded = local.recorder.calls
    functions = {function for function, _ in recorded}
    assert functions == set(policies.statements("dev"))  # every function ran
    for stage in policies.STAGES:
        missing = {
            (function, action)
            for function, operation in recorded
            for action in _actions(operation)
            if action not in _allowed(stage, function)
        }
        assert not missing, f"calls without permission in {stage}: {sorted(missing)}"


def test_the_policy_files_are_what_the_generator_writes() -> None:
    for path, text in policies.render_all().items():
        assert path.read_text() == text, f"{path.name} is stale: run python infra/policies.py"


def test_every_function_of_every_stage_has_its_own_policy_file() -> None:
    import app

    config = json.loads((policies.CHALICE_DIR / "config.json").read_text())
    declared: list[Any] = [
        *app.app.pure_lambda_functions,
        *app.app.event_sources,
        *app.app.builtin_auth_handlers,
    ]
    names = {f.name for f in declared}
    names.add("api_handler")
    for stage in policies.STAGES:
        configured = config["stages"][stage]["lambda_functions"]
        assert set(configured) == names
        for function, settings in configured.items():
            assert settings["iam_policy_file"] == policies.file_name(stage, function)
    assert config["autogen_policy"] is False


def test_each_traced_function_may_send_what_chalice_grants_a_traced_function() -> None:
    """With `"xray": true` a function's role must allow what Chalice's own generated policy
    would add for tracing (autogen_policy is off, so our policy files must carry it)."""
    from chalice.constants import XRAY_POLICY

    config = json.loads((policies.CHALICE_DIR / "config.json").read_text())
    for stage in policies.STAGES:
        assert config["stages"][stage]["xray"] is True
        for function in config["stages"][stage]["lambda_functions"]:
            document = json.loads(
                (policies.CHALICE_DIR / policies.file_name(stage, function)).read_text()
            )
            granted = [
                s for s in document["Statement"]
                if set(XRAY_POLICY["Action"]) <= set(s["Action"])
            ]  # fmt: skip
            assert granted, (stage, function)
            assert all(s["Resource"] == [XRAY_POLICY["Resource"]] for s in granted)
    assert "xray" not in config["stages"]["local"]  # nothing to trace on the emulator
