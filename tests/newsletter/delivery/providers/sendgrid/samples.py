"""Messages, recipients and personalizers the SendGrid provider's tests send."""

from __future__ import annotations

from typing import Any

from newsletter.core.settings import Settings
from newsletter.delivery import Message, Recipient
from newsletter.delivery.headers import unsubscribe_headers
from newsletter.links.personalize import Personalizer, VoteSlot
from newsletter.links.tokens import Signer
from newsletter.publishing.models import Issue

KEY = "test-key"

ROWS = [
    (1, "ada@example.com", "Ada Lovelace"),
    (2, "grace@example.com", None),
    (300, "o'neil+tag@example.com", 'Lovelace, "Ada"; Countess'),
    (2**31, "zoë@exämple.com", "Zoë Ünïcode"),
    (45, "back\\slash@example.com", ""),
]
"""(subscriber id, email, name) rows with every escaping case of the fast path."""


def message(**changes: Any) -> Message:
    base: dict[str, Any] = {
        "subject": "Verdicts #7",
        "html": '<p>Hi</p><a href="%%unsubscribe_url%%">unsubscribe</a>',
        "text": "Hi. Unsubscribe: %%unsubscribe_url%%",
        "from_email": "verdicts@example.com",
        "from_name": "Weekly AI Tool Verdicts",
        "list_id": "Weekly AI Tool Verdicts <verdicts.example.com>",
        "categories": ("issue", "issue-7"),
        "custom_args": {"issue": "7", "batch": "1"},
    }
    base.update(changes)
    return Message(**base)


def recipient(i: int, **changes: Any) -> Recipient:
    url = f"https://verdicts.example.com/unsubscribe/tok{i}"
    base: dict[str, Any] = {
        "subscriber_id": i,
        "email": f"reader{i}@example.com",
        "name": f"Reader {i}",
        "substitutions": {"%%unsubscribe_url%%": url},
        "headers": unsubscribe_headers(url),
        "custom_args": {"subscriber": str(i)},
    }
    base.update(changes)
    return Recipient(**base)


def personalizer(site: str = "https://verdicts.example.com") -> Personalizer:
    issue = Issue(id=3, number=7, week="2026-W48")
    slots = [VoteSlot(f"%%vote_{c}_{t}%%", 10 + c, 20 + t) for c in (1, 2, 3) for t in (1, 2)]
    settings = Settings(site_url=site, _env_file=None)  # type: ignore[call-arg]
    return Personalizer(issue, slots, settings, Signer(b"secret"))
