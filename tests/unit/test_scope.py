"""The API's reads are made with credentials held to the caller's sender: the session policy
asked for is the narrow one, and every read the routes make stays inside it."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws, wiring
from chalicelib.api import service
from chalicelib.api.scope import ReadScope, session_policy
from chalicelib.pipeline.store import partition_key
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import order, run, write_orders
from tests.unit.conftest import MotoStack

SCOPE = ReadScope(
    table_arns=("arn:aws:dynamodb:eu-west-1:1:table/b", "arn:aws:dynamodb:eu-west-1:1:table/r"),
    bucket_arn="arn:aws:s3:::bucket",
    prefixes=("work/", "archive/"),
    sharded_table_arns=("arn:aws:dynamodb:eu-west-1:1:table/o",),
)


@pytest.mark.parametrize("sender", ["acme", "a", "shop-2"])
def test_the_session_policy_allows_reads_of_the_senders_items_and_objects_only(sender):
    policy = session_policy(sender, SCOPE)

    items, sharded, objects, indexed = policy["Statement"]
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    # tables: reads only, and only items whose partition key is the sender
    assert sorted(items["Action"]) == ["dynamodb:GetItem", "dynamodb:Query"]
    assert items["Resource"] == list(SCOPE.table_arns)
    assert items["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [sender]}}
    # the orders table: reads only, of items whose partition key is one of the sender's shards
    assert sorted(sharded["Action"]) == ["dynamodb:GetItem", "dynamodb:Query"]
    assert sharded["Resource"] == list(SCOPE.sharded_table_arns)
    assert sharded["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{sender}#*"]}
    }
    # the bucket: reads of objects inside the sender's own folders, no wildcard above them
    assert objects["Action"] == ["s3:GetObject"]
    assert objects["Resource"] == [
        f"arn:aws:s3:::bucket/work/{sender}/*",
        f"arn:aws:s3:::bucket/archive/{sender}/*",
    ]
    # the tables' indexes (GET /batches reads by_created): queries of the sender's items only
    assert indexed["Action"] == ["dynamodb:Query"]
    assert indexed["Resource"] == [f"{arn}/index/*" for arn in SCOPE.table_arns]
    assert indexed["Condition"] == items["Condition"]
    text = json.dumps(policy)
    assert '"*"' not in text  # no action or resource is a bare wildcard
    for broader in ("Scan", "Put", "Delete", "Update"):
        assert broader not in text


def test_every_read_of_the_routes_goes_through_the_senders_session_and_stays_in_it(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    # The whole emulator, on purpose: the reads are those of real data the pipeline left in
    # every table and the bucket (an order, a batch with its report, its reviews).
    # given a batch of sender acme with a rejection (so it has reviews and a report), and one
    # of another sender
    path = write_orders(tmp_path / "a.json", [order("s-1"), order("s-2", qty="0")])
    (batch,) = run(local, path, sender="acme")
    run(local, write_orders(tmp_path / "b.json", [order("s-1")]), sender="other")
    local.dead_letters.settle()
    deps = wiring.api_deps(local.settings)
    assert deps.scoped is not None, "the local stage names a reader role"
    asked: list[dict[str, Any]] = []
    aws.sts().meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: asked.append(dict(params))
    )
    keys: list[str] = []
    aws.sts().meta.events.register(
        "after-call.sts.AssumeRole",
        lambda parsed, **_: keys.append(parsed["Credentials"]["AccessKeyId"]),
    )
    clients = deps.scoped.clients("acme")  # the first AssumeRole: its key signs below
    reads: list[tuple[str, dict[str, Any]]] = []
    clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb",
        lambda model, params, **_: reads.append((model.name, dict(params))),
    )
    asked.clear()

    # when acme's routes read
    status = service.batch_status(batch["batch_id"], sender="acme", deps=deps)
    found = service.get_order("s-1", sender="acme", deps=deps)
    service.list_reviews(batch["batch_id"], None, sender="acme", deps=deps)
    service.list_reviews(None, "invalid", sender="acme", deps=deps)
    listed = service.list_batches(sender="acme", deps=deps)["batches"]
    service.list_rejections(batch["batch_id"], sender="acme", deps=deps)

    # then they were made with acme's session (kept: no second AssumeRole), each request
    # naming acme as its partition key: what dynamodb:LeadingKeys allows
    assert asked == []
    assert found["sender"] == "acme"
    assert [b["batch_id"] for b in listed] == [batch["batch_id"]]  # through by_created
    assert {name for name, _ in reads} == {"GetItem", "Query"}
    for name, params in reads:
        if name == "GetItem" and params["TableName"] == local.settings.orders_table:
            assert like(params["Key"]["sender_shard"]["S"], "acme#*")  # one of acme's shards
        elif name == "GetItem":
            assert params["Key"]["sender"] == {"S": "acme"}
        else:
            assert params["KeyConditionExpression"].startswith("#s = :s")
            assert params["ExpressionAttributeValues"][":s"] == {"S": "acme"}
    # and the report's links are signed with the session's key, inside acme's folder
    (access_key,) = keys
    for url in (status["report"]["csv"], status["report"]["jsonl"]):
        assert access_key in url
        assert f"/work/acme/{batch['batch_id']}/" in url


def test_the_policy_asked_for_names_the_caller_and_the_stage(moto_stack: MotoStack) -> None:
    # no table or bucket: only STS (moto's) answers the AssumeRole
    settings = moto_stack.settings
    deps = wiring.api_deps(settings)
    assert deps.scoped is not None
    asked: list[dict[str, Any]] = []
    aws.sts().meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: asked.append(dict(params))
    )

    deps.scoped.clients("shop-9")

    (request,) = asked
    assert request["RoleArn"] == settings.api_read_role_arn
    assert request["RoleArn"].endswith(":role/orderflow-local-api-reader")
    policy = json.loads(request["Policy"])
    assert policy == session_policy("shop-9", wiring.read_scope(settings))
    (items, sharded, _, _) = policy["Statement"]
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert set(items["Resource"]) == {
        table + name for name in (settings.batches_table, settings.reviews_table)
    }
    assert sharded["Resource"] == [table + settings.orders_table]


def like(value: str, pattern: str) -> bool:
    """IAM's StringLike, written apart from the product: `*` any run of characters, `?` one,
    case-sensitive (fnmatch's `[` has no meaning in IAM, and no sender id or key holds one)."""
    assert "[" not in value + pattern
    return fnmatchcase(value, pattern)


def test_the_orders_tables_leading_keys_pattern_matches_the_senders_keys_and_no_others() -> None:
    # given the keys the store writes for a sender and for senders whose ids look alike
    (_, sharded, _, _) = session_policy("acme", SCOPE)["Statement"]
    (pattern,) = sharded["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    ids = [f"order-{i}" for i in range(2_000)]
    # then every one of acme's keys matches, and none of the others'
    assert all(like(partition_key("acme", i), pattern) for i in ids)
    for other in ("acme-2", "acm", "acme2", "xacme", "a", "acme-"):
        assert not any(like(partition_key(other, i), pattern) for i in ids[:200])


@pytest.mark.parametrize("sender", ["acme*", "ac?me", "acme#1", "*", "", "ACME", "acme\n"])
def test_a_sender_id_that_would_widen_the_pattern_gets_no_policy(sender: str) -> None:
    with pytest.raises(ValueError, match="not a sender id"):
        session_policy(sender, SCOPE)
