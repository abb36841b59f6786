"""`orders senders ...`: the senders (tenants), their API keys, webhooks, limits, mapping
profiles and upload links, on `orders serve` or a stage.

Each subcommand checks its options, then calls one function below with the stage's
`SenderRegistry`; the function does the one change and returns the answer (the JSON document
and the lines a terminal shows). A key or a signing secret is in the answer once and nowhere
else. A sender mistake (`SenderError`: no such sender, a taken or malformed id) is one line
and exit code 1, and nothing was changed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import click

from orderflow_cli.commands.options import (
    Group,
    answer,
    debug_option,
    mapping_file,
    stack_options,
)
from orderflow_cli.exits import CliError, ExitCode
from orderflow_cli.stage import CONFIG_PATH
from orderflow_cli.text import shown

if TYPE_CHECKING:
    from chalicelib.callback_urls import CallbackPolicy
    from chalicelib.orders.readers.columns import ColumnMapping
    from chalicelib.senders import SenderRegistry
    from orderflow_cli.stack import Stack

Answer = tuple[Any, list[str]]  # the JSON document (--json), else the lines to print


@click.group(cls=Group, help="The senders (tenants) and their API keys.")
@debug_option
def senders() -> None:
    pass


_sender_id = click.argument("sender_id", metavar="ID")


@contextmanager
def _stack(endpoint: str | None, stage: str) -> Iterator[Stack]:
    """The stack (`connect`); a `SenderError` inside becomes the subcommand's one line, exit
    code 1 (`orders: senders add: ...`)."""
    from orderflow_cli.stack import connect

    stack = connect(endpoint, stage)
    from chalicelib.senders import SenderError  # after `connect`, which may stop the command

    try:
        yield stack
    except SenderError as error:
        subcommand = click.get_current_context().info_name
        raise CliError(f"senders {subcommand}: {error}", ExitCode.PROBLEMS, "orders") from error


@senders.command(
    "add", help="Add a sender (ID: lower-case letters, digits, hyphens); prints its key, once."
)
@_sender_id
@click.option("--name", required=True, help="The sender's display name.")
@stack_options()
def senders_add(sender_id: str, name: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    with _stack(endpoint, stage) as stack:
        return answer(*add_sender(stack.senders, sender_id, name), as_json)


@senders.command("list", help="Every sender: id, status, name, live keys.")
@stack_options()
def senders_list(endpoint: str | None, stage: str, as_json: bool) -> int:
    with _stack(endpoint, stage) as stack:
        return answer(*list_senders(stack.senders), as_json)


@senders.command(
    "rotate-key", help="A new API key for the sender (printed once); its old key stops at once."
)
@_sender_id
@stack_options()
def senders_rotate_key(sender_id: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    with _stack(endpoint, stage) as stack:
        return answer(*rotate_key(stack.senders, sender_id), as_json)


@senders.command("disable", help="Refuse every key of the sender from now on (its data stays).")
@_sender_id
@stack_options()
def senders_disable(sender_id: str, endpoint: str | None, stage: str, as_json: bool) -> int:
    with _stack(endpoint, stage) as stack:
        return answer(*disable_sender(stack.senders, sender_id), as_json)


@senders.command(
    "webhook",
    help="Where the sender's batch completions go when a batch names no callback URL, signed"
    " with the sender's own secret (printed once; --rotate: a new one, both sign until"
    " --end-rotation).",
)
@_sender_id
@click.option("--url", help="The webhook URL (https on AWS).")
@click.option("--remove", is_flag=True, help="No webhook for this sender any more.")
@click.option("--rotate", is_flag=True, help="A new signing secret; the old one still signs.")
@click.option("--end-rotation", is_flag=True, help="Only the newest secret signs from now on.")
@stack_options()
def senders_webhook(
    sender_id: str,
    url: str | None,
    remove: bool,
    rotate: bool,
    end_rotation: bool,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    if sum((bool(url), remove, end_rotation)) != 1 or (rotate and not url):
        raise click.UsageError(
            "give --url URL (with --rotate to rotate), --remove or --end-rotation"
        )
    with _stack(endpoint, stage) as stack:
        if url:
            done = set_webhook(stack.senders, sender_id, url, _policy(stack), rotate=rotate)
        elif remove:
            done = remove_webhook(stack.senders, sender_id)
        else:
            done = end_webhook_rotation(stack.senders, sender_id)
        return answer(*done, as_json)


@senders.command("limits", help="The sender's own limits (unset: the stage's).")
@_sender_id
@click.option("--max-orders", type=click.IntRange(1), help="Orders per POST /orders.")
@click.option("--max-upload-bytes", type=click.IntRange(1), help="Bytes per presigned upload.")
@stack_options()
def senders_limits(
    sender_id: str,
    max_orders: int | None,
    max_upload_bytes: int | None,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    with _stack(endpoint, stage) as stack:
        return answer(*set_limits(stack.senders, sender_id, max_orders, max_upload_bytes), as_json)


@senders.command(
    "profile",
    help="The sender's saved column mapping (JSON: columns, sheet, delimiter), applied to every"
    " file of the sender that comes without a mapping of its own.",
)
@_sender_id
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The mapping to save (validated first).",
)
@click.option("--clear", is_flag=True, help="No saved mapping for this sender any more.")
@stack_options()
def senders_profile(
    sender_id: str,
    mapping: Path | None,
    clear: bool,
    endpoint: str | None,
    stage: str,
    as_json: bool,
) -> int:
    if (mapping is None) == (not clear):
        raise click.UsageError("give --mapping FILE or --clear")
    column_mapping = mapping_file(mapping) if mapping is not None else None
    with _stack(endpoint, stage) as stack:
        return answer(*set_profile(stack.senders, sender_id, column_mapping), as_json)


@senders.command(
    "link",
    help="An upload link for the sender's page (printed with the link BASE#link=TOKEN when the"
    " page's address is known): it may upload, send orders and read the sender's own batches,"
    " nothing else, for --days days; rotate-key or disable revokes it.",
)
@_sender_id
@click.option("--days", type=int, default=7, show_default=True, help="How long it works, 1 to 90.")
@click.option(
    "--url",
    metavar="BASE",
    help="The page's address (the API's URL); default on a deployed stage: its REST API's URL"
    " (.chalice/deployed/STAGE.json).",
)
@stack_options()
def senders_link(
    sender_id: str, days: int, url: str | None, endpoint: str | None, stage: str, as_json: bool
) -> int:
    from chalicelib.api.links import LinkError, expiry

    now = time.time()
    try:
        expires = expiry(days, now)  # a usage mistake, said before the stack is asked
    except LinkError as error:
        raise CliError(f"--days: {error}", ExitCode.USAGE) from error
    base = _page_address(url)
    with _stack(endpoint, stage) as stack:
        if base is None and not stack.emulated:
            base = deployed_api_url(stage)
        where = "the partners' page `orders serve` printed" if stack.emulated else "the API's URL"
        made = make_link(stack.senders, sender_id, expires, link_secret(stack), base, where)
        return answer(*made, as_json)


def add_sender(registry: SenderRegistry, sender_id: str, name: str) -> Answer:
    sender, key = registry.add(sender_id, name)
    return {**sender.to_dict(), "api_key": key}, [
        f"sender {sender.sender_id} added; its API key (shown once): {key}"
    ]


def list_senders(registry: SenderRegistry) -> Answer:
    every = [s.to_dict() for s in registry.every()]
    lines = [
        f"{s['sender_id']:<40} {s['status']:<9} keys {s['keys']}  {shown(s['name'])}" for s in every
    ]
    return every, lines or ["no senders"]


def rotate_key(registry: SenderRegistry, sender_id: str) -> Answer:
    key = registry.rotate_key(sender_id)
    return {"sender_id": sender_id, "api_key": key}, [
        f"sender {sender_id}: new API key (shown once): {key}; the old one no longer works"
    ]


def disable_sender(registry: SenderRegistry, sender_id: str) -> Answer:
    return registry.disable(sender_id).to_dict(), [
        f"sender {sender_id} disabled: its keys are refused from now on"
    ]


def set_webhook(
    registry: SenderRegistry, sender_id: str, url: str, policy: CallbackPolicy, *, rotate: bool
) -> Answer:
    """The address is checked now as DeliverCallback will check it before each delivery (the
    stage's https and loopback rules): one delivery would refuse is refused here, in a sentence,
    and nothing is changed."""
    from chalicelib.callback_urls import CallbackRefused, check_url

    try:
        check_url(url, policy)
    except CallbackRefused as refused:
        message = str(refused).replace("callback_url", "the webhook URL", 1)
        raise CliError(f"--url: {message}: nothing was changed", ExitCode.USAGE) from refused
    secret = registry.set_webhook(sender_id, url, rotate=rotate)
    told = f"; its signing secret (shown once): {secret}" if secret else " (its secret is kept)"
    return {"sender_id": sender_id, "webhook_url": url, "secret": secret}, [
        f"sender {sender_id}: completions go to {url}{told}"
    ]


def remove_webhook(registry: SenderRegistry, sender_id: str) -> Answer:
    secret = registry.set_webhook(sender_id, None)
    return {"sender_id": sender_id, "webhook_url": None, "secret": secret}, [
        f"sender {sender_id}: no webhook any more"
    ]


def end_webhook_rotation(registry: SenderRegistry, sender_id: str) -> Answer:
    registry.end_rotation(sender_id)
    return {"sender_id": sender_id}, [
        f"sender {sender_id}: only the newest secret signs from now on"
    ]


def set_limits(
    registry: SenderRegistry, sender_id: str, max_orders: int | None, max_upload_bytes: int | None
) -> Answer:
    limits = registry.set_limits(
        sender_id, max_orders_per_request=max_orders, max_upload_bytes=max_upload_bytes
    ).to_dict()
    orders = limits["max_orders_per_request"] or "the stage's"
    size = limits["max_upload_bytes"] or "the stage's"
    return limits, [
        f"sender {sender_id}: at most {orders} orders per request, {size} bytes per upload"
    ]


def set_profile(registry: SenderRegistry, sender_id: str, mapping: ColumnMapping | None) -> Answer:
    saved = registry.set_profile(sender_id, mapping.to_dict() if mapping is not None else None)
    sender = saved.to_dict()
    return sender, [
        f"sender {sender_id}: profile saved: {json.dumps(sender['profile'])}"
        if mapping is not None
        else f"sender {sender_id}: no saved mapping any more"
    ]


def make_link(
    registry: SenderRegistry,
    sender_id: str,
    expires: int,
    secret: bytes,
    base: str | None,
    where: str = "the page's address",
) -> Answer:
    """A link for an active sender, valid until `expires` for the keys it has now; the link
    `BASE#link=TOKEN` when the page's address `base` is known (a fragment never reaches a
    server), else how to make it (`where`: where that address is found)."""
    from chalicelib.api.links import Link, mint
    from chalicelib.senders import SenderError, check_id

    check_id(sender_id)
    sender = registry.get(sender_id)
    if sender is None:
        raise SenderError(f"there is no sender {sender_id!r}")
    if not sender.active:
        raise SenderError(f"sender {sender_id!r} is disabled: a link would be refused")
    token = mint(Link(sender_id, expires, sender.keyset), secret)
    until = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
    link = f"{base}#link={token}" if base else None
    lines = [
        f"sender {sender_id}: upload link until {until} (uploads and its own batches only;"
        " rotate-key or disable revokes it)",
        f"token: {token}",
        f"link:  {link or f'give --url BASE ({where}), or open that page with #link=TOKEN added'}",
    ]
    expires_at = datetime.fromtimestamp(expires, UTC).isoformat()
    return {"sender_id": sender_id, "token": token, "expires": expires_at, "link": link}, lines


def link_secret(stack: Stack) -> bytes:
    """The stage's link secret, read where its authorizer reads it (LINK_SECRET_PARAMETER)."""
    from botocore.exceptions import ClientError

    assert stack.ssm is not None  # open_stack makes it for every stack
    ssm = stack.ssm
    parameter = stack.names["LINK_SECRET_PARAMETER"]
    try:
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise CliError(
            f"the stage's link secret cannot be read ({parameter}: {code}): is the stack"
            " deployed with its LinkSecret (make deploy)?",
            ExitCode.UNREACHABLE,
        ) from error
    return str(value).encode()


def deployed_api_url(stage: str) -> str | None:
    """The REST API's URL that `chalice deploy` recorded for `stage`, or None."""
    try:
        deployed = json.loads((CONFIG_PATH.parent / "deployed" / f"{stage}.json").read_text())
        urls = [r["rest_api_url"] for r in deployed["resources"] if "rest_api_url" in r]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(urls[0]) if urls else None


def _page_address(url: str | None) -> str | None:
    """`--url`, checked: an http(s) address without a fragment of its own, ending in `/` (the
    page names its files relative to its address: on AWS `.../api` would lose the stage)."""
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc or parsed.fragment:
        raise CliError(
            f"--url: {url!r} is not the page's address: give it as https://HOST/PATH/",
            ExitCode.USAGE,
        )
    address = url.rstrip("#")
    return address if parsed.path.endswith("/") else address + "/"


def _policy(stack: Stack) -> CallbackPolicy:
    """The stage's rules for callback addresses, as its functions read them."""
    from chalicelib.callback_urls import CallbackPolicy

    names = stack.names
    return CallbackPolicy(
        require_https=names.get("CALLBACK_REQUIRE_HTTPS", "true").lower() != "false",
        allow_loopback=names.get("CALLBACK_ALLOW_LOOPBACK", "false").lower() == "true",
    )
