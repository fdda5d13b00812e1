"""What every delivery backend takes: one shared message and many personalised recipients.

The message's HTML and text carry placeholders (see `placeholders`); each recipient brings
the values for them, so the heavy parts travel once per batch, not once per subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# The custom_args every newsletter request carries. The provider's event webhook echoes them
# back on each event, which is how an event finds its issue, subscriber and batch.
ISSUE_ARG: Final = "issue"
SUBSCRIBER_ARG: Final = "subscriber"
BATCH_ARG: Final = "batch"
TEST_ARG: Final = "test"


@dataclass(frozen=True)
class Message:
    subject: str
    html: str
    text: str
    from_email: str
    from_name: str
    list_id: str = ""
    categories: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    test: bool = False
    custom_args: dict[str, str] = field(default_factory=dict)
    """Sent once per request and merged into every recipient's (SendGrid custom_args)."""
    sandbox: bool = False
    """Validate only, deliver nothing (SendGrid's sandbox mode; a dry run)."""
    tracking: bool = False
    """Ask the provider to track opens and clicks (NEWSLETTER_TRACKING). Off unless the
    maker of the message says so: a message made without thinking about it is not tracked."""
    action_urls: tuple[str, ...] = ()
    """Prefixes of the links that act for the recipient (confirm, unsubscribe, vote, view):
    a provider that rewrites links to count clicks must leave these alone, as it must every
    link whose address is a per-recipient placeholder. Other links may be tracked."""


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None
    substitutions: dict[str, str]
    headers: dict[str, str]
    custom_args: dict[str, str] = field(default_factory=dict)
