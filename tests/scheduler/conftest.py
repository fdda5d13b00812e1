"""Fixtures of the scheduler's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings, get_settings
from scheduler import jobs
from tests.factories import comparison, write_content
from tests.newsletter.sending.test_sender import add_subscribers


@pytest.fixture
def weekly(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Content for 2026-W48, three active subscribers, outbox delivery, auto-send on."""
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    monkeypatch.setenv("NEWSLETTER_AUTO_SEND", "true")
    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    add_subscribers(engine, 3)
    jobs.stopping.clear()
    jobs._refused.clear()
    return get_settings()
