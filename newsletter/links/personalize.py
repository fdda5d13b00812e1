"""The per-recipient links of one issue: its vote slots and the personaliser that fills
every placeholder of the snapshot with links built from a subscriber's one token."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from newsletter.core.settings import Settings
from newsletter.delivery import Recipient, placeholders
from newsletter.delivery.headers import unsubscribe_headers
from newsletter.delivery.message import ISSUE_ARG, SUBSCRIBER_ARG
from newsletter.links.tokens import RecipientTokens, Signer
from newsletter.links.urls import SiteUrls

SAMPLE_SUBSCRIBER_ID: Final = 0
"""The subscriber who is nobody: the preview, the checks and a test send to an address not
on the list fill the links with this id. Real ids start at 1, so the pages a link leads to
tell a sample apart and change nothing for it."""


def is_sample(subscriber_id: int) -> bool:
    """Whether a link's subscriber is the sample one (a preview's or a test send's)."""
    return subscriber_id == SAMPLE_SUBSCRIBER_ID


class Snapshot(Protocol):
    """What the personaliser reads of an issue: its ids and its frozen parts."""

    @property
    def id(self) -> int | None: ...

    @property
    def number(self) -> int: ...

    @property
    def html(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class VoteSlot:
    marker: str
    comparison_id: int
    tool_id: int


def vote_slots(issue: Snapshot) -> list[VoteSlot]:
    """The vote links of the issue's snapshot: read from the frozen markers themselves (they
    carry comparison and tool ids), never re-derived from content that may have changed."""
    return [
        VoteSlot(placeholders.vote(comparison_id, tool_id), comparison_id, tool_id)
        for comparison_id, tool_id in placeholders.vote_markers(issue.html + issue.text)
    ]


class Personalizer:
    """Builds each recipient's links for one issue; made once per send, used per recipient.

    Every link of a recipient's email is built from one token (`RecipientTokens`: subscriber
    and issue), so per recipient there is one value to sign and to send. `links` says what
    each of the snapshot's markers becomes around `placeholders.TOKEN`; `compact` rewrites a
    snapshot that way once per send (a backend that lays out its own request, see
    `PersonalizedBatch`, then sends `token` alone per recipient), and `recipient` fills the
    markers directly (the outbox, a test send, the preview). The snapshot's markers are
    those of every issue, sent or not, so a send resumed on an older snapshot is filled the
    same way.
    """

    def __init__(
        self, issue: Snapshot, slots: Sequence[VoteSlot], settings: Settings, signer: Signer
    ) -> None:
        if issue.id is None:
            raise ValueError("issue has no id")
        self._setup(issue.id, issue.number, settings.site_url, slots, signer)

    def _setup(
        self, issue_id: int, number: int, site: str, slots: Sequence[VoteSlot], signer: Signer
    ) -> None:
        self.issue_id = issue_id
        self.issue_number = number
        self.site = site
        urls = SiteUrls(site)
        self.view_url = urls.issue(number)
        self.slots = list(slots)
        self.signer = signer
        self.unsubscribe_base = urls.unsubscribe_base
        self.issue_arg = str(number)
        self.links: dict[str, str] = {
            placeholders.UNSUBSCRIBE: urls.unsubscribe(placeholders.TOKEN),
            placeholders.VIEW: self.view_url,
        }
        for slot in self.slots:
            self.links[slot.marker] = urls.vote_choice(
                placeholders.TOKEN, slot.comparison_id, slot.tool_id
            )
        self._tokens = RecipientTokens(signer, issue_id)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Picklable (for a process that builds requests): what it is made of, not its state.
        parts = (self.issue_id, self.issue_number, self.site, self.slots, self.signer)
        return (_personalizer_from, parts)

    def token(self, subscriber_id: int) -> str:
        """The recipient's one token: the only per-recipient part of every link."""
        return self._tokens.for_subscriber(subscriber_id)

    def compact(self, text: str) -> str:
        """`text` (the snapshot's HTML or text) with every link marker replaced by its link
        around `placeholders.TOKEN`: what a recipient's token alone then fills."""
        return placeholders.fill(text, self.links)

    def recipient(self, subscriber_id: int, email: str, name: str | None) -> Recipient:
        token = self._tokens.for_subscriber(subscriber_id)
        values = {placeholders.TOKEN: token}
        for marker, link in self.links.items():
            values[marker] = link.replace(placeholders.TOKEN, token)
        return Recipient(
            subscriber_id,
            email,
            name,
            values,
            unsubscribe_headers(self.unsubscribe_base + token),
            {ISSUE_ARG: self.issue_arg, SUBSCRIBER_ARG: str(subscriber_id)},
        )


_REBUILT_KEPT: Final = 4
_rebuilt: dict[tuple[Any, ...], Personalizer] = {}
_rebuilt_lock = threading.Lock()


def _personalizer_from(
    issue_id: int, number: int, site: str, slots: Sequence[VoteSlot], signer: Signer
) -> Personalizer:
    """The personaliser of these parts, made once per process for the last few sends: a
    build process is handed a copy with every batch, and one object per send lets a
    backend keep what it derives from it (SendGrid's compacted HTML) from batch to batch."""
    key = (issue_id, number, site, tuple(slots), signer.__reduce__()[1])
    with _rebuilt_lock:
        personalizer = _rebuilt.get(key)
        if personalizer is None:
            personalizer = Personalizer.__new__(Personalizer)
            personalizer._setup(issue_id, number, site, slots, signer)
            if len(_rebuilt) >= _REBUILT_KEPT:
                _rebuilt.pop(next(iter(_rebuilt)))
            _rebuilt[key] = personalizer
        return personalizer
