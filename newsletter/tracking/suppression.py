"""Bounces, spam reports and unsubscribes turned into subscriber status changes.

Every change goes through `subscribers.status.change_status` with source `webhook` and the
event as its reason, so the subscriber's history says which event of which issue did it.
The rules:

- a hard bounce -> bounced; a spam report -> complained;
- a drop for an address on the provider's own lists: "Bounced Address" or "Invalid" ->
  bounced, "Spam Reporting Address" -> complained, "Unsubscribed Address" or "Unsubscribed
  Group" -> unsubscribed (any other drop reason, such as "Invalid SMTPAPI header", is about
  the request, not the address: no change);
- unsubscribe and group unsubscribe -> unsubscribed;
- a group resubscribe changes nothing: coming back takes our own double opt-in.

An address already bounced or complained stays as it is (a webhook never revives or
re-labels a suppressed address), and an unsubscribe moves only active or pending ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.tracking.match import chunks
from subscribers.models import SUPPRESSED, Source, Status, Subscriber
from subscribers.status import REASON_MAX, change_status

DROP_REASONS: dict[str, Status] = {
    "bounced address": Status.BOUNCED,
    "invalid": Status.BOUNCED,
    "spam reporting address": Status.COMPLAINED,
    "unsubscribed address": Status.UNSUBSCRIBED,
    "unsubscribed group": Status.UNSUBSCRIBED,
}
"""A `dropped` event's reason (lower case) -> the status it proves."""

UNSUBSCRIBABLE = frozenset({Status.ACTIVE, Status.PENDING})


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """That an event asks for subscriber `subscriber_id` to be moved to `to`."""

    subscriber_id: int
    to: Status
    reason: str


def target_of(event: DeliveryEvent) -> Status | None:
    """The status an event proves for its recipient, if any."""
    if event.type == EventType.BOUNCED:
        return Status.BOUNCED if event.bounce_kind != BounceKind.SOFT else None
    if event.type == EventType.COMPLAINED:
        return Status.COMPLAINED
    if event.type in (EventType.UNSUBSCRIBED, EventType.GROUP_UNSUBSCRIBED):
        return Status.UNSUBSCRIBED
    if event.type == EventType.DROPPED:
        return DROP_REASONS.get(event.reason.strip().lower())
    return None


def reason_of(event: DeliveryEvent, issue_number: int) -> str:
    """The event as a status change's reason: what, from which issue, and the provider's
    words ("sendgrid bounced (hard) on issue #12: Invalid Address: 550 5.1.1 no such user")."""
    what = event.type.value + (f" ({event.bounce_kind.value})" if event.bounce_kind else "")
    words = ": ".join(
        " ".join(part.split())
        for part in (event.classification, event.smtp_status, event.reason)
        if part.strip()
    )
    text = f"{event.provider} {what} on issue #{issue_number}" + (f": {words}" if words else "")
    return text[:REASON_MAX]


def may_move(current: Status, to: Status) -> bool:
    """Whether a webhook may move an address from `current` to `to`."""
    if current in SUPPRESSED:
        return False  # never revived, never re-labelled
    if to == Status.UNSUBSCRIBED:
        return current in UNSUBSCRIBABLE
    return current != to


def change_statuses(
    session: Session, requests: Iterable[StatusRequest], *, now: datetime
) -> tuple[list[int], list[int]]:
    """Apply the requests (in subscriber order, each subscriber's in event order); returns
    the ids suppressed (bounced or complained) and unsubscribed by this call."""
    suppressed: list[int] = []
    unsubscribed: list[int] = []
    ordered = sorted(enumerate(requests), key=lambda item: (item[1].subscriber_id, item[0]))
    ids = sorted({request.subscriber_id for _, request in ordered})
    loaded = {
        subscriber.id: subscriber
        for part in chunks(ids)
        for subscriber in session.exec(select(Subscriber).where(col(Subscriber.id).in_(part)))
    }
    for _, request in ordered:
        subscriber = loaded.get(request.subscriber_id)
        if subscriber is None or not may_move(Status(subscriber.status), request.to):
            continue
        change_status(
            session,
            subscriber,
            request.to,
            reason=request.reason,
            source=Source.WEBHOOK,
            now=now,
        )
        (unsubscribed if request.to == Status.UNSUBSCRIBED else suppressed).append(
            request.subscriber_id
        )
    session.flush()
    return suppressed, unsubscribed
