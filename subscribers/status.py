"""The one place a subscriber's status is set, so every change has a recorded reason.

A change writes four things together: the new `status`, `status_reason`, `status_changed_at`
and the timestamp of that status (`confirmed_at`, `unsubscribed_at`, ...), plus a
StatusChange row. A subscriber's first status is recorded the same way (from_status NULL),
so the history also says how the address arrived: consent is a question of record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from newsletter.core.clock import utcnow
from newsletter.core.sql import row_id
from subscribers.errors import (
    InvalidSubscriberInput,
    SubscriberRefused,
)
from subscribers.models import SUPPRESSED, Source, Status, StatusChange, Subscriber

REASON_MAX = 500  # status_change.reason and subscriber.status_reason are VARCHAR(500)

OPERATOR_SOURCES = frozenset({Source.CLI, Source.API, Source.DESK})
"""Only an operator's deliberate act (command line, admin API, or an admin on the desk) may
take an address out of suppression."""

_TIMESTAMP_OF: dict[Status, str] = {
    Status.ACTIVE: "confirmed_at",
    Status.UNSUBSCRIBED: "unsubscribed_at",
    Status.BOUNCED: "bounced_at",
    Status.COMPLAINED: "complained_at",
}


def resolve_now(now: datetime | None) -> datetime:
    """`now` or the clock; naive datetimes are refused (the columns store aware UTC)."""
    if now is None:
        return utcnow()
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")
    return now


def flushed_id(subscriber: Subscriber) -> int:
    """The id of a flushed row, typed as present."""
    return row_id(subscriber.id)


def _status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise InvalidSubscriberInput(f"unknown status {value!r} (one of: {known})") from None


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise InvalidSubscriberInput("a status change needs a reason")
    if len(text) > REASON_MAX:
        raise InvalidSubscriberInput(
            f"the reason is too long ({len(text)} characters, at most 500)"
        )
    return text


def change_status(
    session: Session,
    subscriber: Subscriber,
    to: Status,
    *,
    reason: str,
    source: Source,
    now: datetime | None = None,
) -> bool:
    """Move `subscriber` to `to`, recording why; False (nothing written) if already there.

    Leaving bounced or complained revives an address that must not be mailed, so it is
    refused unless an operator does it (source cli, api or desk) with a reason, for instance after
    the mailbox was fixed. Moving between the two suppressed statuses (a complaint from a
    bounced address) revives nothing and is allowed from any source.
    """
    target = _status(to)
    current = _status(subscriber.status)
    if current == target:
        return False
    why = _reason(reason)
    if current in SUPPRESSED and target not in SUPPRESSED and source not in OPERATOR_SOURCES:
        raise SubscriberRefused(
            f"{subscriber.email} is {current.value} and stays suppressed: only an operator "
            "(cli, api or desk) can change that, with a reason"
        )
    at = resolve_now(now)
    if subscriber.id is None:
        session.add(subscriber)
        session.flush()
    _apply(subscriber, target, why, at)
    session.add(subscriber)
    session.add(
        StatusChange(
            subscriber_id=flushed_id(subscriber),
            at=at,
            from_status=current.value,
            to_status=target.value,
            reason=why,
            source=Source(source).value,
        )
    )
    return True


def record_first_status(
    session: Session,
    subscriber: Subscriber,
    status: Status,
    *,
    reason: str,
    source: Source,
    now: datetime | None = None,
) -> None:
    """Give a new subscriber its first status and record how it arrived (flushes the row)."""
    target = _status(status)
    why = _reason(reason)
    at = resolve_now(now)
    subscriber.created_at = at
    subscriber.source = Source(source).value
    _apply(subscriber, target, why, at)
    session.add(subscriber)
    session.flush()
    session.add(
        StatusChange(
            subscriber_id=flushed_id(subscriber),
            at=at,
            from_status=None,
            to_status=target.value,
            reason=why,
            source=Source(source).value,
        )
    )


def first_status_fields(status: Status, *, reason: str, at: datetime) -> dict[str, Any]:
    """The columns `record_first_status` sets, for the importer's bulk INSERT."""
    fields: dict[str, Any] = {
        "status": status.value,
        "status_reason": _reason(reason),
        "status_changed_at": at,
        "created_at": at,
    }
    if status in _TIMESTAMP_OF:
        fields[_TIMESTAMP_OF[status]] = at
    return fields


def first_change_row(
    subscriber_id: int, status: Status, *, reason: str, source: Source, at: datetime
) -> dict[str, Any]:
    """The StatusChange row `record_first_status` writes, for the importer's bulk INSERT."""
    return {
        "subscriber_id": subscriber_id,
        "at": at,
        "from_status": None,
        "to_status": status.value,
        "reason": _reason(reason),
        "source": Source(source).value,
    }


def _apply(subscriber: Subscriber, target: Status, reason: str, at: datetime) -> None:
    subscriber.status = target.value
    subscriber.status_reason = reason
    subscriber.status_changed_at = at
    if target in _TIMESTAMP_OF:
        setattr(subscriber, _TIMESTAMP_OF[target], at)


def issued_since(issued_at: datetime, since: datetime) -> bool:
    """Whether a link issued at `issued_at` was certainly issued after `since` (the moment
    an address entered the status it is in). A token carries whole seconds, so a link of
    the same second as `since` may be older: it does not count (the person posts again)."""
    return int(issued_at.timestamp()) > int(since.timestamp())
