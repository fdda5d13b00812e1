"""A batch whose recipients are built on demand from rows and a link scheme.

To any backend it is a sequence of `Recipient`. A backend that lays out its own request
(SendGrid) reads `rows` and the scheme's `tokens` instead, and skips the millions of small
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

    view_url: str
    unsubscribe_base: str
    vote_base: str
    markers: list[str]
    """The vote placeholders, in the order `tokens` gives their tokens."""
    issue_arg: str

    def tokens(self, subscriber_id: int) -> tuple[str, list[str]]:
        """(unsubscribe token, one vote token per marker)."""
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
