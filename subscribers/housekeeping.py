"""Keeping the list tidy: addresses that never confirmed do not wait forever, and an
opt-out is never tidied away.

A pending address whose confirmation email went unanswered is dropped only when its record
holds no opt-out: it was never unsubscribed, bounced or complained. A pending address with
an opt-out in its record (made pending by the form before the form stopped doing that, or
moved there by an operator) goes back to the status it left, history and all: deleting it
would erase the opt-out, and the next import could then bring the person back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from subscribers.consent import ever_opted_out, last_opt_out
from subscribers.models import Source, Status, Subscriber
from subscribers.status import change_status, resolve_now

_CHUNK = 500  # ids per DELETE … IN (...)


@dataclass(frozen=True)
class Expiry:
    removed: int  # never confirmed, never opted out: deleted (they may sign up again)
    restored: int  # pending after an opt-out: back to that status, the history kept


def _waited(cutoff: datetime) -> list[Any]:
    """Pending since before `cutoff`, and no confirmation email sent since then."""
    sent = col(Subscriber.confirmation_sent_at)
    return [
        col(Subscriber.status) == Status.PENDING.value,
        col(Subscriber.status_changed_at) < cutoff,
        or_(sent.is_(None), sent < cutoff),
    ]


def expire_pending(
    session: Session, *, older_than: timedelta, now: datetime | None = None
) -> Expiry:
    """Pending addresses left unanswered for `older_than`:

    - never opted out and sent a confirmation email before the cutoff: deleted. Consent was
      never given, so nothing of them is kept (no tombstone; they may sign up again). Those
      never sent one (an operator's addition, an import without --confirmed) are left for
      `subscribers confirm-pending`.
    - with an opt-out in their record: back to their last opt-out status (source system),
      whether or not a confirmation went out; the row and its history stay.

    Rows are locked (FOR UPDATE on PostgreSQL; the caller's BEGIN IMMEDIATE on SQLite), so a
    confirmation clicked meanwhile is either seen here or sees the row gone.
    """
    at = resolve_now(now)
    cutoff = at - older_than
    doomed = session.exec(
        select(Subscriber.id)
        .where(*_waited(cutoff), col(Subscriber.confirmation_sent_at).is_not(None))
        .where(~ever_opted_out())
        .with_for_update()
    ).all()
    for i in range(0, len(doomed), _CHUNK):
        session.exec(delete(Subscriber).where(col(Subscriber.id).in_(doomed[i : i + _CHUNK])))
    returning = session.exec(
        select(Subscriber)
        .where(*_waited(cutoff), ever_opted_out())
        .order_by(col(Subscriber.id))
        .with_for_update()
    ).all()
    for subscriber in returning:
        back = last_opt_out(session, subscriber) or Status.UNSUBSCRIBED
        change_status(
            session,
            subscriber,
            back,
            reason=f"confirmation not used in time: back to {back.value}, as before",
            source=Source.SYSTEM,
            now=at,
        )
    session.flush()
    return Expiry(removed=len(doomed), restored=len(returning))
