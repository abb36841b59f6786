"""`orders senders ...` against a running `orders serve`: an operator adds, lists, rotates and
disables senders; every key is shown once and resolves (or not) as it should; an upload link
is made for an active sender only, and verifies with the stage's link secret."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib.senders import SenderRegistry
from orderflow_cli.main import main
from orderflow_cli.stack import open_stack
from tests.api.conftest import Served


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_an_operator_manages_senders_against_the_local_server(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", served.s3_url, "--json"]
    stack = open_stack(served.s3_url, "local")
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])

    assert main(["senders", "add", "cli-shop", "--name", "CLI Shop", *endpoint]) == 0
    added = _json(capsys)
    assert isinstance(added, dict)
    first_key = added["api_key"]
    assert registry.resolve(first_key).sender_id == "cli-shop"  # type: ignore[union-attr]

    assert main(["senders", "list", *endpoint]) == 0
    listed = _json(capsys)
    assert {"sender_id": "cli-shop", "status": "active", "keys": 1}.items() <= next(
        s for s in listed if s["sender_id"] == "cli-shop"
    ).items()
    assert first_key not in json.dumps(listed)

    assert main(["senders", "rotate-key", "cli-shop", *endpoint]) == 0
    second_key = _json(capsys)["api_key"]
    assert registry.resolve(first_key) is None
    assert registry.resolve(second_key).sender_id == "cli-shop"  # type: ignore[union-attr]

    assert main(["senders", "disable", "cli-shop", *endpoint]) == 0
    assert _json(capsys)["status"] == "disabled"
    assert registry.resolve(second_key) is None


def test_operator_mistakes_get_one_sentence_and_exit_1(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", served.s3_url]
    assert main(["senders", "add", "twice", "--name", "Twice", *endpoint]) == 0
    capsys.readouterr()
    for argv, says in (
        (["senders", "add", "twice", "--name", "Again"], "already exists"),
        (["senders", "add", "Not_An_Id", "--name", "Bad"], "is not allowed"),
        (["senders", "rotate-key", "ghost"], "there is no sender 'ghost'"),
        (["senders", "disable", "ghost"], "there is no sender 'ghost'"),
    ):
        assert main([*argv, *endpoint]) == 1
        err = capsys.readouterr().err
        assert says in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_a_disabled_or_rotated_out_senders_key_opens_no_route(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", served.s3_url, "--json"]
    assert main(["senders", "add", "gate-1", "--name", "Gate one", *endpoint]) == 0
    first = _json(capsys)["api_key"]
    assert main(["senders", "add", "gate-2", "--name", "Gate two", *endpoint]) == 0
    second = _json(capsys)["api_key"]
    assert served.call("GET", "/orders/none", key=first).status_code == 404  # let in: no order

    assert main(["senders", "rotate-key", "gate-1", *endpoint]) == 0
    rotated = _json(capsys)["api_key"]
    assert main(["senders", "disable", "gate-2", *endpoint]) == 0
    capsys.readouterr()

    # API Gateway caches an authorizer's answer per key; the local gateway asks every time
    for refused in (first, second):
        assert served.call("GET", "/orders/none", key=refused).status_code == 403
    assert served.call("GET", "/orders/none", key=rotated).status_code == 404


def test_an_operator_saves_and_clears_a_senders_mapping_profile(
    served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    endpoint = ["--endpoint", served.s3_url, "--json"]
    stack = open_stack(served.s3_url, "local")
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])
    assert main(["senders", "add", "mapped", "--name", "Mapped", *endpoint]) == 0
    capsys.readouterr()
    good = tmp_path / "mapping.json"
    good.write_text(json.dumps({"columns": {"qty": "Menge"}, "delimiter": "semicolon"}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"columns": {"quantity": "Menge"}}))

    assert main(["senders", "profile", "mapped", "--mapping", str(good), *endpoint]) == 0
    assert _json(capsys)["profile"] == {
        "columns": {"qty": "Menge"}, "sheet": None, "delimiter": ";"
    }  # fmt: skip
    assert registry.profile("mapped") is not None

    assert main(["senders", "profile", "mapped", "--mapping", str(bad), *endpoint]) == 2
    err = capsys.readouterr().err
    assert 'unknown field "quantity"' in err
    assert "Traceback" not in err
    assert registry.profile("mapped").columns == {"qty": "Menge"}  # type: ignore[union-attr]

    assert main(["senders", "profile", "mapped", "--clear", *endpoint]) == 0
    assert _json(capsys)["profile"] is None
    assert registry.profile("mapped") is None
    assert main(["senders", "profile", "ghost", "--clear", *endpoint]) == 1
    assert "there is no sender 'ghost'" in capsys.readouterr().err
    assert main(["senders", "profile", "mapped", *endpoint]) == 2  # neither --mapping nor --clear


def test_the_authorizers_name_for_no_sender_cannot_be_registered(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", served.s3_url]

    assert main(["senders", "add", "nobody", "--name", "Nobody", *endpoint]) == 1

    assert "'nobody' is reserved" in capsys.readouterr().err
    stack = open_stack(served.s3_url, "local")
    assert SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"]).get("nobody") is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data", "private, loopback or reserved"),
        ("http://10.0.0.7/hook", "private, loopback or reserved"),
        ("ftp://example.org/hook", "must use"),
        ("http://user:pw@127.0.0.1/hook", "without user or password"),
    ],
)
def test_a_webhook_address_delivery_would_refuse_is_refused_when_it_is_set(
    served: Served, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    endpoint = ["--endpoint", served.s3_url]
    stack = open_stack(served.s3_url, "local")
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])
    if registry.get("hooked") is None:
        registry.add("hooked", "Hooked")

    assert main(["senders", "webhook", "hooked", "--url", url, *endpoint]) == 2

    error = capsys.readouterr().err
    assert says in error
    assert "nothing was changed" in error
    hooked = registry.get("hooked")
    assert hooked is not None
    assert hooked.webhook_url is None
    # and an address delivery takes (the local stage allows http to loopback) is set
    local_hook = "http://127.0.0.1:9/hook"
    assert main(["senders", "webhook", "hooked", "--url", local_hook, *endpoint]) == 0
    capsys.readouterr()
    assert registry.get("hooked").webhook_url == local_hook  # type: ignore[union-attr]
    registry.set_webhook("hooked", None)


def test_an_operator_makes_an_upload_link_for_a_senders_page(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.api import links

    endpoint = ["--endpoint", served.s3_url]
    registry = SenderRegistry(*_senders_table(served))
    registry.add("linked", "Linked")
    page = served.url + "/"

    assert main(["senders", "link", "linked", "--days", "3", "--url", page, *endpoint]) == 0
    said, token_line, link_line = capsys.readouterr().out.splitlines()
    token = token_line.removeprefix("token: ")
    assert said.startswith("sender linked: upload link until ")
    assert link_line == f"link:  {page}#link={token}"  # a fragment: never sent to a server
    link = links.verify(token, _link_secret(served), time.time())
    assert link is not None
    assert link.sender_id == "linked"
    assert 3 * 86_400 - 60 < link.expires - time.time() <= 3 * 86_400
    assert served.call("GET", "/batches", key=token).status_code == 200
    # an address without its last `/` gets it: the page names its files relative to it
    assert main(["senders", "link", "linked", "--url", served.url + "/api", *endpoint]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"link:  {served.url}/api/#link=")

    # no --url on `orders serve`: the token, and how to make the link
    assert main(["senders", "link", "linked", "--json", *endpoint]) == 0
    made = _json(capsys)
    assert made["link"] is None
    assert made["sender_id"] == "linked"
    assert made["token"].startswith("ofl_")
    assert main(["senders", "link", "linked", *endpoint]) == 0
    assert "#link=TOKEN" in capsys.readouterr().out.splitlines()[-1]


def test_a_link_for_no_sender_a_disabled_one_or_bad_days_is_one_sentence(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", served.s3_url]
    registry = SenderRegistry(*_senders_table(served))
    registry.add("unlinked", "Unlinked")
    registry.disable("unlinked")
    capsys.readouterr()
    for argv, code, says in (
        (["ghost"], 1, "there is no sender 'ghost'"),
        (["unlinked"], 1, "sender 'unlinked' is disabled"),
        (["unlinked", "--days", "0"], 2, "--days: a link lasts 1 to 90 days, not 0"),
        (["unlinked", "--days", "91"], 2, "--days: a link lasts 1 to 90 days, not 91"),
        (["unlinked", "--url", "ftp://x/"], 2, "--url: 'ftp://x/' is not the page's address"),
        (["unlinked", "--url", "https://x/#a"], 2, "is not the page's address"),
    ):
        assert main(["senders", "link", *argv, *endpoint]) == code, argv
        err = capsys.readouterr().err
        assert says in err
        assert len(err.strip().splitlines()) == 1


def test_a_deployed_stages_page_address_is_its_rest_api_url(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow_cli.commands import senders as command

    monkeypatch.setattr(command, "CONFIG_PATH", tmp_path / "config.json")
    assert command.deployed_api_url("dev") is None  # never deployed
    (tmp_path / "deployed").mkdir()
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/api/"
    resources = [
        {"name": "api_handler", "resource_type": "lambda_function"},
        {"name": "rest_api", "resource_type": "rest_api", "rest_api_url": url},
    ]
    (tmp_path / "deployed" / "dev.json").write_text(json.dumps({"resources": resources}))
    assert command.deployed_api_url("dev") == url
    (tmp_path / "deployed" / "prod.json").write_text("{not json")
    assert command.deployed_api_url("prod") is None


def _senders_table(served: Served) -> tuple[Any, str]:
    stack = open_stack(served.s3_url, "local")
    return stack.dynamodb, stack.names["SENDERS_TABLE"]


def _link_secret(served: Served) -> bytes:
    """The local stage's link secret, where the server's authorizer reads it."""
    from orderflow_cli.commands.senders import link_secret

    return link_secret(open_stack(served.s3_url, "local"))


def test_a_stage_without_its_link_secret_is_one_sentence_and_exit_3(served: Served) -> None:
    from orderflow_cli.commands.senders import link_secret
    from orderflow_cli.exits import CliError, ExitCode

    stack = open_stack(served.s3_url, "local")
    stack.names["LINK_SECRET_PARAMETER"] = "/aws/reference/secretsmanager/orderflow-old-link-secret"

    with pytest.raises(CliError) as raised:
        link_secret(stack)

    assert raised.value.code == ExitCode.UNREACHABLE
    assert "the stage's link secret cannot be read" in str(raised.value)
    assert "make deploy" in str(raised.value)
