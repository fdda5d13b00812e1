"""The deliverability pause at its boundaries (in these tests: at least 10 delivered, hard
bounces over 20% or spam reports over 10% of delivered), and what the pause means for the
running sender and the scheduler."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent, EventType
from newsletter.sending.ledger import NotSending, claim_batch, new_owner
from newsletter.sending.settle import resumes_by_itself
from newsletter.tracking import ingest
from tests.newsletter.tracking.sends import (
    Sent,
    add_subscribers,
    event,
    hard_bounce,
    issue_state,
    send,
)


@pytest.fixture
def sending(engine: Engine) -> Sent:
    """Issue 7 part-way through its send: two batches of 10 accepted, one still pending."""
    add_subscribers(engine, 30)
    return send(engine, 7, finish=False, claims=2)


def _events(sent: Sent, delivered: int, bounced: int, complaints: int) -> list[DeliveryEvent]:
    people = sorted(s for s, seq in sent.batch_of.items() if seq <= 2)
    ok, bad = people[:delivered], people[delivered : delivered + bounced]
    return (
        [event(EventType.DELIVERED, s, 7) for s in ok]
        + [hard_bounce(s, 7) for s in bad]
        + [event(EventType.COMPLAINED, s, 7) for s in ok[:complaints]]
    )


@pytest.mark.parametrize(
    ("delivered", "bounced", "complaints", "paused"),
    [
        (10, 2, 0, False),  # 20% of delivered: at the limit, not over it
        (10, 3, 0, True),
        (9, 9, 0, False),  # too few delivered to judge
        (10, 0, 1, False),  # 10%: at the limit
        (10, 0, 2, True),
        (9, 0, 9, False),
    ],
)
def test_the_pause_at_its_boundaries(
    delivered: int,
    bounced: int,
    complaints: int,
    paused: bool,
    engine: Engine,
    track_settings: Settings,
    sending: Sent,
) -> None:
    applied = ingest(engine, track_settings, _events(sending, delivered, bounced, complaints))
    status, reason, cause = issue_state(engine, sending.issue_id)
    if not paused:
        assert (status, cause, applied.paused) == ("sending", None, [])
        return
    assert (status, cause, applied.paused) == ("paused", "deliverability", [7])
    assert reason is not None
    assert "deliverability" in reason
    assert ("hard bounces" in reason) == bool(bounced)
    assert ("spam reports" in reason) == bool(complaints)


def test_the_pause_counts_across_posts_and_stops_the_sender(
    engine: Engine, track_settings: Settings, sending: Sent
) -> None:
    events = _events(sending, 10, 3, 0)
    ingest(engine, track_settings, events[:-1])
    assert issue_state(engine, sending.issue_id)[0] == "sending"
    ingest(engine, track_settings, events[-1:])
    assert issue_state(engine, sending.issue_id)[0] == "paused"
    with session_scope(engine, immediate=True) as session, pytest.raises(NotSending):
        claim_batch(session, sending.issue_id, new_owner(), now=time.time(), lease=60, max_tries=5)
    assert not resumes_by_itself("deliverability")


def test_a_finished_send_is_never_paused(engine: Engine, track_settings: Settings) -> None:
    add_subscribers(engine, 30)
    sent = send(engine, 7)
    applied = ingest(engine, track_settings, _events(sent, 10, 10, 5))
    assert applied.paused == []
    assert issue_state(engine, sent.issue_id)[0] == "sent"
