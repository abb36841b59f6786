"""Text from senders, shown on an operator's terminal as itself.

An OrderId, a sender's name or a reviewer's reason can hold any character a file held: an
escape sequence (`ESC ]0;...` retitles the terminal, `ESC [2J` clears it), a carriage return
that overwrites the start of the line, a right-to-left override that reverses what follows, or a
line break that forges a row of the table. `shown` writes every control (Cc), format (Cf) and
line or paragraph separator (Zl, Zp) character as its escape (`\\x1b`, `\\u202e`), so a table
row is one line and says what was sent; every other character is left as it is.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_ESCAPED = frozenset({"Cc", "Cf", "Zl", "Zp"})


def shown(value: Any) -> str:
    """`value` as text a terminal prints as itself, on one line."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to escape (and no allocation)
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _ESCAPED:
        return char
    point = ord(char)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"
