"""What every delivery backend takes: one shared message and many personalised recipients.

The message's HTML and text carry placeholders (see `placeholders`); each recipient brings
the values for them, so the heavy parts travel once per batch, not once per subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

from sqlmodel import Session

from newsletter import placeholders
from newsletter.errors import NewsletterError
from newsletter.models import Issue
from newsletter.settings import Settings
from subscribers.tokens import IssueTokens, Signer


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


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None
    substitutions: dict[str, str]
    headers: dict[str, str]
    custom_args: dict[str, str] = field(default_factory=dict)


class DeliveryError(NewsletterError):
    """A batch was not delivered; the subclass says whether sending it again is safe."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Keyword attributes survive pickling (a failure raised in a build process).
        return (_rebuild_failure, (type(self), self.args, dict(self.__dict__)))


def _rebuild_failure(
    kind: type[DeliveryError], args: tuple[Any, ...], state: dict[str, Any]
) -> DeliveryError:
    failure = kind.__new__(kind)
    Exception.__init__(failure, *args)
    failure.__dict__.update(state)
    return failure


class TransientFailure(DeliveryError):
    """Certainly not accepted (429, 5xx, connection refused): safe to send again later.

    `retry_at` (unix seconds) is when the provider said to come back, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_at: float | None = None,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at
        self.rate_limited = rate_limited


class PermanentFailure(DeliveryError):
    """Refused, and the same request would be refused again (400, 413, a limit).

    `stops_send`: the cause is not this batch but the account or the message (401, 403,
    too many categories...): every batch would fail, so the whole send stops.
    """

    def __init__(
        self, message: str, *, status: int | None = None, stops_send: bool = False
    ) -> None:
        super().__init__(message, status=status)
        self.stops_send = stops_send


class AmbiguousOutcome(DeliveryError):
    """The request may have been accepted (a timeout, a connection dropped after sending):
    sending it again could deliver twice, so it is never repeated blindly."""


class Backend(Protocol):
    """Delivers one batch; raises on failure (the sender decides what a failure means).

    Backends used by the sender raise `DeliveryError` subclasses; anything else is a bug and
    is treated as ambiguous.
    """

    name: str

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Returns the provider's id for the batch (SendGrid's X-Message-Id)."""
        ...


ONE_CLICK = "List-Unsubscribe=One-Click"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}


def issue_message(issue: Issue, settings: Settings, *, test: bool = False) -> Message:
    subject = f"[TEST] {issue.subject}" if test else issue.subject
    return Message(
        subject=subject,
        html=issue.html,
        text=issue.text,
        from_email=settings.from_email,
        from_name=settings.from_name,
        list_id=f"{settings.from_name} <{settings.list_id}>",
        categories=("issue", f"issue-{issue.number}") + (("test",) if test else ()),
        test=test,
    )


@dataclass(frozen=True)
class VoteSlot:
    marker: str
    comparison_id: int
    tool_id: int


def vote_slots(_session: Session, issue: Issue) -> list[VoteSlot]:
    """The vote links of the issue's snapshot: read from the frozen markers themselves (they
    carry comparison and tool ids), never re-derived from content that may have changed."""
    return [
        VoteSlot(placeholders.vote(comparison_id, tool_id), comparison_id, tool_id)
        for comparison_id, tool_id in placeholders.vote_markers(issue.html + issue.text)
    ]


class Personalizer:
    """Builds each recipient's links for one issue; made once per send, used per recipient.

    A send makes millions of these, so the tokens come from `IssueTokens` (the shared
    parts prepared once) and the per-recipient work is a few string joins. The parts are
    public so that a backend can lay out its own request from `tokens` (see
    `PersonalizedBatch`) with exactly these links.
    """

    def __init__(
        self, issue: Issue, slots: Sequence[VoteSlot], settings: Settings, signer: Signer
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
        self.view_url = f"{site}/issues/{number}"
        self.slots = list(slots)
        self.signer = signer
        self.markers = [slot.marker for slot in self.slots]
        self.unsubscribe_base = f"{site}/unsubscribe/"
        self.vote_base = f"{site}/vote/"
        self.issue_arg = str(number)
        self._tokens = IssueTokens(
            signer, issue_id, [(slot.comparison_id, slot.tool_id) for slot in self.slots]
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Picklable (for a process that builds requests): what it is made of, not its state.
        parts = (self.issue_id, self.issue_number, self.site, self.slots, self.signer)
        return (_personalizer_from, parts)

    def tokens(self, subscriber_id: int) -> tuple[str, list[str]]:
        """(unsubscribe token, one vote token per slot): the only per-recipient parts."""
        return self._tokens.for_subscriber(subscriber_id)

    def recipient(self, subscriber_id: int, email: str, name: str | None) -> Recipient:
        unsubscribe_token, vote_tokens = self._tokens.for_subscriber(subscriber_id)
        unsubscribe = self.unsubscribe_base + unsubscribe_token
        values = {placeholders.UNSUBSCRIBE: unsubscribe, placeholders.VIEW: self.view_url}
        vote_base = self.vote_base
        for marker, token in zip(self.markers, vote_tokens, strict=True):
            values[marker] = vote_base + token
        return Recipient(
            subscriber_id,
            email,
            name,
            values,
            {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": ONE_CLICK},
            {"issue": self.issue_arg, "subscriber": str(subscriber_id)},
        )


def _personalizer_from(
    issue_id: int, number: int, site: str, slots: Sequence[VoteSlot], signer: Signer
) -> Personalizer:
    personalizer = Personalizer.__new__(Personalizer)
    personalizer._setup(issue_id, number, site, slots, signer)
    return personalizer


class PersonalizedBatch(Sequence[Recipient]):
    """One batch of an issue's audience: (id, email, name) rows and the issue's Personalizer.

    To any backend it is a sequence of `Recipient`, built on demand. A backend that lays out
    its own request (SendGrid) reads `rows` and `personalizer.tokens` instead and skips the
    millions of small dicts a large send would otherwise build.
    """

    def __init__(
        self, personalizer: Personalizer, rows: Sequence[tuple[int, str, str | None]]
    ) -> None:
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
