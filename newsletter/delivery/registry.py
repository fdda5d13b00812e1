"""Choosing the delivery backend from configuration alone."""

from __future__ import annotations

from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.delivery.providers.outbox import OutboxBackend


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "sendgrid":
        from newsletter.delivery.providers.sendgrid.backend import SendGridBackend

        return SendGridBackend.from_settings(settings)
    return OutboxBackend(settings.outbox_dir)
