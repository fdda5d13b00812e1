"""The unsubscribe link's "changed my mind": it takes back the unsubscribe it made, for a
week, and nothing else. An old or forwarded email must not undo an opt-out made since by
another link or through an operator (a review found any unsubscribe token reviving any
unsubscribed address)."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer
from newsletter.sending.optout import (
    RESUBSCRIBE_WINDOW,
    resubscribe_by_link,
    status_by_link,
    unsubscribe_by_link,
)
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, find_subscriber, set_status


def _reader(engine: Engine) -> int:
    with session_scope(engine) as session:
        row = add_subscriber(session, "reader@example.com", source=Source.CLI, confirmed=True)
        session.flush()
        return row.id or 0


def _status(engine: Engine) -> str:
    with session_scope(engine) as session:
        row = find_subscriber(session, "reader@example.com")
        assert row is not None
        return row.status


def test_the_link_that_unsubscribed_takes_it_back(engine: Engine, settings: Settings) -> None:
    signer = Signer(settings.secret())
    token = signer.unsubscribe_token(_reader(engine), 3)
    with session_scope(engine) as session:
        assert unsubscribe_by_link(session, signer, token).can_undo
    with session_scope(engine) as session:
        assert status_by_link(session, signer, token).can_undo  # the page offers it
        state = resubscribe_by_link(session, signer, token)
    assert (state.status, _status(engine)) == (Status.ACTIVE, "active")


def test_an_old_link_never_undoes_an_opt_out_made_otherwise(
    engine: Engine, settings: Settings
) -> None:
    signer = Signer(settings.secret())
    sid = _reader(engine)
    old = signer.unsubscribe_token(sid, 3)
    other_issue = signer.unsubscribe_token(sid, 4)
    with session_scope(engine) as session:  # the person asked an operator
        set_status(session, sid, Status.UNSUBSCRIBED, reason="asked by phone", source=Source.CLI)
    for token in (old, other_issue):
        with session_scope(engine) as session:
            assert not status_by_link(session, signer, token).can_undo
            state = resubscribe_by_link(session, signer, token)
        assert (state.status, _status(engine)) == (Status.UNSUBSCRIBED, "unsubscribed")

    with session_scope(engine) as session:  # issue 4's link unsubscribed: issue 3's cannot undo
        set_status(session, sid, Status.ACTIVE, reason="test", source=Source.CLI)
        unsubscribe_by_link(session, signer, other_issue)
    with session_scope(engine) as session:
        resubscribe_by_link(session, signer, old)
    assert _status(engine) == "unsubscribed"


def test_a_week_later_the_way_back_is_the_form(engine: Engine, settings: Settings) -> None:
    signer = Signer(settings.secret())
    token = signer.unsubscribe_token(_reader(engine), 3)
    with session_scope(engine) as session:
        unsubscribe_by_link(session, signer, token)
    later = utcnow() + RESUBSCRIBE_WINDOW + timedelta(minutes=1)
    with time_machine.travel(later, tick=False), session_scope(engine) as session:
        assert not status_by_link(session, signer, token).can_undo
        resubscribe_by_link(session, signer, token)
    assert _status(engine) == "unsubscribed"
