"""The one JSON reader of order data: JSON documents and arrays, JSON Lines, and POST /orders.

Strict JSON (RFC 8259: no NaN or Infinity, no comments, no trailing commas, no control
characters inside strings), read from a stream without recursion. Two kinds of problem, kept
apart because they have different owners:

* `JsonSyntaxError`: the text is not JSON. In a document that is the file's problem (nothing
  after the error can be trusted); in JSON Lines it is the line's.
* a value problem: the text is JSON, but one value is one an order may not hold (nested deeper
  than `limits.MAX_DEPTH`, a lone surrogate escape, a number such as `1e400`, a member named
  `""`, at any level, which no store can keep as an attribute name). `read_value`
  returns it as that value's `FieldError`, with the value's text exactly as sent, and reading
  goes on: one bad order never sinks its neighbours.

`Scanner.read_value` has a fast path and an exact path that always agree:

* fast: `json`'s C decoder (`jsondecode.SCAN`, what `raw_decode` calls) builds the value at
  the current position; two C string scans (brackets, surrogate escapes) say whether the value
  needs a closer look, which `limits.check_value` gives it without recursion.
* exact: when the fast path fails for any reason (a value cut by the end of the buffer, a
  syntax error, a number out of range, nesting beyond what `json` will recurse into), the value
  is scanned token by token with an explicit stack, which finds its end, its depth and any
  syntax error with its position; only a value within `MAX_DEPTH` is then decoded.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chalicelib.orders.jsondecode import (
    DECODER,
    EMPTY_MEMBER_NAME,
    REPEATS,
    SCAN,
    OutOfRange,
    out_of_range,
    repeated_member,
    value_error,
)
from chalicelib.orders.limits import MAX_DEPTH, check_value
from chalicelib.orders.records import FieldError

__all__ = ["JsonSyntaxError", "Parsed", "Scanner", "parse_text"]

CHUNK: Final = 64 * 1024  # bytes read from the source at a time
_KEPT: Final = 64  # characters kept before the position when the buffer is released
_LOOKAHEAD: Final = 3  # characters that must follow a value for it to be complete ("2.5" + "e-3")

_WS: Final = re.compile(r"[ \t\n\r]*")
_SPACE: Final = frozenset(" \t\n\r")
# What may follow an element of an array: a comma and the next element's start, or the end.
_AFTER_ELEMENT: Final = re.compile(r"[ \t\n\r]*(?:(,)[ \t\n\r]*(?=[^ \t\n\r])|\])")
# The inside of a string, token by token, so that a scan cut by the end of the buffer can
# resume where it stopped.
_STRING_BODY: Final = re.compile(r'(?:[^"\\\x00-\x1f]+|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS: Final = ("true", "false", "null")
_NOT_JSON_CONSTANTS: Final = ("NaN", "Infinity", "-Infinity")
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PARTIAL_ESCAPE: Final = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?")  # an escape the buffer may cut


class JsonSyntaxError(Exception):
    """The text is not JSON. `pos` indexes the scanner's text; `at_end` says that the text
    ended before the value did (a truncated document)."""

    def __init__(self, message: str, pos: int, *, at_end: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.at_end = at_end


@dataclass(frozen=True, slots=True)
class Parsed:
    """One JSON value: the value, or (with `error` set) its text as sent and why it may not be
    an order's content."""

    value: Any
    error: FieldError | None = None


class Scanner:
    """JSON text read from a byte stream (UTF-8, already checked) into a buffer that holds
    at least the value being read; `release` drops what the caller is done with."""

    def __init__(
        self, read: Callable[[int], bytes] | None, text: str = "", offset: int = 0
    ) -> None:
        self.text = text
        self.pos = 0
        self._read = read
        self.eof = read is None
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._released_bytes = offset  # bytes of the file before text[0]
        self._released_lines = 0  # newlines among them

    @classmethod
    def of_text(cls, text: str) -> Scanner:
        return cls(None, text)

    # where -------------------------------------------------------------------------------------

    def byte_offset(self, pos: int) -> int:
        return self._released_bytes + len(self.text[:pos].encode("utf-8", "surrogatepass"))

    def line(self, pos: int) -> int:
        return self._released_lines + self.text.count("\n", 0, pos) + 1

    def excerpt(self, pos: int) -> str:
        """The text around `pos` (24 characters before, 12 after), on one line."""
        while len(self.text) < pos + 12 and self.more():
            pass
        shown = self.text[max(pos - 24, 0) : pos + 12]
        return " ".join(shown.split())

    def release(self) -> None:
        """Forgets the text before the current position, but for a few characters that an
        error's excerpt may show (keeps offsets and lines right)."""
        if self.pos < max(CHUNK, 2 * _KEPT):
            return
        cut = self.pos - _KEPT
        done = self.text[:cut]
        self._released_bytes += len(done.encode("utf-8", "surrogatepass"))
        self._released_lines += done.count("\n")
        self.text, self.pos = self.text[cut:], _KEPT

    # reading -----------------------------------------------------------------------------------

    def more(self) -> bool:
        """Appends the next piece of the stream to the buffer; False at the end."""
        if self.eof or self._read is None:
            return False
        # As much again as the buffer holds, in one append: a long value costs linear time.
        wanted = max(CHUNK, len(self.text))
        pieces: list[bytes] = []
        while wanted > 0:
            data = self._read(wanted)
            if not data:
                self.eof = True
                break
            pieces.append(data)
            wanted -= len(data)
        self.text += self._decoder.decode(b"".join(pieces), self.eof)
        return bool(pieces)

    def peek(self) -> str:
        """The character at the position ("" at the end of the text)."""
        while self.pos >= len(self.text):
            if not self.more():
                return ""
        return self.text[self.pos]

    def skip_ws(self) -> None:
        while True:
            match = _WS.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            if self.pos < len(self.text) or not self.more():
                return

    def expect(self, char: str, what: str) -> None:
        self.skip_ws()
        if self.peek() != char:
            raise self.expected(what)
        self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.peek() == ""

    def expected(self, what: str) -> JsonSyntaxError:
        """The error for finding something other than `what` at the position."""
        if self.peek() == "":
            message = f"the text ends where {what} was expected"
            return JsonSyntaxError(message, self.pos, at_end=True)
        return JsonSyntaxError(f"expected {what}, found {self.text[self.pos]!r}", self.pos)

    # values ------------------------------------------------------------------------------------

    def next_element(self) -> bool:
        """After an element of an array: True past the "," before the next one, False past the
        closing "]"; raises `JsonSyntaxError` for anything else."""
        match = _AFTER_ELEMENT.match(self.text, self.pos)
        if match is not None:  # the usual case, in one step
            self.pos = match.end()
            return match.group(1) is not None
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            return False
        self.expect(",", "',' or ']'")
        self.skip_ws()
        return True

    def read_value(self) -> Parsed:
        """The value at the position (after any whitespace); moves past it."""
        if self.pos >= len(self.text) or self.text[self.pos] in _SPACE:
            self.skip_ws()
        start = self.pos
        REPEATS.name, REPEATS.empty = None, False
        try:
            value, end = SCAN(self.text, start)  # json's C scanner, the fast path
        except (StopIteration, ValueError, RecursionError, OutOfRange):
            pass  # the exact path decides what it was
        else:
            if self.eof or end + _LOOKAHEAD <= len(self.text):  # else a number may go on
                self.pos = end
                return self._checked(value, start, end)
        depth = self.skip_value()
        end = self.pos
        text = self.text[start:end]
        if depth > MAX_DEPTH:
            return Parsed(text, value_error("order.too_deep", None))
        try:
            value = DECODER.decode(text)
        except OutOfRange as problem:
            return Parsed(text, out_of_range(problem.literal))
        except ValueError as error:  # the scan and json disagree: trust neither with the value
            raise JsonSyntaxError(f"not JSON ({error})", start) from error
        return self._checked(value, start, end)

    def _checked(self, value: Any, start: int, end: int) -> Parsed:
        text = self.text
        repeated, REPEATS.name = REPEATS.name, None
        if repeated is not None:
            return Parsed(text[start:end], repeated_member(repeated))
        if REPEATS.empty:
            REPEATS.empty = False
            return Parsed(text[start:end], EMPTY_MEMBER_NAME)
        if (
            text.count("{", start, end) + text.count("[", start, end) > MAX_DEPTH
            or _SURROGATE_ESCAPE.search(text, start, end) is not None
        ):
            problem = check_value(value)
            if problem is not None:
                return Parsed(text[start:end], problem)
        return Parsed(value)

    def skip_value(self) -> int:
        """Moves past one JSON value, checking its syntax token by token with an explicit
        stack (never recursion); returns its nesting depth (0 for a scalar)."""
        closing: list[str] = []  # the bracket each open container waits for
        depth = 0
        self.skip_ws()
        while True:
            char = self.peek()
            if char in ("{", "["):  # a container opens
                self.pos += 1
                closing.append("}" if char == "{" else "]")
                depth = max(depth, len(closing))
                self.skip_ws()
                if self.peek() == closing[-1]:
                    self.pos += 1
                    closing.pop()
                elif char == "{":
                    self._key()
                    continue
                else:
                    continue
            else:
                self._scalar()
            while True:  # after a value: the end, or what the open container allows next
                if not closing:
                    return depth
                self.skip_ws()
                char = self.peek()
                if char == ",":
                    self.pos += 1
                    if closing[-1] == "}":
                        self._key()
                    self.skip_ws()
                    break
                if char != closing[-1]:
                    raise self.expected(f"',' or '{closing[-1]}'")
                self.pos += 1
                closing.pop()

    def _key(self) -> None:
        self.skip_ws()
        if self.peek() != '"':
            raise self.expected("a key (a string in double quotes)")
        self.read_string()
        self.expect(":", "':' after a key")
        self.skip_ws()

    def _scalar(self) -> None:
        char = self.peek()
        if char == '"':
            self.read_string()
        elif char == "-" or "0" <= char <= "9":
            self._number()
        else:
            self._literal()

    def read_string(self) -> str:
        """The string token at the position (its opening quote), as text; moves past it."""
        start = self.pos
        scanned = start + 1
        while True:
            match = _STRING_BODY.match(self.text, scanned)
            assert match is not None  # the pattern matches the empty string
            scanned = match.end()
            if scanned < len(self.text) and self.text[scanned] == '"':
                self.pos = scanned + 1
                return self.text[start : self.pos]
            # Stopped at the end of the buffer, or maybe inside an escape that the end cuts.
            cut = scanned == len(self.text) or (
                len(self.text) - scanned < 6
                and _PARTIAL_ESCAPE.fullmatch(self.text, scanned) is not None
            )
            if not (cut and self.more()):
                break
        if cut:
            raise JsonSyntaxError("the text ends inside a string", len(self.text), at_end=True)
        char = self.text[scanned]
        if char == "\\":
            while len(self.text) < scanned + 6 and self.more():
                pass
            found = self.text[scanned : scanned + (6 if self.text[scanned + 1] == "u" else 2)]
            raise JsonSyntaxError(f"invalid escape {found!r} in a string", scanned)
        raise JsonSyntaxError(
            f"the control character {char!r} must be escaped inside a string", scanned
        )

    def _number(self) -> None:
        while True:
            match = _NUMBER.match(self.text, self.pos)
            if match is None:
                if len(self.text) - self.pos < 10 and self.more():
                    continue
                self._refuse_constant()
                raise self.expected("a number")
            # "2.5" may go on as "2.5e-3" in the next piece of the stream
            if match.end() + _LOOKAHEAD <= len(self.text) or not self.more():
                self.pos = match.end()
                return

    def _literal(self) -> None:
        while True:
            rest = self.text[self.pos : self.pos + 9]
            for literal in _LITERALS:
                if rest.startswith(literal):
                    self.pos += len(literal)
                    return
            waiting = any(word.startswith(rest) for word in (*_LITERALS, *_NOT_JSON_CONSTANTS))
            if not (waiting and len(rest) < 9 and self.more()):
                break
        self._refuse_constant()
        raise self.expected("a value")

    def _refuse_constant(self) -> None:
        for constant in _NOT_JSON_CONSTANTS:
            if self.text.startswith(constant, self.pos):
                raise JsonSyntaxError(
                    f"{constant} is not a JSON value (JSON has no NaN or Infinity)", self.pos
                )


def parse_text(text: str) -> Parsed:
    """One complete JSON value in `text` (a line of JSON Lines), whitespace around it allowed;
    raises `JsonSyntaxError` when `text` is not exactly one JSON value."""
    scanner = Scanner.of_text(text)
    parsed = scanner.read_value()
    if not scanner.at_end():
        raise JsonSyntaxError("more data after the JSON value", scanner.pos)
    return parsed
