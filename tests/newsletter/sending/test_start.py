"""Which statuses start, join or resume a send, and which are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.models import Issue
from newsletter.sending import SendError, send_issue
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    sendgrid,
)


def test_which_statuses_may_be_sent(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 5)
    for status in ("held", "cancelled"):
        with session_scope(engine) as session:
            session.connection().execute(
                text("UPDATE issue SET status = :s WHERE id = :i"), {"s": status, "i": issue.id}
            )
        with pytest.raises(SendError, match=f"is {status}"):
            send_issue(engine, issue.number, send_settings, sendgrid(standin))
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'approved' WHERE id = :i"), {"i": issue.id}
        )
    assert send_issue(engine, issue.number, send_settings, sendgrid(standin)).status == "sent"
    assert send_issue(engine, issue.number, send_settings, sendgrid(standin)).outcome == (
        "already sent"
    )
    assert standin.stats().requests == 1
