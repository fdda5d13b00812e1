"""A batch whose recipients are built on demand from rows and a link scheme.

To any backend it is a sequence of `Recipient`. A backend that lays out its own request
(SendGrid) reads `rows` and the scheme's `token` instead, and skips the millions of small
dicts a large send would otherwise build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, overload

from newsletter.delivery.message import Recipient

Row = tuple[int, str, str | None]
"""(subscriber id, email, name)."""


class LinkScheme(Protocol):
    """What fills one issue's placeholders for a recipient (see `newsletter.links`)."""

    unsubscribe_base: str
    """The List-Unsubscribe URL is this and the recipient's token."""
    issue_arg: str

    def token(self, subscriber_id: int) -> str:
        """The recipient's one token, the value of `placeholders.TOKEN`."""
        ...

    def compact(self, text: str) -> str:
        """The message's HTML or text with every per-recipient link laid out around
        `placeholders.TOKEN`, so that the token alone fills them."""
        ...

    def recipient(self, subscriber_id: int, email: str, name: str | None) -> Recipient: ...


class PersonalizedBatch(Sequence[Recipient]):
    def __init__(self, personalizer: LinkScheme, rows: Sequence[Row]) -> None:
        self.personalizer = personalizer
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Recipient: ...

    @overload
    def __getitem__(self, index: slice) -> list[Recipient]: ...

    def __getitem__(self, index: int | slice) -> Recipient | list[Recipient]:
        if isinstance(index, slice):
            return [self.personalizer.recipient(*row) for row in self.rows[index]]
        return self.personalizer.recipient(*self.rows[index])
