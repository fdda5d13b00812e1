"""The tracking tests' fixtures: settings with small pause limits, a sent issue."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from tests.newsletter.tracking.sends import Sent, add_subscribers, send


@pytest.fixture
def track_settings(settings: Settings) -> Settings:
    settings.site_url = "https://news.example.com"
    settings.pause_min_delivered = 10
    settings.pause_hard_bounce_rate = 0.2
    settings.pause_complaint_rate = 0.1
    return settings


@pytest.fixture
def sent(engine: Engine) -> Sent:
    """Issue 7, sent (and finished) to 30 subscribers in batches of 10."""
    add_subscribers(engine, 30)
    return send(engine, 7)
