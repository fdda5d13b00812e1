"""Desk sessions: the cookie's idle limit (12 hours since it was last signed), its
signature, and the row that a sign-out or a lost right deletes (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.models import AccountSession
from newsletter.accounts.roles import Role
from newsletter.accounts.sessions import CookieSigner, close_session, signed_in
from newsletter.accounts.team import disable_account
from newsletter.core.database import session_scope
from tests.newsletter.accounts.helpers import make, sign_in_directly

SECRET = b"k" * 32
IDLE = timedelta(hours=12)
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_a_cookie_older_than_the_idle_limit_is_refused() -> None:
    signer = CookieSigner(SECRET, IDLE)
    with time_machine.travel(START, tick=False) as clock:
        cookie = signer.sign("the token")
        clock.shift(IDLE - timedelta(minutes=1))
        assert signer.token(cookie) == "the token"
        refreshed = signer.sign("the token")  # what every page does on the way out
        clock.shift(timedelta(minutes=2))  # 12 h 1 min after the first signature
        assert signer.token(cookie) is None
        assert signer.token(refreshed) == "the token"  # used 2 minutes ago
        clock.shift(IDLE)
        assert signer.token(refreshed) is None


def test_a_cookie_not_signed_by_us_is_refused() -> None:
    ours = CookieSigner(SECRET, IDLE)
    cookie = ours.sign("the token")
    assert CookieSigner(b"another key" * 3, IDLE).token(cookie) is None
    assert ours.token(cookie.replace("the token", "our token")) is None
    assert ours.token("the token") is None
    assert ours.token("") is None


def test_the_table_holds_a_hash_and_closing_or_disabling_ends_it(engine: Engine) -> None:
    make(engine, "ada@team.example", Role.ADMIN)
    make(engine, "eve@team.example", Role.EDITOR)
    first = sign_in_directly(engine, "eve@team.example")
    second = sign_in_directly(engine, "eve@team.example")
    assert first.token != second.token
    assert first.csrf_token != second.csrf_token
    with session_scope(engine) as session:
        stored = {row.token_hash for row in session.exec(select(AccountSession))}
        assert first.token not in stored
        found = signed_in(session, first.token)
        assert found is not None
        assert found.account.email == "eve@team.example"
        assert found.csrf_token == first.csrf_token
        assert signed_in(session, "a token nobody was given") is None
        close_session(session, first.token)
    with session_scope(engine) as session:
        assert signed_in(session, first.token) is None
        assert signed_in(session, second.token) is not None
        disable_account(session, "eve@team.example", COMMAND_LINE)
    with session_scope(engine) as session:
        assert signed_in(session, second.token) is None
