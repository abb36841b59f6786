"""The design, read from the repository at run time: every setting the model needs, and where.

- `.chalice/config.json`: the chunk's size, the writes in flight per chunk and the store's
  retries (top-level `environment_variables`, the stage's override them; a setting absent from
  both is `chalicelib.settings`' default, what the functions would run with), and each
  function's memory, timeout and reserved concurrency (the "dev" stage);
- `chalicelib/pipeline/ingest.asl.json`: the Map's MaxConcurrency and its child's Retry of a
  throttled invocation;
- `chalicelib.pipeline.store.ORDER_SHARDS`: the orders table's key values per sender;
- `chalicelib.pipeline.inflight.S3_IN_FLIGHT`: the chunk uploads (PrepareFile) and outcome
  reads (RecordBatch) in flight at once, for each of prepare.py and finish.py that calls
  `in_order`;
- `app.py`: the DLQ reviewer's batch size; `chalicelib/pipeline/pacing.py`: paced writers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORDER_SHARDS = 1_024  # when chalicelib.pipeline.store names none


@dataclass(frozen=True, slots=True)
class Design:
    """The settings the model needs; `read_design` fills them from the repository."""

    chunk_max_orders: int = 1_000
    chunk_max_bytes: int = 1_000_000
    max_concurrency: int = 20  # the ProcessChunks Map's (0: Step Functions' 10,000)
    store_writers: int = 8  # conditional puts in flight inside one chunk
    order_shards: int = 1_024  # partition key values of one sender in the orders table
    store_max_retries: int = 3  # of a put that failed (the service's error, a connection)
    store_max_throttle_retries: int = 10  # of a put DynamoDB refused for its rate
    store_retry_base: float = 0.05  # STORE_RETRY_BASE_SECONDS: full jitter, doubling
    store_retry_max: float = 2.0  # STORE_RETRY_MAX_SECONDS
    validate_memory_mb: int = 256
    validate_reserved: int | None = 20  # None: no reserved concurrency
    prepare_memory_mb: int = 512
    record_memory_mb: int = 512
    reviewer_memory_mb: int = 256
    reviewer_reserved: int | None = 5
    reviewer_batch_size: int = 10
    # ValidateOrder's Retry of Lambda.TooManyRequestsException in the Map's child
    invoke_retry_interval: float = 1.0
    invoke_retry_attempts: int = 3
    invoke_retry_backoff: float = 2.0
    invoke_retry_max_delay: float | None = None  # MaxDelaySeconds, when the Retry names one
    validate_timeout: float = 300.0  # ValidateOrder's lambda_timeout (an Express child: 300 s)
    prepare_timeout: float = 900.0  # PrepareFile's lambda_timeout
    record_timeout: float = 900.0  # RecordBatch's (its reprocessing of failed chunks included)
    # chunk uploads by PrepareFile and outcome reads by RecordBatch in flight at once: 1 is one
    # after the other; `read_design` takes chalicelib.pipeline.inflight.S3_IN_FLIGHT for each
    # of prepare.py and finish.py that runs them through `in_order`
    prepare_uploads: int = 1
    record_reads: int = 1
    other_reserved: int = 0  # reserved concurrency of the other functions (the account's pool)
    # the chunk's writers slow down when DynamoDB throttles (chalicelib/pipeline/pacing.py):
    # then no put is taken to burn its retries, and the table-bound time assumes the pacer
    # keeps the table busy at its usable rate
    paced: bool = False
    sources: tuple[tuple[str, str], ...] = ()  # (setting, where it was read) for the report


class _Stage:
    """One stage of .chalice/config.json, the top level's environment beneath the stage's,
    and the source of each setting read from it."""

    def __init__(self, root: Path, stage: str) -> None:
        config = json.loads((root / ".chalice" / "config.json").read_text())
        stage_config = config.get("stages", {}).get(stage, {})
        self.env: dict[str, Any] = {
            **config.get("environment_variables", {}),
            **stage_config.get("environment_variables", {}),
        }
        self.functions: dict[str, Any] = stage_config.get("lambda_functions", {})
        self.default_memory = int(
            stage_config.get("lambda_memory_size", config.get("lambda_memory_size", 128))
        )
        self.default_timeout = float(
            stage_config.get("lambda_timeout", config.get("lambda_timeout", 60))
        )
        self.sources: list[tuple[str, str]] = []

    def setting(self, name: str, field: str, fallback: int) -> int:
        """An integer setting, and where it came from."""
        if name in self.env:
            self.sources.append((name, f".chalice/config.json environment_variables {name}"))
            return int(self.env[name])
        default = int(settings_default(field, fallback))
        self.sources.append((name, f"not in .chalice/config.json: default {default}"))
        return default

    def seconds(self, name: str, field: str, fallback: float) -> float:
        return float(self.env.get(name, settings_default(field, fallback)))

    def memory(self, function: str) -> int:
        return int(self.functions.get(function, {}).get("lambda_memory_size", self.default_memory))

    def timeout(self, function: str) -> float:
        return float(self.functions.get(function, {}).get("lambda_timeout", self.default_timeout))

    def reserved(self, function: str) -> int | None:
        value = self.functions.get(function, {}).get("reserved_concurrency")
        return None if value is None else int(value)


def settings_default(field: str, fallback: Any) -> Any:
    """`chalicelib.settings.Settings`' default of a field: what the functions run with when
    .chalice/config.json does not set it."""
    from chalicelib.settings import Settings

    found = Settings.model_fields.get(field)
    return fallback if found is None or found.default is None else found.default


def read_design(root: Path = ROOT, stage: str = "dev") -> Design:
    """The design as the repository holds it now (each value's source kept in `sources`)."""
    config = _Stage(root, stage)
    chunks_state = _map_state(
        json.loads((root / "chalicelib" / "pipeline" / "ingest.asl.json").read_text())
    )
    config.sources.append(("MaxConcurrency", "chalicelib/pipeline/ingest.asl.json ProcessChunks"))
    retry = _invoke_retry(chunks_state)
    shards, shards_source = _order_shards()
    config.sources.append(("ORDER_SHARDS", shards_source))
    others = sum(config.reserved(name) or 0 for name in config.functions if name != "ValidateOrder")
    config.sources.append(("memory, reserved concurrency", f".chalice/config.json stage {stage!r}"))
    return Design(
        chunk_max_orders=config.setting("CHUNK_MAX_ORDERS", "chunk_max_orders", 1_000),
        chunk_max_bytes=config.setting("CHUNK_MAX_BYTES", "chunk_max_bytes", 1_000_000),
        max_concurrency=int(chunks_state.get("MaxConcurrency", 0)),
        store_writers=config.setting("STORE_WRITERS", "store_writers", 1),
        order_shards=shards,
        store_max_retries=config.setting("STORE_MAX_RETRIES", "store_max_retries", 3),
        store_max_throttle_retries=config.setting(
            "STORE_MAX_THROTTLE_RETRIES", "store_max_throttle_retries", 10
        ),
        store_retry_base=config.seconds(
            "STORE_RETRY_BASE_SECONDS", "store_retry_base_seconds", 0.05
        ),
        store_retry_max=config.seconds("STORE_RETRY_MAX_SECONDS", "store_retry_max_seconds", 2.0),
        validate_memory_mb=config.memory("ValidateOrder"),
        validate_reserved=config.reserved("ValidateOrder"),
        prepare_memory_mb=config.memory("PrepareFile"),
        record_memory_mb=config.memory("RecordBatch"),
        reviewer_memory_mb=config.memory("ReviewDeadLetters"),
        reviewer_reserved=config.reserved("ReviewDeadLetters"),
        reviewer_batch_size=_reviewer_batch_size(root),
        **_retry_fields(retry),
        validate_timeout=config.timeout("ValidateOrder"),
        prepare_timeout=config.timeout("PrepareFile"),
        record_timeout=config.timeout("RecordBatch"),
        prepare_uploads=_in_flight(root, "prepare.py", "PrepareFile", config.sources),
        record_reads=_in_flight(root, "finish.py", "RecordBatch", config.sources),
        other_reserved=others,
        paced=(root / "chalicelib" / "pipeline" / "pacing.py").exists(),
        sources=tuple(config.sources),
    )


def _map_state(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Distributed Map state of the definition (ProcessChunks)."""
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Map":
            return dict(state)
    raise ValueError("the definition has no Map state")


def _invoke_retry(map_state: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Retry of the child's Lambda task that covers a throttled invocation."""
    for state in map_state.get("ItemProcessor", {}).get("States", {}).values():
        for retry in state.get("Retry", []):
            if "Lambda.TooManyRequestsException" in retry.get("ErrorEquals", []):
                return dict(retry)
    return {"IntervalSeconds": 1, "MaxAttempts": 0, "BackoffRate": 1.0}


def _retry_fields(retry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "invoke_retry_interval": float(retry.get("IntervalSeconds", 1)),
        "invoke_retry_attempts": int(retry.get("MaxAttempts", 3)),
        "invoke_retry_backoff": float(retry.get("BackoffRate", 2.0)),
        "invoke_retry_max_delay": (
            float(retry["MaxDelaySeconds"]) if "MaxDelaySeconds" in retry else None
        ),
    }


def _order_shards() -> tuple[int, str]:
    from chalicelib.pipeline import store

    shards = getattr(store, "ORDER_SHARDS", None)
    if shards is not None:
        return int(shards), "chalicelib.pipeline.store.ORDER_SHARDS"
    default = DEFAULT_ORDER_SHARDS
    return default, f"not in chalicelib.pipeline.store: default {default}"


def _in_flight(root: Path, module: str, function: str, sources: list[tuple[str, str]]) -> int:
    """The S3 requests `function` (its code in chalicelib/pipeline/`module`) has in flight at
    once: `S3_IN_FLIGHT`, read now, when the module runs them through `in_order`; else 1."""
    path = root / "chalicelib" / "pipeline" / module
    name = f"S3 in flight ({function})"
    if not path.exists() or "in_order(" not in path.read_text():
        sources.append((name, f"chalicelib/pipeline/{module} has no in_order: one at a time"))
        return 1
    from chalicelib.pipeline import inflight

    sources.append((name, f"chalicelib.pipeline.inflight.S3_IN_FLIGHT ({module}'s in_order)"))
    return max(1, int(inflight.S3_IN_FLIGHT))


def _reviewer_batch_size(root: Path) -> int:
    match = re.search(
        r"on_sqs_message\([^)]*batch_size=(\d+)[^)]*name=\"ReviewDeadLetters\"",
        (root / "app.py").read_text(),
    )
    return int(match.group(1)) if match else 10


def parse_settings(design: Design, assignments: Sequence[str]) -> Design:
    """`--set name=value` for any Design field (`none` for no reserved concurrency)."""
    changes: dict[str, Any] = {}
    known = {f.name for f in fields(Design)} - {"sources"}
    for assignment in assignments:
        name, _, text = assignment.partition("=")
        name = name.strip()
        if name not in known:
            raise SystemExit(f"--set: no setting {name!r}; one of {', '.join(sorted(known))}")
        current = getattr(design, name)
        if text.strip().lower() == "none":
            changes[name] = None
        elif isinstance(current, float):
            changes[name] = float(text)
        else:
            changes[name] = int(text)
    if not changes:
        return design
    sources = (*design.sources, *((name, "--set") for name in changes))
    return replace(design, **changes, sources=sources)
