"""Keeping the list tidy: addresses that never confirmed do not wait forever."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from subscribers.models import Status, Subscriber


def expire_pending(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Pending subscribers whose last confirmation email went out before `now - older_than`
    and was never clicked are dropped: consent was never given, so nothing of them is kept
    (no tombstone; they may sign up again). Pending rows that were never sent a
    confirmation (an import without --confirmed) are left for the operator."""
    now = now or utcnow()
    cutoff = now - older_than
    stale = session.exec(
        select(Subscriber)
        .where(Subscriber.status == Status.PENDING)
        .where(col(Subscriber.confirmation_sent_at).is_not(None))
        .where(col(Subscriber.confirmation_sent_at) < cutoff)
    ).all()
    for subscriber in stale:
        session.delete(subscriber)
    session.flush()
    return len(stale)
