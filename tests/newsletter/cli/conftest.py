"""The CLI tests' shared fixture: the commands configured, by environment alone, to send
through a SendGrid stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter.core.settings import Settings, get_settings
from newsletter.devtools.standin import StandIn
from tests.newsletter.sending.test_sender import KEY


@pytest.fixture
def standin_env() -> dict[str, str]:
    """Settings a test module adds to the stand-in's (override the fixture)."""
    return {}


@pytest.fixture
def through_standin(
    env: Settings, monkeypatch: pytest.MonkeyPatch, standin_env: dict[str, str]
) -> Iterator[StandIn]:
    """The CLI configured, by environment alone, to send through a stand-in."""
    with StandIn(api_keys=[KEY]) as standin:
        for name, value in {
            "NEWSLETTER_BACKEND": "sendgrid",
            "NEWSLETTER_SENDGRID_HOST": standin.url,
            "SENDGRID_API_KEY": KEY,
            "NEWSLETTER_BATCH_SIZE": "10",
            "NEWSLETTER_SEND_RETRY_BASE": "0.01",
            **standin_env,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield standin
