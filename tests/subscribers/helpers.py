"""The list's tests' clock and how they read a subscriber back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from subscribers.models import (
    Subscriber,
)
from subscribers.service import (
    status_history,
)

T0 = datetime(
    2026, 11, 25, 9, 0, tzinfo=UTC
)  # a Wednesday, in ISO week 2026-W48; `now=` of the tests


def id_of(subscriber: Subscriber | None) -> int:
    assert subscriber is not None
    assert subscriber.id is not None
    return subscriber.id


def history_of(session: Session, subscriber: Subscriber) -> list[tuple[str | None, str, str]]:
    return [
        (c.from_status, c.to_status, c.reason) for c in status_history(session, id_of(subscriber))
    ]
