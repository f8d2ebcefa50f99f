"""Structured logs on stderr: JSON lines, or text for people; context fields on every line.

``bound(run_id=..., flow=...)`` adds fields to every line logged in its context, tasks it
starts included (context variables, so nothing is passed by hand); ``note(...)`` adds a
field to every enclosing ``bound`` context, so an API call's line learns the run it made.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# The fields of each enclosing ``bound`` context, outermost first.
_FIELDS: ContextVar[tuple[dict[str, Any], ...]] = ContextVar("symbox_log_fields", default=())
FORMATS = ("json", "text")
_COLOURS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[32m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m"}
_RESET = "\x1b[0m"


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log line written in this context."""
    token = _FIELDS.set((*_FIELDS.get(), dict(fields)))
    try:
        yield
    finally:
        _FIELDS.reset(token)


def note(**fields: Any) -> None:
    """Add ``fields`` to every enclosing ``bound`` context (no-op outside one)."""
    for layer in _FIELDS.get():
        layer.update(fields)


def context_fields() -> dict[str, Any]:
    """The fields bound here, inner contexts winning."""
    merged: dict[str, Any] = {}
    for layer in _FIELDS.get():
        merged.update(layer)
    return merged


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    extra = {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }
    return {**context_fields(), **extra}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"timestamp", "level", "logger", "message", ...fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line."""
        data: dict[str, Any] = {
            "timestamp": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_fields(record))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=repr)


class TextFormatter(logging.Formatter):
    """Formats a record as ``TIME LEVEL logger: message key=value ...`` for people."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of text (plus a traceback, if any)."""
        level = f"{record.levelname:<7}"
        if self._colour:
            level = f"{_COLOURS.get(record.levelname, '')}{level}{_RESET}"
        shown = " ".join(f"{key}={_text(value)}" for key, value in _fields(record).items())
        line = f"{_time(record)} {level} {record.name}: {record.getMessage()}"
        if shown:
            line = f"{line}  {shown}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return json.dumps(text) if not text or any(c.isspace() or c == '"' for c in text) else text


def configure(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as JSON lines or text."""
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    if fmt == "text":
        handler.setFormatter(TextFormatter(colour=out.isatty()))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries' chatter below warnings is noise in an appliance's log.
    # botocore at DEBUG would also log response bodies, STS credentials among them.
    for noisy in ("hypercorn", "httpx", "httpcore", "aiosqlite", "botocore", "aiobotocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
