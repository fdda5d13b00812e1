"""Pending expiry: a request nobody confirmed goes; an opt-out never does."""

from __future__ import annotations

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.housekeeping import Expiry, expire_pending
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, get_subscriber, request_subscription
from subscribers.status import change_status
from tests.subscribers.helpers import history_of
from tests.subscribers.opt_outs import (
    DAY,
    EXPIRY,
    HOUSEKEEPING,
    status_of,
    subscribed_then_unsubscribed,
)


def run_expiry(engine: Engine) -> Expiry:
    with session_scope(engine, immediate=True) as session:
        return expire_pending(session, older_than=EXPIRY, now=HOUSEKEEPING)


def test_expiry_drops_only_requests_and_gives_back_every_opt_out_with_its_history(
    engine: Engine,
) -> None:
    old = HOUSEKEEPING - EXPIRY - DAY  # before the cutoff
    recent = HOUSEKEEPING - DAY  # after it
    with session_scope(engine, immediate=True) as session:
        for address, at in (("stale@example.com", old), ("fresh@example.com", recent)):
            request_subscription(session, address, name=None, ip=None, now=at)
        add_subscriber(session, "never-asked@example.com", source=Source.IMPORT, now=old)
        add_subscriber(session, "kept@example.com", source=Source.CLI, confirmed=True, now=old)
    sid = subscribed_then_unsubscribed(engine, "bo@example.com")
    with session_scope(engine) as session:
        bo = get_subscriber(session, sid)
        assert bo is not None
        change_status(session, bo, Status.PENDING, reason="old form", source=Source.FORM, now=old)
        bo.confirmation_sent_at = old
    # A confirmation sent after the cutoff keeps a pending opt-out waiting a while longer.
    late = subscribed_then_unsubscribed(engine, "late@example.com")
    with session_scope(engine) as session:
        row = get_subscriber(session, late)
        assert row is not None
        change_status(session, row, Status.PENDING, reason="old form", source=Source.FORM, now=old)
        row.confirmation_sent_at = recent

    assert run_expiry(engine) == Expiry(removed=1, restored=1)
    assert status_of(engine, "stale@example.com") is None
    assert status_of(engine, "fresh@example.com") == Status.PENDING
    assert status_of(engine, "never-asked@example.com") == Status.PENDING  # confirm-pending's
    assert status_of(engine, "kept@example.com") == Status.ACTIVE
    assert status_of(engine, "late@example.com") == Status.PENDING
    with session_scope(engine) as session:
        bo = get_subscriber(session, sid)
        assert bo is not None
        assert bo.status == Status.UNSUBSCRIBED
        assert bo.unsubscribed_at == HOUSEKEEPING
        assert history_of(session, bo) == [
            (None, "active", "signed up through the form, as confirmed"),
            ("active", "unsubscribed", "one-click"),
            ("unsubscribed", "pending", "old form"),
            (
                "pending",
                "unsubscribed",
                "confirmation not used in time: back to unsubscribed, as before",
            ),
        ]
    assert run_expiry(engine) == Expiry(removed=0, restored=0)  # a second run: nothing
