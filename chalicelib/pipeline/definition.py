"""The one renderer of `statemachine/ingest.asl.json`, for deployment, tests and local runs.

The file keeps `${Name}` placeholders (the syntax of CloudFormation's DefinitionSubstitutions);
`render` fills every one of them and refuses to leave any behind.

The embedded emulator (moto's interpreter) refuses one thing the deployed definition uses:
Distributed Map child executions of type EXPRESS. `for_emulator` is the single, named place that
adapts the rendered definition for it (children become STANDARD, which only changes pricing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "ingest.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


class DefinitionError(ValueError):
    """A placeholder was left unfilled, or a substitution names no placeholder."""


def placeholders(text: str | None = None) -> set[str]:
    """The names of the `${Name}` placeholders in the definition."""
    source = DEFINITION_PATH.read_text() if text is None else text
    return set(_PLACEHOLDER.findall(source))


def render(substitutions: Mapping[str, str], *, path: Path = DEFINITION_PATH) -> str:
    """The definition with every placeholder filled; raises DefinitionError otherwise."""
    text = path.read_text()
    wanted = placeholders(text)
    missing = sorted(wanted - substitutions.keys())
    unknown = sorted(substitutions.keys() - wanted)
    if missing or unknown:
        raise DefinitionError(f"missing substitutions {missing}, unknown substitutions {unknown}")
    rendered = _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)
    json.loads(rendered)  # a substitution must never break the document
    return rendered


def for_emulator(rendered: str) -> str:
    """The rendered definition as moto's interpreter accepts it (see the module docstring)."""
    document = json.loads(rendered)
    for state in _states(document):
        processor = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
        if processor.get("Mode") == "DISTRIBUTED" and processor.get("ExecutionType") == "EXPRESS":
            processor["ExecutionType"] = "STANDARD"
    return json.dumps(document)


def _states(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in document.get("States", {}).values():
        yield state
        for nested in ("ItemProcessor", "Iterator"):
            if nested in state:
                yield from _states(state[nested])
        for branch in state.get("Branches", []):
            yield from _states(branch)
