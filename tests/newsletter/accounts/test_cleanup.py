"""Old desk rows go: a session past its 30-day lifetime is refused and deleted, failed
sign-ins too old to lock anything are deleted, and what still counts stays (both
databases)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from newsletter.accounts.models import SignInFailure
from newsletter.accounts.sessions import signed_in
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from scheduler import jobs
from tests.newsletter.accounts.helpers import make, sessions_of, sign_in_directly

ADA = "ada@team.example"


def _age_session(engine: Engine, session_id: int, days: int) -> None:
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE account_session SET created_at = :at WHERE id = :id"),
            {"at": utcnow() - timedelta(days=days), "id": session_id},
        )


def _fail(engine: Engine, email: str, minutes_ago: int) -> None:
    with session_scope(engine) as session:
        session.add(SignInFailure(email=email, at=utcnow() - timedelta(minutes=minutes_ago)))


def test_a_session_older_than_thirty_days_signs_no_one_in(engine: Engine) -> None:
    make(engine, ADA)
    old = sign_in_directly(engine, ADA)
    fresh = sign_in_directly(engine, ADA)
    _age_session(engine, old.session_id, 31)
    _age_session(engine, fresh.session_id, 29)
    with session_scope(engine) as session:
        assert signed_in(session, old.token) is None
        assert signed_in(session, fresh.token) is not None


def test_housekeeping_deletes_old_sessions_and_failures(
    env: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    make(engine, ADA)
    old = sign_in_directly(engine, ADA)
    sign_in_directly(engine, ADA)
    _age_session(engine, old.session_id, 31)
    _fail(engine, "old@team.example", 31)  # two lock windows (15 min) ago: counts no more
    _fail(engine, "recent@team.example", 20)  # may still complete a lock: kept
    with caplog.at_level(logging.INFO, logger="scheduler"):
        jobs.housekeeping_job()
    assert sessions_of(engine, ADA) == 1
    with session_scope(engine) as session:
        assert session.exec(select(SignInFailure.email)).all() == ["recent@team.example"]
    assert (
        "housekeeping: 1 old failed sign-in(s) and 1 desk session(s) older than 30 days removed"
    ) in caplog.messages
