"""Suppressed addresses (bounced or complained) and an admin lifting a suppression.

What a lifted address becomes, and why:

- A complaint (a spam report) is the person saying "stop": whoever lifts it, the address
  becomes `unsubscribed`, never mailed until the person signs up again through the form and
  confirms (the form sends an unsubscribed address a confirmation link; a complained one it
  ignores). Lifting a complaint only gives the person that way back. A bounced address with
  a complaint in the same suppressed stretch of its history is treated as a complainer.
- A bounce is a mailbox failing, not a withdrawal of consent: once its owner says it works
  again, the address returns to the status it had before it bounced (`active` if it was
  mailed, `pending` if it bounced on its confirmation email). If the history does not say
  (rows written by older code), it becomes `unsubscribed`: nobody is mailed on a guess.

Repeated soft bounces counted before the lift do not count after it: the soft-bounce rule
(`newsletter.tracking.soft_bounces`) only reads issues sent since the address's last status
change, and the lift is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlmodel import Session, col, select

from newsletter.core.errors import Conflict
from subscribers.errors import InvalidSubscriberInput, SubscriberError
from subscribers.models import SUPPRESSED, Source, Status, StatusChange, Subscriber
from subscribers.service import operator_lookup, status_history
from subscribers.status import REASON_MAX, change_status

LIFT_PREFIX: Final = "suppression lifted: "
PAGE_SIZE: Final = 50
_RETURNABLE: Final = frozenset({Status.ACTIVE, Status.PENDING, Status.UNSUBSCRIBED})


class NotSuppressed(SubscriberError, Conflict):
    """The address is not bounced or complained: there is nothing to lift."""


@dataclass(frozen=True)
class Suppressed:
    subscriber: Subscriber
    change: StatusChange | None  # the change that suppressed it (None: older code's rows)


@dataclass(frozen=True)
class SuppressedPage:
    rows: list[Suppressed]
    next_before: int | None


@dataclass(frozen=True)
class Lifted:
    subscriber: Subscriber
    was: Status
    now: Status


def suppressed(
    session: Session,
    *,
    status: Status | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> SuppressedPage:
    """Newest suppressed addresses first (by id), keyset paged by `before`. One query per
    suppressed status, each walking the status index in id order, merged here: an
    `IN (...)` with ORDER BY would sort every suppressed row instead."""
    statuses = [Status(status)] if status is not None else sorted(SUPPRESSED)
    found: list[Subscriber] = []
    for each in statuses:
        query = select(Subscriber).where(col(Subscriber.status) == each.value)
        if before is not None:
            query = query.where(col(Subscriber.id) < before)
        found.extend(session.exec(query.order_by(col(Subscriber.id).desc()).limit(limit + 1)))
    found.sort(key=lambda row: row.id or 0, reverse=True)
    page = found[:limit]
    changes = _suppressing_changes(session, [row.id for row in page if row.id is not None])
    rows = [Suppressed(row, changes.get(row.id or 0)) for row in page]
    return SuppressedPage(rows, page[-1].id if len(found) > limit and page else None)


def _suppressing_changes(session: Session, ids: Sequence[int]) -> dict[int, StatusChange]:
    """Each subscriber's latest change into its current suppressed status (index by
    subscriber)."""
    if not ids:
        return {}
    query = (
        select(StatusChange)
        .where(col(StatusChange.subscriber_id).in_(ids))
        .where(col(StatusChange.to_status).in_([s.value for s in SUPPRESSED]))
        .order_by(col(StatusChange.id))
    )
    return {change.subscriber_id: change for change in session.exec(query)}


def lifted_status(current: Status, history: Sequence[StatusChange]) -> Status:
    """The status a suppressed address gets when lifted (see the module docstring)."""
    if current == Status.COMPLAINED:
        return Status.UNSUBSCRIBED
    stretch: list[StatusChange] = []
    for change in reversed(history):
        if change.to_status not in SUPPRESSED:
            break
        stretch.append(change)
    if any(change.to_status == Status.COMPLAINED for change in stretch):
        return Status.UNSUBSCRIBED
    before = stretch[-1].from_status if stretch else None
    if before is not None and before in _RETURNABLE:
        return Status(before)
    return Status.UNSUBSCRIBED


def lift(
    session: Session,
    subscriber_id: int,
    *,
    reason: str,
    source: Source = Source.DESK,
    now: datetime | None = None,
) -> Lifted:
    """Take a bounced or complained address out of suppression, with the operator's reason
    in its status history. NotSuppressed if it is neither."""
    text = " ".join(reason.split())
    if not text:
        raise InvalidSubscriberInput("lifting a suppression needs a reason")
    if len(text) > REASON_MAX - len(LIFT_PREFIX):
        raise InvalidSubscriberInput(
            f"the reason is too long (at most {REASON_MAX - len(LIFT_PREFIX)} characters)"
        )
    subscriber = operator_lookup(session, subscriber_id)
    current = Status(subscriber.status)
    if current not in SUPPRESSED:
        raise NotSuppressed(f"{subscriber.email} is {current.value}: there is nothing to lift")
    target = lifted_status(current, status_history(session, subscriber_id))
    change_status(session, subscriber, target, reason=LIFT_PREFIX + text, source=source, now=now)
    return Lifted(subscriber, current, target)


class StillSuppressed(SubscriberError, Conflict):
    """A bounced or complained address asked to move by a plain status change."""


def operator_move(
    session: Session,
    subscriber_id: int,
    status: Status,
    *,
    reason: str,
    source: Source = Source.DESK,
    now: datetime | None = None,
) -> Lifted | None:
    """An operator's plain status change (the desk's status form). A suppressed address
    leaves suppression only through `lift`, whose rule decides what it becomes (a complaint
    never returns to `active`): moving it here raises StillSuppressed. Moving an address to
    the status it has changes nothing and returns None (nothing to record); otherwise the
    move, `was` and `now`."""
    subscriber = operator_lookup(session, subscriber_id)
    current = Status(subscriber.status)
    if status == current:
        return None
    if current in SUPPRESSED:
        raise StillSuppressed(
            f"subscriber #{subscriber_id} is {current.value}: lift the suppression instead "
            "(Suppressions → lift), which decides what the address becomes"
        )
    change_status(session, subscriber, status, reason=reason, source=source, now=now)
    return Lifted(subscriber, current, status)
