"""Every S3 key the product writes or reads is built by `chalicelib.pipeline.naming`: the keys
it builds, each in its sender's folder, and a scan of the product's code for keys spelled
elsewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chalicelib.pipeline.naming import (
    BatchKeys,
    api_key_for,
    archive_key_for,
    duplicate_upload_key_for,
    file_name,
    incoming_prefix_of,
    quarantine_root_for,
    redrive_key_for,
    sender_file_key,
    sender_folder,
    sender_of_key,
    upload_key_for,
)
from chalicelib.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = Settings.model_validate({})  # the prefixes as no stage overrides them


def test_each_key_is_spelled_as_documented() -> None:
    incoming = DEFAULTS.incoming_prefix
    assert sender_file_key(incoming, "acme", "orders.csv") == "incoming/acme/orders.csv"
    assert api_key_for(incoming, "acme", "api-1") == "incoming/acme/api/api-1.json"
    assert upload_key_for(incoming, "acme", "up-1", "a.csv") == "incoming/acme/uploads/up-1/a.csv"
    assert redrive_key_for(incoming, "acme", "ab12") == "incoming/acme/redrive/ab12.jsonl"
    archive = DEFAULTS.archive_prefix
    assert archive_key_for(archive, "acme", "b-1", "000002") == "archive/acme/b-1/000002.json"
    quarantine = DEFAULTS.quarantine_prefix
    assert quarantine_root_for(quarantine, "acme", "b-1") == "quarantine/acme/b-1/"
    assert (
        duplicate_upload_key_for(quarantine, "acme", "b-1", "e7")
        == "quarantine/acme/b-1/duplicate-upload-e7.json"
    )
    keys = BatchKeys("b-1", "acme", DEFAULTS.work_prefix, quarantine)
    assert keys.report("jsonl") == "work/acme/b-1/report/rejections.jsonl"
    assert keys.report("csv") == "work/acme/b-1/report/rejections.csv"
    assert keys.quarantine_root == quarantine_root_for(quarantine, "acme", "b-1")


@pytest.mark.parametrize("sender", ["acme", "shop-2"])
def test_every_key_of_a_sender_lies_in_its_folder_of_its_prefix(sender: str) -> None:
    s = DEFAULTS
    incoming = [
        sender_file_key(s.incoming_prefix, sender, "x.csv"),
        api_key_for(s.incoming_prefix, sender, "api-1"),
        upload_key_for(s.incoming_prefix, sender, "up-1", "x.csv"),
        redrive_key_for(s.incoming_prefix, sender, "ab"),
    ]
    for key in incoming:
        assert key.startswith(incoming_prefix_of(s.incoming_prefix, sender))
        assert sender_of_key(s.incoming_prefix, key) == sender  # the trigger reads it back
    keys = BatchKeys("b-1", sender, s.work_prefix, s.quarantine_prefix)
    work = [keys.manifest, keys.chunk(3), keys.result(3), keys.report("csv")]
    assert all(k.startswith(sender_folder(s.work_prefix, sender)) for k in work)
    quarantined = [
        keys.quarantined_file(f"incoming/{sender}/x.csv"),
        keys.quarantine_report(),
        duplicate_upload_key_for(s.quarantine_prefix, sender, "b-1", "e7"),
    ]
    assert all(k.startswith(sender_folder(s.quarantine_prefix, sender)) for k in quarantined)
    archived = archive_key_for(s.archive_prefix, sender, "b-1", "000001")
    assert archived.startswith(sender_folder(s.archive_prefix, sender))


def test_a_quarantined_file_keeps_its_name() -> None:
    assert file_name("incoming/acme/uploads/up-1/Spring orders.csv") == "Spring orders.csv"
    keys = BatchKeys("b-1", "acme", "work/", "quarantine/")
    assert keys.quarantined_file("incoming/acme/a/b.xlsx") == "quarantine/acme/b-1/b.xlsx"


# -- no key spelled outside naming -------------------------------------------------------------

# A formatted value that is one of the bucket's prefixes (a setting, the stage's environment's
# `*_PREFIX`, or a parameter named `prefix`), at the start of an f-string: a key being built.
_PREFIX_VALUE = re.compile(
    r"(incoming|work|quarantine|archive)_prefix\b|\[['\"][A-Z]+_PREFIX['\"]\]|^prefix$"
)
_PRODUCT = ("chalicelib", "orderflow_cli")
_HOMES = {"chalicelib/pipeline/naming.py", "chalicelib/settings.py"}  # the builder, the defaults
# Keys still spelled in modules of other rooms, each to call naming instead (issue 23); this
# list may only shrink: a module that builds a key by hand and is not here fails the test.
_PENDING = {
    "chalicelib/pipeline/report.py",  # BatchKeys.report(form)
    "chalicelib/pipeline/trigger.py",  # duplicate_upload_key_for
}


def _keys_spelled_in(path: Path) -> list[int]:
    """The lines of `path` that start a key with a bucket prefix, or name a default prefix."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.FormattedValue) and _PREFIX_VALUE.search(
                ast.unparse(first.value)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and node.value in {
            DEFAULTS.incoming_prefix,
            DEFAULTS.work_prefix,
            DEFAULTS.quarantine_prefix,
            DEFAULTS.archive_prefix,
        }:
            lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_naming_builds_an_s3_key() -> None:
    files = [REPO / "app.py"] + [p for room in _PRODUCT for p in (REPO / room).rglob("*.py")]
    spelled = {
        path.relative_to(REPO).as_posix(): lines
        for path in files
        if path.relative_to(REPO).as_posix() not in _HOMES and (lines := _keys_spelled_in(path))
    }
    unexpected = {module: lines for module, lines in spelled.items() if module not in _PENDING}
    assert not unexpected, f"S3 keys built outside chalicelib/pipeline/naming.py: {unexpected}"


def test_the_scan_finds_a_key_built_by_hand(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "def key(settings, sender, name):\n"
        "    return f'{settings.work_prefix}{sender}/{name}'\n"
        "def message(prefix):\n"
        "    return f'files go under {prefix}'\n"  # a message, not a key
        "INCOMING = 'incoming/'\n"
    )
    assert sorted(_keys_spelled_in(module)) == [2, 5]
