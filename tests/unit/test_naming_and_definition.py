"""Unit tests for chalicelib.pipeline.naming and orderflow_cli.emulator.definition."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.pipeline.naming import BatchKeys, batch_id_for, sender_of_key
from orderflow_cli.emulator import definition
from orderflow_cli.emulator.cloudformation import (
    Provisioning,
    StackParameters,
    load_template,
    stage_names,
)
from orderflow_cli.emulator.definition import DefinitionError, for_emulator, placeholders, render
from orderflow_cli.stage import stage_environment

# Step Functions execution names: 1-80 characters; we promise the safe subset.
EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")

# A value for whatever placeholders the definition has (its content is not this file's concern).
SUBSTITUTIONS = {name: f"subst-value-of-{name}" for name in sorted(placeholders())}


# --- batch ids --------------------------------------------------------------------------------


def test_batch_id_is_a_pure_function_of_the_object():
    # given the same object named twice, when its batch id is derived, then it is the same
    first = batch_id_for("bucket", "incoming/orders.json", "v1")
    again = batch_id_for("bucket", "incoming/orders.json", "v1")
    assert first == again


def test_batch_id_starts_with_a_readable_slug_of_the_file_name():
    batch_id = batch_id_for("bucket", "incoming/2024/Orders March.CSV", "etag")
    assert batch_id.startswith("orders-march-csv-")
    assert re.fullmatch(r"orders-march-csv-[0-9a-f]{20}", batch_id)


@pytest.mark.parametrize(
    ("other_bucket", "other_key", "other_version"),
    [
        ("other-bucket", "incoming/orders.json", "v1"),
        ("bucket", "incoming/orders2.json", "v1"),
        ("bucket", "elsewhere/orders.json", "v1"),  # same file name, other folder
        ("bucket", "incoming/orders.json", "v2"),
        ("bucket", "incoming/orders.json", None),
    ],
    ids=["bucket", "key", "folder", "version", "no-version"],
)
def test_batch_id_differs_when_the_object_differs(other_bucket, other_key, other_version):
    # given an object and another that differs in one part of its identity
    base = batch_id_for("bucket", "incoming/orders.json", "v1")

    # when both are named, then the names differ
    assert batch_id_for(other_bucket, other_key, other_version) != base


@pytest.mark.parametrize(
    "key",
    [
        "incoming/orders.json",
        "incoming/" + "a-very-long-file-name-" * 20 + ".json",
        "incoming/pedidos-março-ñandú-注文.csv",
        "incoming/注文データ.jsonl",  # no ASCII letter at all before the extension
        "incoming/完全に非ASCII",
        "incoming/---",
        "incoming/",  # a "folder" object: no file name
        "incoming/" + "ü" * 200,
        "incoming/a b\tc\nd%20e+f=g&h'i\"j.json",
    ],
)
@pytest.mark.parametrize("version", [None, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40N"])
def test_batch_id_is_a_valid_execution_name_for_any_key(key, version):
    # given any object key, when its batch id is derived
    batch_id = batch_id_for("orderflow-prod-orders", key, version)

    # then it is a valid Step Functions execution name, with no leading or trailing dash
    assert EXECUTION_NAME.fullmatch(batch_id), batch_id
    assert not batch_id.startswith("-")
    assert not batch_id.endswith("-")
    assert "--" not in batch_id


def test_long_file_names_keep_the_full_digest():
    # given two long names that share their first 100 characters
    stem = "x" * 100
    one = batch_id_for("bucket", f"incoming/{stem}-one.json", None)
    two = batch_id_for("bucket", f"incoming/{stem}-two.json", None)

    # then the slug is cut but the digest still tells them apart
    assert len(one) <= 80
    assert one != two
    assert re.fullmatch(r"x+-[0-9a-f]{20}", one)


# --- batch keys -------------------------------------------------------------------------------


def test_batch_keys_place_everything_under_the_sender_and_the_batch():
    # given the keys of one batch of sender acme
    keys = BatchKeys("b-123", "acme", work_prefix="work/", quarantine_prefix="quarantine/")

    # then work files live under work/acme/<batch>/, the quarantine under quarantine/acme/<batch>/
    assert keys.root == "work/acme/b-123/"
    assert keys.manifest == "work/acme/b-123/manifest.json"
    assert keys.chunk(0) == "work/acme/b-123/chunks/000000.json"
    assert keys.chunk(42) == "work/acme/b-123/chunks/000042.json"
    assert keys.result(7) == "work/acme/b-123/results/000007.json"
    assert keys.report_prefix == "work/acme/b-123/report/"
    assert keys.quarantined_file("incoming/acme/bad.csv") == "quarantine/acme/b-123/bad.csv"
    assert keys.quarantine_report() == "quarantine/acme/b-123/error.json"


@pytest.mark.parametrize(
    ("key", "sender"),
    [
        ("incoming/acme/orders.csv", "acme"),
        ("incoming/acme/uploads/up-1/orders.csv", "acme"),
        ("incoming/shop-2/api/api-1.json", "shop-2"),
        ("incoming/orders.csv", None),  # straight under incoming/: no sender's folder
        ("incoming/Acme/orders.csv", None),  # not a sender id: never lower-cased into one
        ("incoming/_unassigned/orders.csv", None),
        ("incoming/acme/", None),  # a folder, not a file
        ("elsewhere/acme/orders.csv", None),
        ("incoming//orders.csv", None),
    ],
)
def test_the_sender_of_a_file_is_read_from_its_folder_and_never_guessed(key, sender):
    assert sender_of_key("incoming/", key) == sender


def test_chunk_keys_sort_in_chunk_order():
    # given many chunks, when their keys are listed as S3 lists them (lexicographically)
    keys = BatchKeys("b", "demo", "work/", "quarantine/")
    listed = sorted(keys.chunk(i) for i in (0, 9, 10, 99, 100, 12345))

    # then the order is the chunks' order
    assert listed == [keys.chunk(i) for i in (0, 9, 10, 99, 100, 12345)]


# --- the definition ---------------------------------------------------------------------------


def test_render_fills_every_placeholder():
    # given a substitution for every placeholder
    assert SUBSTITUTIONS, "the definition has placeholders"

    # when the definition is rendered
    rendered = render(SUBSTITUTIONS)

    # then no placeholder is left, every value is in, and the document is JSON
    assert "${" not in rendered
    for value in SUBSTITUTIONS.values():
        assert value in rendered
    assert isinstance(json.loads(rendered), dict)


@pytest.mark.parametrize("name", sorted(SUBSTITUTIONS))
def test_render_refuses_a_missing_substitution(name):
    # given the substitutions without one
    partial = {k: v for k, v in SUBSTITUTIONS.items() if k != name}

    # when rendering, then it names the missing one
    with pytest.raises(DefinitionError, match=name):
        render(partial)


def test_render_refuses_an_unknown_substitution():
    with pytest.raises(DefinitionError, match="NoSuchPlaceholder"):
        render({**SUBSTITUTIONS, "NoSuchPlaceholder": "x"})


def test_the_stacks_substitutions_for_the_local_stage_fill_exactly_the_placeholders():
    # given the substitutions the stack makes, read for the local stage as the emulator reads
    # them (its start is checked against the stack in tests/infra/test_emulator_provisioning.py)
    environment = stage_environment("local")
    parameters = StackParameters(stage="local", account="123456789012", region="us-east-1")
    stack = Provisioning.from_template(load_template(), parameters, stage_names(environment))
    machine = stack.state_machine("IngestStateMachine")

    # when it renders, then nothing is left and the stage's bucket is named
    rendered = render(machine.substitutions, path=machine.definition)
    assert "${" not in rendered
    assert environment["BUCKET_NAME"] in rendered


def test_render_uses_the_given_path_and_checks_its_placeholders(tmp_path: Path):
    # given a definition of our own with two placeholders
    path = tmp_path / "tiny.asl.json"
    path.write_text('{"StartAt": "${First}", "Comment": "${Second} and ${First}"}')

    # when rendering with both, then both are filled everywhere
    assert json.loads(render({"First": "A", "Second": "B"}, path=path)) == {
        "StartAt": "A",
        "Comment": "B and A",
    }
    # and without one, it refuses
    with pytest.raises(DefinitionError):
        render({"First": "A"}, path=path)


def test_the_emulator_definition_differs_only_in_the_express_children():
    # given the rendered definition, and no concurrency to lower
    rendered = render(SUBSTITUTIONS)
    original = json.loads(rendered)

    # when it is adapted for the emulator
    adapted = json.loads(for_emulator(rendered, max_concurrency=10**6))

    # then every distributed map's EXPRESS children became STANDARD...
    assert any(p.get("ExecutionType") == "EXPRESS" for p in _distributed_processors(original))
    changed = _distributed_processors(adapted)
    assert changed
    assert all(p["ExecutionType"] == "STANDARD" for p in changed)

    # ...and with that field put back, the documents are equal
    for processor in changed:
        processor["ExecutionType"] = "EXPRESS"
    assert adapted == original


def test_the_emulator_definition_only_lowers_map_concurrency_besides():
    # given the rendered definition
    rendered = render(SUBSTITUTIONS)
    original = json.loads(rendered)

    # when it is adapted with the default concurrency
    adapted = json.loads(for_emulator(rendered))

    # then, with the execution type put back, only MaxConcurrency may differ, and only down to 1
    for processor in _distributed_processors(adapted):
        processor["ExecutionType"] = "EXPRESS"
    lowered = _strip_max_concurrency(adapted)
    before = _strip_max_concurrency(original)
    assert lowered == [min(value, 1) for value in before]
    assert adapted == original


def test_for_emulator_caps_map_concurrency_and_never_raises_it():
    # given maps with concurrency above, at and below the cap
    document = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Map", "MaxConcurrency": 50, "ItemProcessor": _inline(), "Next": "B"},
            "B": {"Type": "Map", "MaxConcurrency": 4, "ItemProcessor": _inline(), "Next": "C"},
            "C": {"Type": "Map", "MaxConcurrency": 2, "ItemProcessor": _inline(), "End": True},
        },
    }

    # when adapted with a cap of 4
    adapted = json.loads(for_emulator(json.dumps(document), max_concurrency=4))

    # then only the map above the cap changes
    assert [adapted["States"][s]["MaxConcurrency"] for s in "ABC"] == [4, 4, 2]


@pytest.mark.parametrize("given", [{"MaxConcurrency": 0}, {}], ids=["zero", "absent"])
def test_for_emulator_caps_an_unlimited_map_too(given):
    # given a map without a concurrency limit
    document = {
        "StartAt": "A",
        "States": {"A": {"Type": "Map", **given, "ItemProcessor": _inline(), "End": True}},
    }

    # when adapted with a cap of 2
    adapted = json.loads(for_emulator(json.dumps(document), max_concurrency=2))

    # then it is capped like any other map
    assert adapted["States"]["A"].get("MaxConcurrency") == 2


def test_for_emulator_leaves_a_definition_without_express_children_alone():
    document = {
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "MaxConcurrency": 3, "ItemProcessor": _inline(), "End": True}
        },
    }
    assert json.loads(for_emulator(json.dumps(document), max_concurrency=10**6)) == document


def _inline() -> dict[str, Any]:
    return {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": True}},
    }


def _strip_max_concurrency(document: Any) -> list[int]:
    """Removes every MaxConcurrency from `document` (in place); returns their values."""
    values: list[int] = []
    if isinstance(document, dict):
        if "MaxConcurrency" in document:
            values.append(document.pop("MaxConcurrency"))
        for value in document.values():
            values.extend(_strip_max_concurrency(value))
    elif isinstance(document, list):
        for value in document:
            values.extend(_strip_max_concurrency(value))
    return values


def test_definition_path_is_the_repository_file():
    assert definition.DEFINITION_PATH.name == "ingest.asl.json"
    assert definition.DEFINITION_PATH.is_file()


def _distributed_processors(document: Any) -> list[dict[str, Any]]:
    """Every ProcessorConfig with Mode DISTRIBUTED, wherever it is nested."""
    found: list[dict[str, Any]] = []
    if isinstance(document, dict):
        config = document.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED":
            found.append(config)
        for value in document.values():
            found.extend(_distributed_processors(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(_distributed_processors(value))
    return found


# --- batch ids that an Idempotency-Key seeds ----------------------------------------------------


def test_a_seeded_batch_id_is_keyed_with_the_servers_secret():
    from chalicelib.pipeline.naming import new_batch_id

    seed = "acme\nmy-idempotency-key"
    one, other = b"server-secret-one", b"server-secret-two"

    # the same seed and key always give the same id; another key another id
    assert new_batch_id("api", seed, one) == new_batch_id("api", seed, one)
    assert new_batch_id("api", seed, one) != new_batch_id("api", seed, other)
    # it is not the plain digest of the seed (what anyone who knows the key could compute)
    assert new_batch_id("api", seed, one) != f"api-{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
    # it is HMAC-SHA256 of the seed under the key (computed here by the standard library)
    expected = hmac.new(one, seed.encode(), "sha256").hexdigest()[:24]
    assert new_batch_id("api", seed, one) == f"api-{expected}"
    with pytest.raises(ValueError, match="secret"):
        new_batch_id("api", seed)
