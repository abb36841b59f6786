"""The state transitions of an ingest execution, counted from the definition itself.

Step Functions bills a standard workflow per state transition: every state an execution
enters. RecordBatch, which writes the batch's cost receipt, knows which way the execution
went (PrepareFile's status, whether PrepareFile's or its own retries were spent, the status it
is about to return), and walks the definition that ships beside this module
(`ingest.asl.json`, read once per process) along that way, counting the top-level states
entered: the Map's children are Express executions, billed per request and duration instead.
A state added to the definition is counted without anything written here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

DEFINITION = Path(__file__).with_name("ingest.asl.json")
_ENDS = frozenset({"Succeed", "Fail"})


@cache
def definition() -> dict[str, Any]:
    """The state machine's definition, as shipped (its `${...}` placeholders unfilled)."""
    document: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return document


def states_entered(values: Mapping[str, str], caught: frozenset[str] = frozenset()) -> int:
    """How many top-level states an execution enters when each Choice's variable has its value
    in `values` (a variable missing, or a value no rule names, takes the Default), and each
    state named in `caught` fails and is caught (its first Catch is followed)."""
    return _walk(tuple(sorted(values.items())), caught)


@cache
def _walk(values: tuple[tuple[str, str], ...], caught: frozenset[str]) -> int:
    known = dict(values)
    states: dict[str, Any] = definition()["States"]
    name: str | None = definition()["StartAt"]
    entered = 0
    while name is not None:
        if entered > len(states):
            raise ValueError("the walk does not end: a loop in the definition")
        state = states[name]
        entered += 1
        if state["Type"] == "Choice":
            name = _choose(state, known)
        elif name in caught and state.get("Catch"):
            name = state["Catch"][0]["Next"]
        elif state["Type"] in _ENDS or state.get("End"):
            name = None
        else:
            name = state["Next"]
    return entered


def _choose(state: Mapping[str, Any], known: Mapping[str, str]) -> str:
    for rule in state["Choices"]:
        if set(rule) - {"Variable", "StringEquals", "Next"}:
            raise ValueError(f"a Choice rule this walk cannot evaluate: {sorted(rule)}")
        if known.get(rule["Variable"]) == rule["StringEquals"]:
            return str(rule["Next"])
    return str(state["Default"])
