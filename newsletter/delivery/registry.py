"""Choosing the delivery backend, and the event webhooks, from configuration alone: providers
by name.

A new provider is a folder under `providers/` and one line in `PROVIDERS` (and one in
`WEBHOOKS` if it posts events); nothing that sends mail changes. Importing this is cheap: a
provider defers its heavy imports (the `sendgrid` package until it first sends,
`cryptography` until a webhook key is configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery import Backend
from newsletter.delivery.events import EventWebhook
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.delivery.providers.sendgrid import SendGridBackend, SendGridWebhook

Factory = Callable[[Settings], Backend]
WebhookFactory = Callable[[Settings], EventWebhook | None]

PROVIDERS: Final[Mapping[str, Factory]] = {
    OutboxBackend.name: OutboxBackend.from_settings,
    SendGridBackend.name: SendGridBackend.from_settings,
}
"""Every provider by its configured name (`NEWSLETTER_BACKEND`)."""


def provider(settings: Settings) -> Factory:
    """The factory of the provider `NEWSLETTER_BACKEND` names; SettingsError, naming the
    variable, for a name no provider has. Long-running processes call it at start, so a
    misspelt name stops them there rather than at the first send."""
    factory = PROVIDERS.get(settings.backend)
    if factory is None:
        known = ", ".join(sorted(PROVIDERS))
        raise SettingsError(
            f"NEWSLETTER_BACKEND: no provider named {settings.backend!r} (one of: {known})"
        )
    return factory


def make_backend(settings: Settings) -> Backend:
    """The backend `settings.backend` names, configured from `settings`."""
    return provider(settings)(settings)


WEBHOOKS: Final[Mapping[str, WebhookFactory]] = {
    SendGridWebhook.provider: SendGridWebhook.from_settings,
}
"""Every provider's event webhook by the provider's name (its route: /webhooks/<name>)."""


def event_webhook(settings: Settings, name: str) -> EventWebhook | None:
    """The event webhook of provider `name`, configured from `settings`; None where it is
    not configured (no key: its route refuses every request). A key that is set but wrong
    raises SettingsError naming the variable, so the app stops at start. KeyError for a
    name with no webhook: a programming error, not a setting."""
    return WEBHOOKS[name](settings)
