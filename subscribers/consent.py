"""Consent as a question of record: who opted out (and so stays out until they opt in
again), which pending addresses are due a confirmation email, and an operator's record of
consent given to them directly.

An address "opted out" if it is, or ever was, unsubscribed, bounced or complained: its
current status, the timestamp of any of those statuses, or a StatusChange to one of them.
Such a record is never removed by housekeeping, never brought back by an import, and never
sent a confirmation email on an operator's bulk command: only the person opts in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, update
from sqlmodel import Session, col, func, select

from newsletter.core.sql import table_of
from subscribers.errors import InvalidSubscriberInput, SubscriberRefused
from subscribers.models import SUPPRESSED, Source, Status, StatusChange, Subscriber
from subscribers.service import operator_lookup
from subscribers.status import REASON_MAX, change_status, resolve_now

OPTED_OUT = frozenset({Status.UNSUBSCRIBED, *SUPPRESSED})
"""Statuses that say "do not mail": once in the record, only the person undoes them."""

_OPTED_OUT_VALUES = sorted(status.value for status in OPTED_OUT)
_OPT_OUT_TIMES = ("unsubscribed_at", "bounced_at", "complained_at")

CONSENT_PREFIX = "consent recorded by an operator: "
CONSENT_REASON_MAX = REASON_MAX - len(CONSENT_PREFIX)


def ever_opted_out() -> Any:
    """SQL: the subscriber is, or once was, unsubscribed, bounced or complained."""
    history = exists().where(
        col(StatusChange.subscriber_id) == col(Subscriber.id),
        col(StatusChange.to_status).in_(_OPTED_OUT_VALUES),
    )
    return or_(
        col(Subscriber.status).in_(_OPTED_OUT_VALUES),
        *(getattr(Subscriber, name).is_not(None) for name in _OPT_OUT_TIMES),
        history,
    )


def last_opt_out(session: Session, subscriber: Subscriber) -> Status | None:
    """The latest opt-out status in a subscriber's record (history first, then the
    timestamps of rows written by older code); None if they never opted out."""
    query = (
        select(StatusChange.to_status)
        .where(col(StatusChange.subscriber_id) == subscriber.id)
        .where(col(StatusChange.to_status).in_(_OPTED_OUT_VALUES))
        .order_by(col(StatusChange.id).desc())
        .limit(1)
    )
    latest = session.exec(query).first()
    if latest is not None:
        return Status(latest)
    times = [
        (at, Status(name.removesuffix("_at")))
        for name in _OPT_OUT_TIMES
        if (at := getattr(subscriber, name)) is not None
    ]
    return max(times, key=lambda pair: pair[0])[1] if times else None


# -- confirmation emails for pending addresses the form did not bring -------------------------


@dataclass(frozen=True)
class DueConfirmation:
    subscriber_id: int
    email: str
    previous: datetime | None  # confirmation_sent_at before this claim, restored on failure


def _due(now: datetime, valid_for: timedelta) -> list[Any]:
    """Pending, brought by an operator or an import (the form sends its own email, once:
    an operator's bulk command must not repeat what a stranger may have typed), never
    opted out, and without a confirmation link that still works."""
    sent = col(Subscriber.confirmation_sent_at)
    return [
        col(Subscriber.status) == Status.PENDING.value,
        col(Subscriber.source) != Source.FORM.value,
        ~ever_opted_out(),
        or_(sent.is_(None), sent < now - valid_for),
    ]


def count_due_confirmations(
    session: Session, *, valid_for: timedelta, now: datetime | None = None
) -> int:
    """How many pending addresses `claim_confirmations` would take now."""
    query = select(func.count()).select_from(Subscriber).where(*_due(resolve_now(now), valid_for))
    return int(session.exec(query).one())


def claim_confirmations(
    session: Session, *, now: datetime, valid_for: timedelta, after_id: int, limit: int
) -> list[DueConfirmation]:
    """Mark up to `limit` due addresses (id above `after_id`) as sent a confirmation at
    `now`, and return them in id order. A compare-and-set: two runs at once never claim
    the same address, and an address confirmed meanwhile is not claimed."""
    query = select(Subscriber.id, Subscriber.confirmation_sent_at).where(
        col(Subscriber.id) > after_id, *_due(now, valid_for)
    )
    previous = dict(session.exec(query.order_by(col(Subscriber.id)).limit(limit)).all())
    if not previous:
        return []
    table = table_of(Subscriber)
    claimed = session.execute(
        update(table)
        .where(table.c.id.in_(list(previous)), *_due(now, valid_for))
        .values(confirmation_sent_at=now)
        .returning(table.c.id, table.c.email)
    ).all()
    return sorted(
        (DueConfirmation(int(sid), str(email), previous[sid]) for sid, email in claimed),
        key=lambda due: due.subscriber_id,
    )


def release_confirmation(session: Session, due: DueConfirmation, *, claimed_at: datetime) -> None:
    """The email could not be sent: the address is due again (unless something else wrote
    its confirmation time since)."""
    table = table_of(Subscriber)
    session.execute(
        update(table)
        .where(and_(table.c.id == due.subscriber_id, table.c.confirmation_sent_at == claimed_at))
        .values(confirmation_sent_at=due.previous)
    )


def count_held_back(session: Session) -> int:
    """Pending addresses with an opt-out in their record: no bulk email asks them back."""
    query = (
        select(func.count())
        .select_from(Subscriber)
        .where(col(Subscriber.status) == Status.PENDING.value, ever_opted_out())
    )
    return int(session.exec(query).one())


# -- an operator records consent given to them ----------------------------------------------


def record_consent(
    session: Session,
    email_or_id: str | int,
    *,
    reason: str,
    source: Source = Source.CLI,
    now: datetime | None = None,
) -> tuple[Subscriber, bool]:
    """The person gave their consent to an operator (in writing, by phone...): pending or
    unsubscribed -> active, with `consent_at` now and the operator's reason on record.
    (subscriber, changed): an active address is left as it is. Bounced and complained
    addresses are refused: consent does not mend a mailbox (`set_status` does, on purpose).
    """
    text = " ".join(reason.split())
    if not text:
        raise InvalidSubscriberInput(
            "recording consent needs a reason (where and how it was given)"
        )
    if len(text) > CONSENT_REASON_MAX:
        raise InvalidSubscriberInput(
            f"the reason is too long ({len(text)} characters, at most {CONSENT_REASON_MAX})"
        )
    subscriber = operator_lookup(session, email_or_id)
    current = Status(subscriber.status)
    if current == Status.ACTIVE:
        return subscriber, False
    if current in SUPPRESSED:
        raise SubscriberRefused(
            f"{subscriber.email} is {current.value}: consent does not mend a mailbox; "
            "if it works again, use set-status with a reason"
        )
    at = resolve_now(now)
    change_status(
        session, subscriber, Status.ACTIVE, reason=CONSENT_PREFIX + text, source=source, now=at
    )
    subscriber.consent_at = at
    subscriber.consent_ip = None
    session.add(subscriber)
    return subscriber, True
