"""What an event may change, found by an outside review: only the subscriber whose address
it is about, only the batch it names, status decisions one after the other, and nothing a
person could be found by in rows that name nobody."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import BounceKind, EventType
from newsletter.tracking import apply_events, ingest
from subscribers.service import forget
from tests.newsletter.tracking.sends import (
    ADDRESSES,
    activity,
    add_subscribers,
    event,
    hard_bounce,
    rows,
    send,
    soft_bounce,
    status,
    tallies,
)


def test_an_event_about_another_address_never_changes_the_subscriber_it_names(
    engine: Engine, track_settings: Settings
) -> None:
    """Custom args are only what a request said: a staging copy or another system on the
    same account may name our subscriber 1 for someone else's bounce."""
    add_subscribers(engine, 10)
    sent = send(engine, 7)
    who = sent.subscribers[0]

    applied = ingest(
        engine, track_settings, [hard_bounce(who, 7, email="someone.else@staging.example.org")]
    )

    assert applied.unmatched == 1
    assert applied.suppressed == []
    assert status(engine, who) == "active"
    assert activity(engine, sent.issue_id, who) is None
    assert rows(engine, "SELECT subscriber_id, issue_id FROM delivery_event") == [
        {"subscriber_id": None, "issue_id": None}
    ]
    same = ingest(engine, track_settings, [hard_bounce(who, 7, email=ADDRESSES[who].upper())])
    assert same.suppressed == [who]  # the address in another case is the same address


def test_a_bounce_and_an_unsubscribe_at_once_leave_the_address_bounced(
    engine: Engine, track_settings: Settings
) -> None:
    """Two POSTs about one subscriber on two issues, the second while the first is still
    open: the second decides after the first committed (PostgreSQL: the subscriber's row
    is locked), so a bounced address is never downgraded to unsubscribed."""
    add_subscribers(engine, 10)
    first, second = send(engine, 7), send(engine, 8)
    who = first.subscribers[0]
    applied_second: list[object] = []
    started = threading.Event()

    def unsubscribe() -> None:
        started.set()
        applied_second.append(
            ingest(engine, track_settings, [event(EventType.UNSUBSCRIBED, who, 8)])
        )

    with session_scope(engine, immediate=True) as session:
        applied = apply_events(session, [hard_bounce(who, 7)], track_settings, now=utcnow())
        assert applied.suppressed == [who]
        thread = threading.Thread(target=unsubscribe)
        thread.start()
        started.wait()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for this transaction
    thread.join(timeout=30)

    assert status(engine, who) == "bounced"
    history = rows(
        engine,
        "SELECT from_status, to_status FROM status_change WHERE subscriber_id = :s ORDER BY id",
        s=who,
    )
    assert history[-1] == {"from_status": "active", "to_status": "bounced"}
    assert tallies(engine, second.issue_id)["unsubscribed"] == 1  # the event itself counts


def test_the_third_soft_bounce_on_two_issues_at_once_still_suppresses(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 10)
    sends = [send(engine, n) for n in (7, 8, 9)]
    who = sends[0].subscribers[0]
    ingest(engine, track_settings, [soft_bounce(who, 7)])
    done = threading.Event()

    def third() -> None:
        ingest(engine, track_settings, [soft_bounce(who, 9)])
        done.set()

    with session_scope(engine, immediate=True) as session:
        apply_events(session, [soft_bounce(who, 8)], track_settings, now=utcnow())
        thread = threading.Thread(target=third)
        thread.start()
        assert not done.wait(1.0)
    thread.join(timeout=30)

    assert status(engine, who) == "bounced"


def test_an_event_settles_the_batch_it_names_not_the_recipients_current_one(
    engine: Engine, track_settings: Settings
) -> None:
    """A re-send moves unknown recipients to a batch of their own: a late event of the
    first request names the first batch and proves nothing about the new one."""
    add_subscribers(engine, 30)
    sent = send(engine, 7, unknown=[1, 2])
    who = next(s for s, seq in sent.batch_of.items() if seq == 1)

    applied = ingest(engine, track_settings, [event(EventType.PROCESSED, who, 7, batch_seq=2)])

    states = {
        r["seq"]: r["state"]
        for r in rows(
            engine, "SELECT seq, state FROM send_batch WHERE issue_id = :i", i=sent.issue_id
        )
    }
    assert states == {1: "unknown", 2: "accepted", 3: "accepted"}
    assert applied.settled == 10
    stored = rows(engine, "SELECT batch_seq FROM delivery_event")
    assert stored == [{"batch_seq": 2}]


def test_rows_that_match_nobody_keep_nothing_a_person_could_be_found_by(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 10)
    sent = send(engine, 7)
    who = sent.subscribers[0]
    address = ADDRESSES[who]
    test_send = event(
        EventType.BOUNCED,
        who,
        7,
        test=True,
        bounce_kind=BounceKind.HARD,
        reason=f"550 5.1.1 <{address}>: no such user",
    )
    opened = event(EventType.OPENED, who, None, user_agent="Mozilla/5.0 (iPhone)")
    clicked = event(EventType.CLICKED, None, 7, url="https://news.example.com/vote/tok")

    ingest(engine, track_settings, [test_send, opened, clicked])
    with session_scope(engine) as session:
        forget(session, address)

    kept = rows(engine, "SELECT reason, user_agent, url, subscriber_id FROM delivery_event")
    assert len(kept) == 3
    assert all(set(r.values()) == {None} for r in kept), kept


def test_a_hard_bounce_stays_hard_whatever_comes_after(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 10)
    sent = send(engine, 7)
    who = sent.subscribers[0]
    ingest(engine, track_settings, [hard_bounce(who, 7)])

    ingest(
        engine,
        track_settings,
        [soft_bounce(who, 7), event(EventType.DROPPED, who, 7, reason="Bounced Address")],
    )

    row = activity(engine, sent.issue_id, who)
    assert row is not None
    assert (row["delivery"], row["bounce_kind"]) == ("bounced", BounceKind.HARD.value)
    counts = tallies(engine, sent.issue_id)
    assert counts["bounced_hard"] == 1
    assert counts.get("bounced_soft", 0) == 0
    assert counts.get("dropped", 0) == 0
