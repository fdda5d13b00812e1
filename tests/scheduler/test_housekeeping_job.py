"""The daily housekeeping job: unanswered requests go, an opt-out never does, and the
operator hears about pending subscribers nobody has asked to confirm."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from scheduler import jobs
from subscribers.models import Source, Status
from subscribers.service import (
    add_subscriber,
    find_subscriber,
    request_subscription,
    unsubscribe,
)
from subscribers.status import change_status


def test_housekeeping_drops_requests_and_keeps_every_opt_out(
    env: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    long_ago = utcnow() - timedelta(days=env.pending_expiry_days + 1)
    with session_scope(engine, immediate=True) as session:
        request_subscription(session, "stranger@example.com", name=None, ip=None, now=long_ago)
        add_subscriber(session, "imported@example.com", source=Source.IMPORT, now=long_ago)
        bo = add_subscriber(
            session, "bo@example.com", source=Source.FORM, confirmed=True, now=long_ago
        )
        unsubscribe(session, bo.id or 0, reason="one-click", source=Source.FORM, now=long_ago)
        # What the form did to an unsubscribed address before it stopped doing it:
        change_status(
            session,
            bo,
            Status.PENDING,
            reason="re-subscribed through the form",
            source=Source.FORM,
            now=long_ago,
        )
        bo.confirmation_sent_at = long_ago

    with caplog.at_level(logging.INFO, logger="scheduler"):
        jobs.housekeeping_job()

    with session_scope(engine) as session:
        assert find_subscriber(session, "stranger@example.com") is None
        kept = find_subscriber(session, "bo@example.com")
        assert kept is not None
        assert kept.status == Status.UNSUBSCRIBED
        waiting = find_subscriber(session, "imported@example.com")
        assert waiting is not None
        assert waiting.status == Status.PENDING
    assert (
        f"housekeeping: 1 pending subscriber(s) unconfirmed after {env.pending_expiry_days} "
        "days removed, 1 returned to their earlier opt-out"
    ) in caplog.messages
    assert (
        "housekeeping: 1 pending subscriber(s) have no confirmation email to answer; "
        "`newsletter subscribers confirm-pending` sends it"
    ) in caplog.messages
