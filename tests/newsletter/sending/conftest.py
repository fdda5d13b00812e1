"""The sending tests' shared fixtures: a SendGrid stand-in, quick settings, a built issue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.models import Issue
from tests.newsletter.sending.test_sender import (
    KEY,
    build,
)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


@pytest.fixture
def send_settings(settings: Settings) -> Settings:
    """Small batches and quick retries, so every behaviour shows in a few requests."""
    settings.sendgrid_api_key = KEY
    settings.batch_size = 10
    settings.send_concurrency = 3
    settings.send_retry_base = 0.01
    settings.send_retry_max = 0.2
    settings.sendgrid_timeout = 5
    return settings


@pytest.fixture
def issue(engine: Engine, send_settings: Settings, tmp_path: Path) -> Issue:
    return build(engine, send_settings, tmp_path / "content")
