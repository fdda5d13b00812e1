"""The JSON formatter: one object per record, `extra=` fields as keys, a traceback as one
field (never a second line), and values JSON cannot hold written as text."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date

from newsletter.core.logs import JsonFormatter, uvicorn_log_config
from newsletter.core.settings import Settings


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("newsletter.test", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    line = JsonFormatter().format(
        record("issue #%d: %s", 7, "sent", issue=7, week=date(2026, 11, 23))
    )

    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "issue #7: sent"
    assert (data["level"], data["logger"], data["issue"], data["week"]) == (
        "WARNING",
        "newsletter.test",
        7,
        "2026-11-23",
    )
    assert data["time"].endswith("+00:00")


def test_a_traceback_stays_inside_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("it failed")
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)

    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_text_keeps_uvicorn_s_own_logging() -> None:
    assert uvicorn_log_config(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    config = uvicorn_log_config(Settings(log_format="json", _env_file=None))  # type: ignore[call-arg]
    assert config is not None
    assert config["root"]["handlers"] == ["stderr"]
