"""A stage's names as Chalice gives them to its functions, read from `.chalice/config.json`.

The one reader of the stages' environment, for the emulator and for the operator's commands on
a deployed stage alike. It imports neither moto nor the emulator: a command aimed at AWS starts
without them.
"""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = PROJECT_ROOT / ".chalice" / "config.json"
# The region of the embedded emulator, and of a deployed stage when neither AWS_REGION nor
# AWS_DEFAULT_REGION names one.
REGION = "us-east-1"


def stage_environment(stage: str, config_path: Path = CONFIG_PATH) -> dict[str, str]:
    """The environment variables Chalice gives the functions of `stage` (shared, then stage)."""
    config = json.loads(config_path.read_text())
    merged = dict(config.get("environment_variables", {}))
    merged.update(config["stages"][stage].get("environment_variables", {}))
    return merged


def stages() -> list[str]:
    """Every stage `.chalice/config.json` defines."""
    return sorted(json.loads(CONFIG_PATH.read_text())["stages"])
