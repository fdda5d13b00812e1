"""Lifting a suppression: what status the address gets, the history it leaves, and the
suppressed addresses listed newest first with the change that suppressed them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.errors import InvalidSubscriberInput
from subscribers.models import Source, Status, Subscriber
from subscribers.service import add_subscriber, set_status, status_history
from subscribers.suppression import (
    NotSuppressed,
    StillSuppressed,
    lift,
    operator_move,
    suppressed,
)
from tests.subscribers.helpers import history_of, id_of


def _add(engine: Engine, email: str, *moves: Status, confirmed: bool = True) -> int:
    with session_scope(engine) as session:
        row = add_subscriber(session, email, source=Source.CLI, confirmed=confirmed)
        for status in moves:
            set_status(session, email, status, reason=f"to {status.value}", source=Source.WEBHOOK)
        return id_of(row)


@pytest.mark.parametrize(
    ("confirmed", "moves", "lifted"),
    [
        (True, [Status.BOUNCED], Status.ACTIVE),  # the mailbox works again
        (False, [Status.BOUNCED], Status.PENDING),  # bounced on its confirmation email
        (True, [Status.COMPLAINED], Status.UNSUBSCRIBED),  # only their own sign-up
        (True, [Status.COMPLAINED, Status.BOUNCED], Status.UNSUBSCRIBED),
        (True, [Status.BOUNCED, Status.ACTIVE, Status.BOUNCED], Status.ACTIVE),
    ],
)
def test_what_a_lifted_address_becomes(
    engine: Engine, confirmed: bool, moves: list[Status], lifted: Status
) -> None:
    sid = _add(engine, "who@example.com", confirmed=confirmed)
    with session_scope(engine) as session:
        for status in moves:  # an operator may move between any of them, as tracking does
            set_status(session, sid, status, reason=f"to {status.value}", source=Source.CLI)
    with session_scope(engine) as session:
        done = lift(session, sid, reason="  owner  phoned ")
        assert (done.was, done.now) == (moves[-1], lifted)
    with session_scope(engine) as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        assert row.status == lifted.value
        assert history_of(session, row)[-1] == (
            moves[-1].value,
            lifted.value,
            "suppression lifted: owner phoned",
        )


def test_only_a_suppressed_address_with_a_reason_is_lifted(engine: Engine) -> None:
    active = _add(engine, "fine@example.com")
    bounced = _add(engine, "gone@example.com")
    with session_scope(engine) as session:
        set_status(session, bounced, Status.BOUNCED, reason="hard", source=Source.CLI)
    with session_scope(engine) as session, pytest.raises(NotSuppressed, match="nothing to lift"):
        lift(session, active, reason="why not")
    with session_scope(engine) as session, pytest.raises(InvalidSubscriberInput):
        lift(session, bounced, reason="   ")
    with session_scope(engine) as session, pytest.raises(InvalidSubscriberInput):
        lift(session, bounced, reason="x" * 481)
    with session_scope(engine) as session:
        row = session.get(Subscriber, bounced)
        assert row is not None
        assert row.status == "bounced"


def test_suppressed_pages_merge_both_statuses_newest_first(engine: Engine) -> None:
    ids = []
    for i in range(5):
        sid = _add(engine, f"s{i}@example.com")
        status = Status.BOUNCED if i % 2 else Status.COMPLAINED
        with session_scope(engine) as session:
            set_status(session, sid, status, reason=f"event {i}", source=Source.WEBHOOK)
        ids.append(sid)
    _add(engine, "kept@example.com")
    with session_scope(engine) as session:
        first = suppressed(session, limit=3)
        assert [r.subscriber.id for r in first.rows] == ids[::-1][:3]
        assert [r.change.reason for r in first.rows if r.change] == [
            "event 4",
            "event 3",
            "event 2",
        ]
        assert first.rows[0].change is not None
        assert first.rows[0].change.source == "webhook"
        rest = suppressed(session, limit=3, before=first.next_before)
        assert [r.subscriber.id for r in rest.rows] == ids[::-1][3:]
        assert rest.next_before is None
        only = suppressed(session, status=Status.BOUNCED)
        assert [r.subscriber.id for r in only.rows] == [ids[3], ids[1]]


def test_an_operator_move_leaves_suppression_alone_and_skips_the_same_status(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        ada = add_subscriber(session, "ada@example.com", source=Source.CLI, confirmed=True)
        spam = add_subscriber(session, "spam@example.com", source=Source.CLI, confirmed=True)
        set_status(
            session, "spam@example.com", Status.COMPLAINED, reason="r", source=Source.WEBHOOK
        )
        ada_id, spam_id = ada.id or 0, spam.id or 0
    with session_scope(engine) as session:
        with pytest.raises(StillSuppressed, match="lift"):
            operator_move(session, spam_id, Status.ACTIVE, reason="asked")
        assert operator_move(session, ada_id, Status.ACTIVE, reason="same") is None
        assert operator_move(session, spam_id, Status.COMPLAINED, reason="same") is None
        moved = operator_move(session, ada_id, Status.BOUNCED, reason="mailbox gone")
        assert moved is not None
        assert (moved.was, moved.now) == (Status.ACTIVE, Status.BOUNCED)
    with session_scope(engine) as session:
        assert [c.to_status for c in status_history(session, ada_id)] == ["active", "bounced"]
        assert [c.to_status for c in status_history(session, spam_id)] == ["active", "complained"]
