"""What a provider tells us after it accepted a message, in one provider-neutral shape.

A provider's event webhook (SendGrid's, under `providers/sendgrid/webhook.py`) checks that a
request really comes from the provider (`EventWebhook.verify`) and turns its body into
`DeliveryEvent`s (`EventWebhook.parse`); `newsletter.tracking` applies them. Nothing here
knows an issue or a subscriber table: the event carries the ids the provider echoed back
from the request's custom_args (see `message.ISSUE_ARG` and its neighbours), as given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Final, NamedTuple

from newsletter.core.errors import InvalidInput, NewsletterError, Refused

WEBHOOK_MAX_BYTES: Final = 5 * 2**20
"""The largest webhook body taken (413 above it); SendGrid posts about 1 MB at most."""


class EventType(StrEnum):
    """Every kind of event, whatever the provider calls it."""

    PROCESSED = "processed"  # the provider has the message and will try to deliver it
    DROPPED = "dropped"  # the provider will not try (its own suppression lists, invalid)
    DELIVERED = "delivered"  # the receiving server accepted it
    DEFERRED = "deferred"  # the receiving server said "later"; the provider retries
    BOUNCED = "bounced"  # refused for good (hard) or blocked this time (soft): `bounce`
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"  # marked as spam
    UNSUBSCRIBED = "unsubscribed"  # through the provider's own link
    GROUP_UNSUBSCRIBED = "group_unsubscribed"
    GROUP_RESUBSCRIBED = "group_resubscribed"
    UNKNOWN = "unknown"  # a type this code does not know: kept, changes nothing


class BounceKind(StrEnum):
    HARD = "hard"  # the address does not exist or refuses for good
    SOFT = "soft"  # blocked this time (reputation, content, a full mailbox)


class DeliveryEvent(NamedTuple):
    """One event as the provider reported it, normalised (immutable; `_replace` for a
    changed copy). A named tuple, not a frozen dataclass: a webhook POST makes a thousand
    of them, and a tuple is made in a fifth of the time.

    The ids come from the custom_args and are only what the request said: `tracking`
    decides whether they name a real send. None where the provider gave none (or one that
    is not a number): such an event is stored as unmatched.
    """

    provider: str
    event_id: str  # the provider's id of this event: the same event posted twice has one id
    type: EventType
    occurred_at: datetime  # aware, UTC
    email: str = ""
    issue_number: int | None = None
    subscriber_id: int | None = None
    batch_seq: int | None = None
    test: bool = False  # a test send's event (the request's custom_args said so)
    provider_type: str = ""  # the provider's own name for the type (kept for unknown ones)
    bounce_kind: BounceKind | None = None
    reason: str = ""  # bounce reason, dropped reason, deferral response: the provider's words
    classification: str = ""  # the provider's bounce classification ("Invalid Address", ...)
    smtp_status: str = ""  # "5.1.1"
    url: str = ""  # the link clicked
    machine_open: bool = False  # an open by a machine (a privacy proxy's prefetch)
    user_agent: str = ""
    message_id: str = ""  # the provider's message id (begins with the request's id)


class WebhookNotConfigured(NewsletterError):
    """No key to check the provider's signature with: every event is refused (503)."""


class WebhookRefused(Refused):
    """The request does not prove it comes from the provider: a missing, malformed, forged
    or stale signature. One class and one answer (403) for every cause, so a caller learns
    nothing about which check failed; the cause is in the message, for the log alone."""


class WebhookMalformed(InvalidInput):
    """The signed body is not what the provider sends (not JSON, not a list of events)."""


class WebhookTooLarge(InvalidInput):
    """The body is over `WEBHOOK_MAX_BYTES` (413)."""


class EventWebhook(ABC):
    """A provider's event webhook: check the request, then read its events.

    `verify` comes first and sees the exact bytes received; `parse` is called only on a
    verified body. Both raise the errors above and nothing else for bad input.
    """

    provider: ClassVar[str]

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], *, now: float) -> None:
        """WebhookRefused unless `body` is signed by the provider, recently (`now` is unix
        seconds). `headers` are the request's, looked up in lower case."""

    @abstractmethod
    def parse(self, body: bytes) -> Sequence[DeliveryEvent]:
        """The events of a verified body, in the order given; WebhookMalformed if it is
        not a list of the provider's events. An event of an unknown type is returned as
        `EventType.UNKNOWN`, never refused."""
