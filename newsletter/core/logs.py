"""How the long-running processes log: text lines for a terminal, or one JSON object per
line for a log collector (`NEWSLETTER_LOG_FORMAT=json`).

The standard library's own machinery, with one small Formatter: every logger of the
project, of uvicorn and of APScheduler already goes through `logging`, so a formatter on the
root handler turns all of them into JSON without touching a single call; structlog would
add a second way of logging beside the one the libraries use. Structured fields ride on
the standard `extra=` argument (`log.info("...", extra={"issue": 12, "accepted": 1000})`)
and come out as keys of their own; in text they stay in the message's words.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from newsletter.core.settings import Settings

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

ACCESS_LOGGER: Final = "uvicorn.access"
ACCESS_FIELDS: Final = ("client", "method", "path", "http_version", "status")
"""uvicorn's access log passes these as the arguments of its message, in this order."""

_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
}
"""A record's own attributes; whatever else it carries came through `extra=`. uvicorn's
`color_message` is its terminal's coloured copy of the message, not a field."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, then the
    fields given through `extra=`, and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            line.update(zip(ACCESS_FIELDS, record.args, strict=False))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is written, not the stream it was when
    the handler was made: a command run inside another program (a test runner's captured
    output, an embedding) must not leave the root logger writing to a stream now closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # always sys.stderr as it is now


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """The root logger of this process: one handler on stderr, in the configured format.
    For `scheduler` and `worker`; `serve` hands `uvicorn_log_config` to uvicorn instead,
    which configures its worker processes the same way."""
    handler = StderrHandler()
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's `log_config` for `serve`: None keeps uvicorn's own (text, as before); for
    JSON, one handler for the root logger that uvicorn's loggers (its access log included)
    and the app's propagate to. A dictConfig dict, so each worker process applies it."""
    if settings.log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
