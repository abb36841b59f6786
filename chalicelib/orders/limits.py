"""What any order may hold, whatever format it came in: checked without recursion.

An order nests objects and arrays at most `MAX_DEPTH` levels deep (the order object itself is
level 1, `order-info` level 2), its text is valid Unicode (no lone UTF-16 surrogate, which JSON's
`\\udXXX` escapes can carry but UTF-8, DynamoDB and SQS cannot), and its numbers are ones the
reader holds exactly enough (not `1e400`, which would become infinity). Each breach is that
order's own rejection, with its code (`codes.VALUE_ERROR_CODES`); its neighbours never notice.

Every walk here keeps its own stack: a value nested thousands of levels deep is measured, never
recursed into, so nothing downstream (chunk encoding, validation, the store's serialiser, the
DLQ message) ever sees a value deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from chalicelib.orders.codes import VALUE_ERROR_CODES
from chalicelib.orders.records import FieldError

__all__ = [
    "MAX_DEPTH",
    "VALUE_ERROR_CODES",
    "check_value",
    "escape_surrogates",
    "invalid_text",
    "too_deep",
]

MAX_DEPTH: Final = 32  # orders are 2 levels; generous room for extra fields (codes.py says 32)


_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_CONTAINERS: Final = (dict, list)
_SHOWN: Final = 200  # characters of an offending value kept in the error


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when `value` nests objects or arrays more than `limit` levels deep."""
    return _first_problem(value, limit) == "order.too_deep"


def check_value(value: Any) -> FieldError | None:
    """The first reason `value` may not be an order's content (too deep, or text that is not
    valid Unicode), as that order's `FieldError`; None when it may."""
    problem = _first_problem(value, MAX_DEPTH)
    if problem is None:
        return None
    if problem == "order.too_deep":
        return FieldError("order", problem, VALUE_ERROR_CODES[problem], None)
    return _find_invalid_text(value)


def _first_problem(value: Any, limit: int) -> str | None:
    """One pass, no recursion and no paths: cheap enough for every order validated."""
    if isinstance(value, str):
        return "order.invalid_text" if _is_invalid_text(value) else None
    if not isinstance(value, _CONTAINERS):
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return "order.too_deep"
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and not key.isascii() and _LONE_SURROGATE.search(key):
                    return "order.invalid_text"
                if isinstance(child, str):
                    if not child.isascii() and _LONE_SURROGATE.search(child):
                        return "order.invalid_text"
                elif isinstance(child, _CONTAINERS):
                    stack.append((child, depth + 1))
        else:
            for child in node:
                if isinstance(child, str):
                    if not child.isascii() and _LONE_SURROGATE.search(child):
                        return "order.invalid_text"
                elif isinstance(child, _CONTAINERS):
                    stack.append((child, depth + 1))
    return None


def _is_invalid_text(text: str) -> bool:
    # isascii() is a flag lookup in CPython: the regex runs only on non-ASCII text.
    return not text.isascii() and _LONE_SURROGATE.search(text) is not None


def _find_invalid_text(value: Any) -> FieldError:
    """The first lone surrogate in document order, with the path to it (depth already known
    to be within bounds)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, str):
            if _is_invalid_text(current):
                return invalid_text(path or "order", current)
        elif isinstance(current, dict):
            children: list[tuple[Any, str]] = []
            for key, child in current.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _is_invalid_text(key):
                    return invalid_text(where, key)
                children.append((child, where))
            stack.extend(reversed(children))  # popped in document order
        elif isinstance(current, list):
            stack.extend((current[i], f"{path}[{i}]") for i in reversed(range(len(current))))
    raise AssertionError("no invalid text found where _first_problem found some")


def invalid_text(field: str, text: str) -> FieldError:
    """`order.invalid_text` for `text` found at `field`; the value shows it escaped."""
    where = escape_surrogates(field)
    lone = _LONE_SURROGATE.search(text)
    escape = f"\\u{ord(lone.group()):04x}" if lone else "a lone surrogate"
    return FieldError(
        where,
        "order.invalid_text",
        f"{where} holds text that is not valid Unicode: {escape} is a lone UTF-16 surrogate "
        "(half of a pair), which UTF-8 cannot encode",
        escape_surrogates(text[:_SHOWN]),
    )


def escape_surrogates(text: str) -> str:
    """`text` with every lone surrogate written as its JSON escape (`\\udfff`): valid Unicode,
    and nothing is replaced by `?`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
