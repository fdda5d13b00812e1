"""SendGrid's event webhook as the app sees it: configured from settings, it verifies a
request (`signature`) and reads its events (`event_map`).

`cryptography` is imported only when a key is configured, so importing the registry (every
command does) stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent, EventWebhook
from newsletter.delivery.providers.sendgrid.event_map import parse_events

if TYPE_CHECKING:
    from newsletter.delivery.providers.sendgrid.signature import SignatureCheck


class SendGridWebhook(EventWebhook):
    """Checks SendGrid's ECDSA signature (a recent one) and reads its event arrays."""

    provider: ClassVar[str] = "sendgrid"

    def __init__(self, public_key: str, *, max_age: int) -> None:
        """`public_key` as SendGrid's settings page shows it (base64 DER); SettingsError,
        naming SENDGRID_WEBHOOK_PUBLIC_KEY, for anything else. `max_age` in seconds."""
        from newsletter.delivery.providers.sendgrid.signature import (
            SignatureCheck,
            load_public_key,
        )

        self._check: SignatureCheck = SignatureCheck(load_public_key(public_key), max_age)

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridWebhook | None:
        """None without a key (the route then answers 503); a key that is not one stops
        the caller at start, with the variable's name, rather than at every request."""
        key = settings.sendgrid_webhook_public_key.strip()
        if not key:
            return None
        return cls(key, max_age=settings.webhook_max_age)

    def verify(self, body: bytes, headers: Mapping[str, str], *, now: float) -> None:
        self._check.check(body, headers, now)

    def parse(self, body: bytes) -> Sequence[DeliveryEvent]:
        return parse_events(body, self.provider)
