"""What an operator's terminal shows of a sender's text: every character as itself, one line."""

from __future__ import annotations

import pytest

from orderflow_cli.text import shown


@pytest.mark.parametrize(
    ("sent", "printed"),
    [
        ("7001", "7001"),
        ("Ünïcode tea, 350 ml", "Ünïcode tea, 350 ml"),  # letters of any script stay
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # a terminal title escape
        ("\x1b[2J", "\\x1b[2J"),  # clear the screen
        ("ok\rforged", "ok\\x0dforged"),  # a carriage return overwriting the line
        ("row\n  row 99  9999  OK", "row\\x0a  row 99  9999  OK"),  # a forged table row
        ("abc\u202edcba", "abc\\u202edcba"),  # a right-to-left override
        ("a\u2028b", "a\\u2028b"),  # a line separator
        ("70\u200b01", "70\\u200b01"),  # a zero-width space
        (1001, "1001"),
    ],
)
def test_control_and_invisible_characters_are_shown_as_escapes(sent: object, printed: str) -> None:
    assert shown(sent) == printed
    assert "\x1b" not in shown(sent)
    assert "\n" not in shown(sent)
