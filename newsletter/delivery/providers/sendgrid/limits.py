"""SendGrid v3 Mail Send's documented limits, in one place: the backend checks them before
sending, and the local stand-in enforces them as the real API does."""

from __future__ import annotations

from typing import Final

MAX_BODY_BYTES: Final = 30 * 1024 * 1024  # the whole message must stay under 30 MB
MAX_PERSONALIZATIONS: Final = 1000
MAX_RECIPIENTS: Final = 1000  # to + cc + bcc over the whole request
MAX_MAP_BYTES: Final = 10_000  # substitutions of one personalization; custom_args merged
MAX_CATEGORIES: Final = 10
MAX_CATEGORY_CHARS: Final = 255
MAX_SEND_AT_AHEAD_S: Final = 72 * 3600
NAME_REFUSED_CHARACTERS: Final = ";,"  # a recipient's `name` may contain neither
RESERVED_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
