"""Choosing the delivery backend from configuration alone."""

from __future__ import annotations

from newsletter.delivery import Backend
from newsletter.outbox import OutboxBackend
from newsletter.settings import Settings


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "sendgrid":
        from newsletter.sendgrid_backend import SendGridBackend

        return SendGridBackend.from_settings(settings)
    return OutboxBackend(settings.outbox_dir)
