"""The confirmation link: it speaks only for what happened after it was sent. A link from
before an opt-out never brings the address back; one sent after it, used, does."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer, TokenError
from newsletter.sending.confirm import confirm_by_link
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, find_subscriber, forget, unsubscribe
from subscribers.status import change_status


def _status(engine: Engine, address: str) -> str:
    with session_scope(engine) as session:
        row = find_subscriber(session, address)
        assert row is not None
        return row.status


def _click(engine: Engine, signer: Signer, token: str) -> bool:
    with session_scope(engine, immediate=True) as session:
        return confirm_by_link(session, signer, token)


def test_an_old_link_never_undoes_an_unsubscribe(engine: Engine, settings: Settings) -> None:
    signer = Signer(settings.secret())
    with session_scope(engine) as session:
        row = add_subscriber(
            session, "bo@example.com", source=Source.FORM, now=utcnow() - timedelta(hours=2)
        )
        sid = row.id or 0
    first_email = signer.confirm_token(sid, now=time.time() - 3600)
    assert _click(engine, signer, first_email)
    with session_scope(engine) as session:
        at = utcnow() - timedelta(minutes=10)
        unsubscribe(session, sid, reason="one-click", source=Source.FORM, now=at)
    # The first email's link, clicked again (by the person, or by a mail scanner): nothing.
    assert not _click(engine, signer, first_email)
    assert _status(engine, "bo@example.com") == Status.UNSUBSCRIBED
    # A link sent after the opt-out (they asked through the form), used: back on the list.
    assert _click(engine, signer, signer.confirm_token(sid))
    assert _status(engine, "bo@example.com") == Status.ACTIVE


def test_no_link_revives_a_suppressed_address_or_finds_a_forgotten_one(
    engine: Engine, settings: Settings
) -> None:
    signer = Signer(settings.secret())
    with session_scope(engine) as session:
        row = add_subscriber(session, "gone@example.com", source=Source.FORM)
        change_status(
            session,
            row,
            Status.COMPLAINED,
            reason="spam report",
            source=Source.WEBHOOK,
            now=utcnow() - timedelta(minutes=1),
        )
        gone = row.id or 0
        forgotten = add_subscriber(session, "erased@example.com", source=Source.FORM).id or 0
        forget(session, "erased@example.com", now=utcnow() - timedelta(seconds=1))
    assert not _click(engine, signer, signer.confirm_token(gone))
    assert _status(engine, "gone@example.com") == Status.COMPLAINED
    with pytest.raises(TokenError):
        _click(engine, signer, signer.confirm_token(forgotten))
