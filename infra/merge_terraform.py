"""Deep-merges infra/chalice-merge.tf.json into a `chalice package --pkg-format terraform`
output (Chalice's Terraform format has no --merge-template): what Chalice cannot express, such
as the reviewer's partial batch responses, is added here.

    python infra/merge_terraform.py build/dev/chalice.tf.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MERGE = Path(__file__).resolve().parent / "chalice-merge.tf.json"


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Dicts merge key by key; anything else in `extra` replaces what `base` has."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_file(path: Path) -> None:
    document = deep_merge(json.loads(path.read_text()), json.loads(MERGE.read_text()))
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        merge_file(Path(name))
