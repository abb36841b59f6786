"""The authorizer's IAM policy lets it read the stage's link secret, and nothing of it more: the
calls `sender_key` makes to check an upload link, recorded on the emulator, are each allowed by
its policy on every stage, on the very resource config.json names (the wider check of every
function is tests/infra/test_policies.py's)."""

from __future__ import annotations

import fnmatch
import json
import time

from chalicelib import wiring
from chalicelib.api import auth, links
from infra import policies
from orderflow_cli.emulator.cloudformation import SECRETS_MANAGER_REFERENCE
from orderflow_cli.emulator.runtime import EmbeddedAWS
from orderflow_cli.stage import stage_environment
from tests.conftest import FAST
from tests.infra.test_policies import _actions, _allowed, _calling_as


def _resources(stage: str, action: str) -> list[str]:
    document = json.loads(
        (policies.CHALICE_DIR / policies.file_name(stage, "sender_key")).read_text()
    )
    return [r for s in document["Statement"] if action in s["Action"] for r in s["Resource"]]


def test_the_authorizer_may_read_the_link_secret_it_checks_links_with() -> None:
    with EmbeddedAWS(FAST) as local:
        registry = wiring.sender_registry(local.settings)
        sender, _ = registry.add("link-policy", "Link policy")
        secret = wiring.link_key(local.settings.link_secret_parameter)
        token = links.mint(
            links.Link("link-policy", links.expiry(1, time.time()), sender.keyset), secret
        )
        wiring.link_key.cache_clear()  # the authorizer's process reads it afresh
        with _calling_as("sender_key"):
            answer = auth.authorize(token, registry, wiring.link_keys(local.settings))
        assert answer.principal_id == "link-policy"
        assert answer.context["access"] == "link"

    made = {operation for function, operation in local.recorder.calls if function == "sender_key"}
    assert "ssm.GetParameter" in made  # the secret, read through SSM as config.json says
    for stage in policies.STAGES:
        missing = {a for op in made for a in _actions(op) if a not in _allowed(stage, "sender_key")}
        assert not missing, f"{stage}: {sorted(missing)}"


def test_the_link_secret_the_authorizer_may_read_is_the_one_its_stage_names() -> None:
    for stage in policies.STAGES:
        parameter = stage_environment(stage)["LINK_SECRET_PARAMETER"]
        assert parameter.startswith(SECRETS_MANAGER_REFERENCE)
        name = parameter.removeprefix(SECRETS_MANAGER_REFERENCE)
        ssm_arn = f"arn:aws:ssm:us-east-1:123456789012:parameter{parameter}"
        secret_arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
        reads = _resources(stage, "ssm:GetParameter")
        assert [r for r in reads if fnmatch.fnmatchcase(ssm_arn, r)], stage
        secrets = _resources(stage, "secretsmanager:GetSecretValue")
        assert [r for r in secrets if fnmatch.fnmatchcase(secret_arn, r)], stage
        # and no other secret of the stage
        other = secret_arn.replace("link-secret", "callback-secret")
        assert not [r for r in secrets if fnmatch.fnmatchcase(other, r)], stage
