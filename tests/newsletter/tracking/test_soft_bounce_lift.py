"""An address whose soft-bounce suppression an admin lifted is judged on what happens
next, not again on the soft bounces that suppressed it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.tracking import ingest
from subscribers.suppression import lift
from tests.newsletter.tracking.sends import T0, add_subscribers, send, soft_bounce, status


def test_a_lifted_address_needs_fresh_soft_bounces_to_be_suppressed_again(
    engine: Engine, track_settings: Settings
) -> None:
    [who] = add_subscribers(engine, 1)
    for n in (1, 2, 3):
        send(engine, n, started_at=T0 - timedelta(days=30 - n))
    ingest(engine, track_settings, [soft_bounce(who, n) for n in (1, 2, 3)])
    assert status(engine, who) == "bounced"
    with session_scope(engine, immediate=True) as session:
        assert lift(session, who, reason="mailbox emptied").now.value == "active"
    send(engine, 4, started_at=T0 + timedelta(days=3650))  # after the lift, whatever the clock
    ingest(engine, track_settings, [soft_bounce(who, 4)])
    assert status(engine, who) == "active"  # one soft bounce since the lift, not four
