"""The one renderer of `chalicelib/pipeline/ingest.asl.json`, for the emulator and the tests.

The file keeps `${Name}` placeholders (the syntax of CloudFormation's DefinitionSubstitutions):
on AWS, CloudFormation fills them from the stack's `DefinitionSubstitutions`; here `render` fills
every one of them (with the same substitutions, read from the stack by `cloudformation.py`) and
refuses to leave any behind. The definition itself stays in the functions' bundle, where
RecordBatch reads it; this renderer is a dev tool and does not ship to Lambda.

`for_emulator` is the single, named place that adapts the rendered definition for the embedded
emulator (moto's interpreter), in two ways:
- moto refuses Distributed Map children of type EXPRESS: they become STANDARD, which on AWS
  would only change pricing;
- every Map item runs in a thread of one Python process, where concurrency only adds contention
  for the interpreter lock: `MaxConcurrency` is lowered to `max_concurrency`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from chalicelib.pipeline import transitions

DEFINITION_PATH = transitions.DEFINITION  # where the functions read it too
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
    try:
        json.loads(rendered)
    except json.JSONDecodeError as error:
        raise DefinitionError(f"a substitution broke the JSON document: {error}") from error
    return rendered


def for_emulator(rendered: str, max_concurrency: int = 1) -> str:
    """The rendered definition as moto's interpreter runs it best (see the module docstring)."""
    document = json.loads(rendered)
    for state in _states(document):
        processor = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
        if processor.get("Mode") == "DISTRIBUTED" and processor.get("ExecutionType") == "EXPRESS":
            processor["ExecutionType"] = "STANDARD"
        unlimited = state.get("MaxConcurrency", 0) == 0  # 0 or absent: no limit
        if state.get("Type") == "Map" and (unlimited or state["MaxConcurrency"] > max_concurrency):
            state["MaxConcurrency"] = max_concurrency
    return json.dumps(document)


def _states(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in document.get("States", {}).values():
        yield state
        for nested in ("ItemProcessor", "Iterator"):
            if nested in state:
                yield from _states(state[nested])
        for branch in state.get("Branches", []):
            yield from _states(branch)
