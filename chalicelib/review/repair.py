"""Repair rules for invalid orders: fixed, documented, conservative; never a guessed value.

Each rule mends one kind of mistake whose meaning is not in doubt, and says what it changed:

- `invisible_characters`: zero-width characters and BOMs inside text fields
  ("10\u200b01" -> "1001");
- `order_id_from_number`: an OrderId sent as a whole JSON number (1001 -> "1001");
- `qty_integral_decimal`: a quantity written as a whole decimal ("2.0", 2.0 -> 2);
- `email_wrapping`: an address wrapped in <...> or prefixed by mailto: ("<a@b.org>" -> "a@b.org").

Letter case in an address's domain and a quantity written "02" need no repair: validation
accepts them as they are. Anything else (a missing field, "three", "0", an address
without "@") is left for a person.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.contracts.review import Change

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_WRAPPED_EMAIL = re.compile(r"^\s*(?:mailto:|<)\s*([^<>\s]+@[^<>\s]+?)\s*>?\s*$", re.IGNORECASE)


Rule = Callable[[str, Any], Any]  # (field, value) -> the mended value, or the value unchanged


def _invisible_characters(field: str, value: Any) -> Any:
    return _INVISIBLE.sub("", value) if isinstance(value, str) else value


def _order_id_from_number(field: str, value: Any) -> Any:
    if field == "order-info.OrderId" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _qty_integral_decimal(field: str, value: Any) -> Any:
    if field != "order-info.qty" or isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\.0+\s*", value):
        try:
            return int(Decimal(value.strip()))
        except InvalidOperation:
            return value
    return value


def _email_wrapping(field: str, value: Any) -> Any:
    if field == "contact-info.email" and isinstance(value, str):
        match = _WRAPPED_EMAIL.match(value)
        if match and match.group(1) != value:
            return match.group(1)
    return value


RULES: tuple[tuple[str, Rule], ...] = (
    ("invisible_characters", _invisible_characters),
    ("order_id_from_number", _order_id_from_number),
    ("qty_integral_decimal", _qty_integral_decimal),
    ("email_wrapping", _email_wrapping),
)
_GROUPS = ("order-info", "contact-info")


def repair(order: Any) -> tuple[Any, list[Change]]:
    """The order with every rule applied, and the changes made (none: nothing to mend)."""
    if not isinstance(order, dict):
        return order, []
    mended = copy.deepcopy(order)
    changes: list[Change] = []
    for group in _GROUPS:
        fields = mended.get(group)
        if not isinstance(fields, dict):
            continue
        for name, value in list(fields.items()):
            path = f"{group}.{name}"
            for rule_name, rule in RULES:
                after = rule(path, value)
                if after != value or type(after) is not type(value):
                    changes.append(Change(rule_name, path, value, after))
                    value = after
            fields[name] = value
    return mended, changes
