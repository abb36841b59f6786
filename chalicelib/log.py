"""Structured JSON logs: one object per line, no order content, no e-mail address; and
`one_line`, an error's text as a client may see it (no traceback, no server path)."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

# Any run of characters that may stand in an address's local part (internationalised ones
# included), then "@" and a domain: only the first character of the local part is kept.
_EMAIL = re.compile(r"""([^\s@<>()\[\],;:"'])[^\s@<>()\[\],;:"]*@([\w.-]+)""")


# An absolute path (`/var/task/app.py`, `C:\\x\\y.py`), not the path of a URL or an S3 key.
_PATH = re.compile(r"""(?<![\w.:/~-])/(?:[^\s/"'`]+/)+[^\s/"'`,;)]*|\b[A-Za-z]:\\[^\s"'`,;)]+""")
# Where a trace starts: Python's header, a frame line (also JSON-escaped), a Lambda payload's
# stackTrace (an error recorded whole, before the payload was read here).
_TRACEBACK = re.compile(r'Traceback \(most recent call last\)|\bFile \\*"|"stackTrace"')


def one_line(text: str) -> str:
    """The first line of `text`, cut where a traceback starts, with absolute paths replaced by
    `<path>`: what an error may show a client."""
    start = _TRACEBACK.search(text)
    if start is not None:
        text = text[: start.start()]
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return _PATH.sub("<path>", line).rstrip(" :") or "the step failed"


def mask_emails(text: str) -> str:
    """`ana.nunez@example.org` -> `a***@example.org`."""
    return _EMAIL.sub(r"\1***@\2", text)


class JsonFormatter(logging.Formatter):
    """Formats a record and its `extra` fields as one JSON object, masking e-mail addresses."""

    _RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def __init__(self, stage: str) -> None:
        super().__init__()
        self._stage = stage

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "stage": self._stage,
        }
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_emails(json.dumps(entry, default=str, ensure_ascii=False))


def configure(stage: str, level: str) -> None:
    """Send the `orderflow` loggers to stderr as JSON at the stage's level (idempotent)."""
    logger = logging.getLogger("orderflow")
    logger.setLevel(level)
    logger.propagate = False
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(stage))
        logger.addHandler(handler)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"orderflow.{name}")
