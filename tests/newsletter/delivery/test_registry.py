"""Providers by name: the configured name alone picks the backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.delivery.providers.sendgrid import SendGridBackend, SendGridWebhook
from newsletter.delivery.registry import PROVIDERS, WEBHOOKS, event_webhook, make_backend
from newsletter.devtools.standin.signing import WebhookSigner


def settings(tmp_path: Path, backend: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        backend=backend,
        outbox_dir=tmp_path,
        sendgrid_host="http://127.0.0.1:1/",
        send_build_processes=0,
        SENDGRID_API_KEY="k",
    )


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_provider_is_made_under_its_own_name(tmp_path: Path, name: str) -> None:
    with make_backend(settings(tmp_path, name)) as backend:
        assert backend.name == name


def test_each_backend_is_configured_from_the_settings(tmp_path: Path) -> None:
    outbox = make_backend(settings(tmp_path, "outbox"))
    assert isinstance(outbox, OutboxBackend)
    assert outbox.folder == tmp_path
    sendgrid = make_backend(settings(tmp_path, "sendgrid"))
    assert isinstance(sendgrid, SendGridBackend)
    assert (sendgrid.api_key, sendgrid.host, sendgrid.build_processes) == (
        "k",
        "http://127.0.0.1:1",
        0,
    )


def test_an_unknown_provider_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError,
        match=r"^NEWSLETTER_BACKEND: no provider named 'smtp' \(one of: outbox, sendgrid\)$",
    ):
        make_backend(settings(tmp_path, "smtp"))


def test_the_sendgrid_webhook_is_made_from_its_key_and_is_none_without_one(
    tmp_path: Path,
) -> None:
    assert set(WEBHOOKS) == {"sendgrid"}
    without = settings(tmp_path, "outbox")
    assert event_webhook(without, "sendgrid") is None
    signer = WebhookSigner()
    configured = settings(tmp_path, "outbox")
    configured.sendgrid_webhook_public_key = signer.public_key
    webhook = event_webhook(configured, "sendgrid")
    assert isinstance(webhook, SendGridWebhook)
    body = b"[]"
    webhook.verify(body, signer.headers(body, timestamp=1000), now=1000)
    configured.sendgrid_webhook_public_key = "garbage"
    with pytest.raises(SettingsError, match=r"^SENDGRID_WEBHOOK_PUBLIC_KEY: "):
        event_webhook(configured, "sendgrid")
