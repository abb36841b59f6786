"""json's C decoder, with the hooks that make it ours, and the value problems it finds.

`DECODER` (and `SCAN`, its C scanner without the wrapper `raw_decode` adds) reads strict JSON:
no NaN or Infinity (`parse_constant` refuses them), a number the reader cannot hold raises
`OutOfRange` (`1e400` would be infinity, `1e-400` zero, and an integer past Python's digit limit
cannot be converted), and an object's member named twice or named "" is noted in `REPEATS` (per
thread) for `jsontext.Scanner` to refuse the value it is in. The `FieldError`s here are those
values' rejections: `order.repeated_member`, `order.number_out_of_range`,
`row.empty_member_name`, and `value_error` for any other value code.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
import threading
from collections.abc import Callable
from typing import Any, Final

from chalicelib.orders.codes import VALUE_ERROR_CODES
from chalicelib.orders.records import FieldError

__all__ = [
    "DECODER",
    "EMPTY_MEMBER_NAME",
    "REPEATS",
    "SCAN",
    "OutOfRange",
    "out_of_range",
    "repeated_member",
    "value_error",
]

_MANTISSA: Final = re.compile(r"[eE]")


class OutOfRange(Exception):
    """A number the reader cannot hold (raised from `json`'s number hooks)."""

    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value) or (value == 0.0 and _MANTISSA.split(text, 1)[0].strip("-0.")):
        raise OutOfRange(text)  # 1e400 would be infinity, 1e-400 zero
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise OutOfRange(text) from None


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class _Repeats(threading.local):
    """The first member name an object repeated while this thread decoded its last value, and
    whether an object had a member named "" (which DynamoDB cannot store as an attribute)."""

    name: str | None = None
    empty: bool = False


REPEATS: Final = _Repeats()


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; a name given twice (`"OrderId":"C","OrderId":"D"`) is noted, for
    `read_value` to refuse the value: which one was meant cannot be told."""
    members = dict(pairs)
    if "" in members:
        REPEATS.empty = True
    if len(members) != len(pairs) and REPEATS.name is None:
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                REPEATS.name = name
                break
            seen.add(name)
    return members


DECODER: Final = json.JSONDecoder(
    parse_float=_float, parse_int=_int, parse_constant=_constant, object_pairs_hook=_members
)
# json's C scanner: (text, index) -> (value, end), what raw_decode calls, without its wrapper.
# (typeshed's stub of make_scanner wants a scanner for an argument; CPython's takes a decoder.)
SCAN: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    DECODER  # type: ignore[arg-type]
)


def value_error(code: str, value: Any, message: str | None = None) -> FieldError:
    return FieldError("order", code, message or VALUE_ERROR_CODES[code], value)


# A member named "" is refused by the reader (a `row.*` code, as the reader's own): DynamoDB
# refuses an attribute without a name, and an export or API answer cannot round-trip it.
EMPTY_MEMBER_NAME: Final = FieldError(
    "order",
    "row.empty_member_name",
    'the order holds a member whose name is empty ("": ..., at some level): no field can be '
    "stored without a name; name the member or leave it out",
    None,
)


def repeated_member(name: str) -> FieldError:
    shown = name if len(name) <= 40 else f"{name[:37]}..."
    message = (
        f'the order holds the member "{shown}" twice in one object: which value is meant cannot'
        " be told; send it once"
    )
    return value_error("order.repeated_member", shown, message)


def out_of_range(literal: str) -> FieldError:
    shown = literal if len(literal) <= 40 else f"{literal[:20]}...{literal[-10:]}"
    message = (
        f"the number {shown} is out of range: it cannot be read as a number without becoming "
        "infinity or zero (or has too many digits); send such values as strings"
    )
    return value_error("order.number_out_of_range", shown, message)
