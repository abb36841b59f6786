"""The state machine's selectors against the message models (chalicelib.contracts).

Every JSONPath of `pipeline/ingest.asl.json` that reads or writes a message (the `.$` values of
Parameters, ItemReader, ItemSelector and ResultSelector, each Choice's Variable, ResultPath,
OutputPath, InputPath, ItemsPath) must name a field of the model of the message it reads, with
a literal a Choice compares that field to being one of its enum's values: a selector naming a
field no model has fails here, before any execution runs. And the models' wire forms: the DLQ
message as the pipeline sent it before the models (messages still waiting in a queue), each
model's round trip.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

import pytest

from chalicelib.contracts import (
    BatchState,
    ChunkOutcome,
    ChunkRef,
    ChunkStatus,
    ChunkTask,
    Completion,
    DeadLetterMessage,
    Prepared,
    Reason,
    Recorded,
    Rejection,
    Source,
    SourceFile,
)
from chalicelib.contracts.completion import Counts
from chalicelib.contracts.execution import BatchStatus, Caught, PrepareStatus, Problem
from chalicelib.costs import Requests
from chalicelib.orders.records import FieldError
from chalicelib.pipeline.transitions import definition

# Each Lambda task: what it is handed (`Payload.$: "$"`) and what it returns (`$.Payload`).
TASKS: dict[str, tuple[type, type]] = {
    "PrepareFile": (Source, Prepared),
    "ValidateOrder": (ChunkTask, ChunkOutcome),
    "RecordBatch": (BatchState, Recorded),
    "RecordBatchAfterRetries": (BatchState, Recorded),
}


class _Any:
    """A place whose content no model fixes (a mapping, `Any`): any path below it resolves."""


def _fields(model: type) -> dict[str, Any]:
    hints = typing.get_type_hints(model)
    names = {f.name for f in dataclasses.fields(model)}
    # read-only properties that the wire carries (ChunkOutcome's counts)
    names |= {n for n, v in vars(model).items() if isinstance(v, property)}
    return {name: hints.get(name, _Any) for name in names}


def _resolve(model: Any, path: str) -> Any:
    """The type `path` (`$.a.b`) names in `model`; raises LookupError for a missing field."""
    if path == "$":
        return model
    if not path.startswith("$."):
        raise LookupError(f"{path}: not a path of the state")
    place = model
    for name in path[2:].split("."):
        place = _strip_optional(place)
        if place is _Any or typing.get_origin(place) in (dict, Mapping) or place in (dict, Any):
            return _Any
        if not (isinstance(place, type) and dataclasses.is_dataclass(place)):
            raise LookupError(f"{path}: {name!r} is below a {place!r}, which has no fields")
        fields = _fields(place)
        if name not in fields:
            raise LookupError(f"{path}: {place.__name__} has no field {name!r}")
        place = fields[name]
    return _strip_optional(place)


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return kept[0] if len(kept) == 1 else _Any
    if typing.get_origin(hint) is not None and typing.get_origin(hint) in (dict, Mapping):
        return _Any
    return hint


def _states(states: Mapping[str, Any], in_map: bool = False) -> Iterator[tuple[str, Any, bool]]:
    for name, state in states.items():
        yield name, state, in_map
        processor = state.get("ItemProcessor")
        if processor:
            yield from _states(processor["States"], in_map=True)


def selector_problems(document: Mapping[str, Any]) -> list[str]:
    """Every selector of `document` that names what its message's model lacks."""
    problems: list[str] = []

    def check(where: str, model: Any, path: str) -> Any:
        try:
            return _resolve(model, path)
        except LookupError as missing:
            problems.append(f"{where}: {missing}")
            return None

    for name, state, in_map in _states(document["States"]):
        here = ChunkTask if in_map else BatchState
        handed, returned = TASKS.get(name, (None, None))
        for key in ("InputPath", "OutputPath", "ItemsPath"):
            if isinstance(state.get(key), str):
                check(f"{name}.{key}", here, state[key])
        _check_parameters(name, state, here, handed, check, problems)
        for key, path in (state.get("ResultSelector") or {}).items():
            check(f"{name}.ResultSelector.{key}", returned, "$" + path.removeprefix("$.Payload"))
            _check_result_key(name, state, key, in_map, returned, check)
        for rule in state.get("Choices", []):
            kind = check(f"{name}.Choices", here, rule["Variable"])
            known = (
                {m.value for m in kind}
                if isinstance(kind, type) and issubclass(kind, Enum)
                else None
            )
            if known is not None and rule["StringEquals"] not in known:
                problems.append(f"{name}: {rule['StringEquals']!r} is no {kind.__name__}")
        for caught in [state, *state.get("Catch", [])]:
            written = caught.get("ResultPath")
            if not isinstance(written, str):
                continue
            if in_map:  # beside the item, never over one of its fields
                if written.removeprefix("$.") in _fields(ChunkTask):
                    problems.append(f"{name}: ResultPath {written} overwrites the Map item")
            else:
                check(f"{name}.ResultPath", BatchState, written)
    return problems


def _check_parameters(
    name: str, state: Mapping[str, Any], here: Any, handed: Any, check: Any, problems: list[str]
) -> None:
    parameters = dict(state.get("Parameters") or {})
    parameters.update((state.get("ItemReader") or {}).get("Parameters") or {})
    for key, path in parameters.items():
        if key == "Payload.$":  # the whole state is handed to a Lambda function
            missing = set(_fields(handed)) - set(_fields(here)) if handed else set()
            for field_name in sorted(missing - _DERIVED.get(handed, set())):
                problems.append(f"{name}: hands no {field_name!r} to its {handed.__name__}")
        elif key.endswith(".$") and not path.startswith("$$."):
            check(f"{name}.Parameters.{key}", here, path)
    selector = state.get("ItemSelector")
    if selector:
        if {k.removesuffix(".$") for k in selector} != set(dataclasses_fields(ChunkTask)):
            problems.append(f"{name}: the ItemSelector does not build a ChunkTask")
        for key, path in selector.items():
            if path == "$$.Map.Item.Value":  # a manifest item
                if _fields(ChunkTask).get(key.removesuffix(".$")) is not ChunkRef:
                    problems.append(f"{name}: {key} is no ChunkRef")
            else:
                check(f"{name}.ItemSelector.{key}", BatchState, path)
    if state.get("Type") == "Pass":  # a result standing in for a task's
        for key, value in parameters.items():
            if key.removesuffix(".$") not in _fields(ChunkOutcome):
                problems.append(f"{name}: {key} is no field of a ChunkOutcome")
            if key == "status" and value not in {s.value for s in ChunkStatus}:
                problems.append(f"{name}: {value!r} is no ChunkStatus")


def dataclasses_fields(model: type) -> list[str]:
    return [f.name for f in dataclasses.fields(model)]


# What a model derives rather than reads from the state (a field with a default the state may
# leave out is still read).
_DERIVED: dict[type, set[str]] = {
    Source: {"selector", "copy_source", "copy_condition"},
    BatchState: {"source", "dry_run"},
}


def _check_result_key(
    name: str, state: Mapping[str, Any], key: str, in_map: bool, returned: Any, check: Any
) -> None:
    """A ResultSelector's key is a field of the model its result is kept as."""
    written = state.get("ResultPath", "$")
    try:
        kept = returned if written == "$" or in_map else _resolve(BatchState, written)
    except LookupError:
        return  # the ResultPath itself is reported
    check(f"{name}.ResultSelector key", kept, "$." + key.removesuffix(".$"))


def test_every_selector_of_the_definition_names_a_field_of_its_model() -> None:
    assert selector_problems(definition()) == []


@pytest.mark.parametrize(
    ("state", "change", "said"),
    [
        (
            "PrepareFile",
            lambda s: s["ResultSelector"].update({"manifest.$": "$.Payload.manifest"}),
            "Prepared has no field 'manifest'",
        ),
        (
            "IsReadable",
            lambda s: s["Choices"][0].update({"Variable": "$.prepared.state"}),
            "Prepared has no field 'state'",
        ),
        (
            "IsReadable",
            lambda s: s["Choices"][0].update({"StringEquals": "readable"}),
            "'readable' is no PrepareStatus",
        ),
        (
            "ProcessChunks",
            lambda s: s["ItemSelector"].update({"key.$": "$.source_key"}),
            "BatchState has no field 'source_key'",
        ),
        (
            "ProcessChunks",
            lambda s: s["ItemReader"]["Parameters"].update({"Key.$": "$.prepared.manifest"}),
            "Prepared has no field 'manifest'",
        ),
        (
            "RecordBatch",
            lambda s: s.update({"ResultPath": "$.recorded"}),
            "BatchState has no field 'recorded'",
        ),
        (
            "ProcessChunks",
            lambda s: s["ItemProcessor"]["States"]["ChunkFailed"]["Parameters"].update(
                {"index.$": "$.chunk.number"}
            ),
            "ChunkRef has no field 'number'",
        ),
    ],
)
def test_a_selector_naming_a_field_no_model_has_is_found(
    state: str, change: Any, said: str
) -> None:
    document = copy.deepcopy(definition())
    change(document["States"][state])

    assert any(said in problem for problem in selector_problems(document))


# -- the wire ------------------------------------------------------------------------------------


def _rejection(**changes: Any) -> Rejection:
    error = FieldError("order-info.qty", "qty.not_positive_integer", "qty must be…", "zero")
    fields: dict[str, Any] = {
        "row": 7, "order": {"order-info": {"OrderId": "é-1"}}, "order_id": "é-1",
        "reason": Reason.INVALID, "errors": (error,),
    }  # fmt: skip
    return Rejection(**{**fields, **changes})


def test_a_dlq_message_is_the_json_the_pipeline_sent_before_the_models() -> None:
    # as deadletter.py built it by hand: the envelope, then the rejections as the last field
    head = {"message_id": "b-1:4:2", "sender": "demo", "batch_id": "b-1", "chunk": 4,
            "group": "000004-002", "source": {"bucket": "bk", "key": "incoming/demo/f.csv"},
            "part": 2, "parts": 3}  # fmt: skip
    entry = {**_rejection().summary(), "order": _rejection().order}
    old = json.dumps(head)[:-1] + f', "rejections": [{json.dumps(entry, default=str)}]}}'

    message = DeadLetterMessage.from_json(old)

    assert message.to_json() == old
    assert message.rejections == (_rejection(),)
    assert message.rejections[0].reason is Reason.INVALID
    assert (message.part, message.parts) == (2, 3)
    assert message.source == SourceFile("bk", "incoming/demo/f.csv")


def test_a_truncated_order_keeps_its_mark_and_a_body_of_another_shape_is_refused() -> None:
    cut = _rejection().truncated(lambda value: str(value)[:3])
    message = DeadLetterMessage("b:1", "demo", "b", 1, "000001", SourceFile("bk", "k"), (cut,))

    again = DeadLetterMessage.from_json(message.to_json())

    assert again.rejections[0].order_truncated
    assert again.rejections[0].order == "{'o"
    assert '"order_truncated": true' in message.to_json()
    for body in ("[]", '{"message_id": "x"}', "not json", '{"rejections": [{"row": 1}]}'):
        with pytest.raises(ValueError, match=r"DLQ message|Expecting value"):
            DeadLetterMessage.from_json(body)


@pytest.mark.parametrize(
    "model",
    [
        Source("bk", "k", None, "b-1", "etag", "demo"),
        Prepared(PrepareStatus.READY, "m.json", 2, 5, None, True, Requests(s3_put=3)),
        Prepared(PrepareStatus.QUARANTINED, error=Problem("file.empty", "no orders")),
        ChunkTask("demo", "b-1", "bk", "k", ChunkRef(3, "c/3.json", 10), dry_run=True),
        ChunkOutcome(3, 10, 8, 1, (_rejection(), _rejection(row=9, reason=Reason.CONFLICT))),
    ],
)
def test_each_model_reads_back_what_it_writes(model: Any) -> None:
    kind = type(model)
    parse = kind.from_dict
    assert parse(json.loads(json.dumps(model.to_dict()))) == model


def test_the_state_record_batch_is_handed_is_read_into_its_model() -> None:
    state = {
        **Source("bk", "k", "v1", "b-1", None, "demo").to_dict(),
        "prepared": Prepared(PrepareStatus.READY, "m.json", 1, 2).to_dict(),
        "error": {"Error": "States.TaskFailed", "Cause": "boom"},
        "record_error": {"Error": "DeadLetterUnavailable", "Cause": "refused"},
    }

    parsed = BatchState.from_dict(state)

    assert parsed.source == Source("bk", "k", "v1", "b-1", None, "demo")
    assert parsed.prepared == Prepared(PrepareStatus.READY, "m.json", 1, 2)
    assert parsed.record_error == Caught("DeadLetterUnavailable", "refused")
    assert BatchState.from_dict({**state, "prepared": None}).prepared is None


def test_the_completion_event_reads_back_and_carries_plain_values() -> None:
    event = Completion(
        "demo", "b-1", SourceFile("bk", "k"), BatchStatus.FAILED,
        counts=Counts(total=3, stored=1, rejected=1, unprocessed=1,
                      rejected_by_reason={"invalid": 1}),
        error=Problem("pipeline.chunks_unprocessed", "1 order(s)"), receipt={"requests": {}},
    )  # fmt: skip

    detail = json.loads(json.dumps(event.to_dict()))

    assert Completion.from_dict(detail) == event
    assert detail["status"] == "failed"
    assert (detail["total"], detail["unprocessed"], detail["rejected_by_reason"]) == (
        3,
        1,
        {"invalid": 1},
    )  # flat on the wire
    assert detail["file"] == {"bucket": "bk", "key": "k"}
    assert Recorded("b-1", BatchStatus.FAILED, 3, 1, 1).to_dict()["status"] == "failed"
