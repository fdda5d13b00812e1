"""The one settings object: a bad value is one line naming the variable, and production
refuses to run without a secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings, SettingsError, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield None
    get_settings.cache_clear()


def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SEND_CONCURRENCY", "0")

    with pytest.raises(SettingsError) as raised:
        get_settings()

    message = str(raised.value)
    assert message.startswith("NEWSLETTER_SEND_CONCURRENCY: ")
    assert "'0'" in message
    assert "\n" not in message
    assert isinstance(raised.value, InvalidInput)


def test_production_refuses_to_run_without_a_secret() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key="")  # type: ignore[call-arg]

    with pytest.raises(SettingsError, match="NEWSLETTER_SECRET_KEY must be set in production"):
        settings.secret()


def test_the_site_url_is_kept_without_a_trailing_slash() -> None:
    settings = Settings(_env_file=None, site_url="https://verdicts.example.com/")  # type: ignore[call-arg]

    assert settings.site_url == "https://verdicts.example.com"
