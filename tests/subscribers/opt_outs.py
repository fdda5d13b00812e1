"""Addresses that opted out, and what happens to them next: the scenes of the opt-out tests.

Times are explicit: the opt-out is at T0, housekeeping runs at HOUSEKEEPING.
"""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.housekeeping import expire_pending
from subscribers.import_report import ImportReport
from subscribers.importer import import_csv
from subscribers.models import Source
from subscribers.service import (
    add_subscriber,
    find_subscriber,
    request_subscription,
    unsubscribe,
)
from tests.subscribers.helpers import T0, id_of

DAY = timedelta(days=1)
EXPIRY = timedelta(days=14)
HOUSEKEEPING = T0 + 20 * DAY  # long after every pending state below began


def import_one(engine: Engine, address: str, *, confirmed: bool = True) -> ImportReport:
    return import_csv(
        engine, io.StringIO(f"email\n{address}\n"), confirmed=confirmed, label="members.csv"
    )


def status_of(engine: Engine, address: str) -> str | None:
    with session_scope(engine) as session:
        row = find_subscriber(session, address)
        return None if row is None else row.status


def subscribed_then_unsubscribed(engine: Engine, address: str) -> int:
    """Signed up and confirmed a month before T0; unsubscribed at T0."""
    with session_scope(engine) as session:
        row = add_subscriber(
            session, address, source=Source.FORM, confirmed=True, now=T0 - 30 * DAY
        )
        unsubscribe(session, id_of(row), reason="one-click", source=Source.FORM, now=T0)
        return id_of(row)


def form_post(engine: Engine, address: str) -> None:
    """A stranger posts the address on the form an hour after the opt-out."""
    with session_scope(engine, immediate=True) as session:
        request_subscription(session, address, name="Prize", ip="203.0.113.9", now=T0 + DAY / 24)


def housekeeping(engine: Engine) -> object:
    with session_scope(engine, immediate=True) as session:
        return expire_pending(session, older_than=EXPIRY, now=HOUSEKEEPING)
