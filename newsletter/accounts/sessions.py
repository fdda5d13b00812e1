"""Desk sessions: a random token per signed-in browser, its SHA-256 in the database.

Idle expiry is carried by the cookie: it holds the token signed together with the time it
was last used (`itsdangerous.TimestampSigner`), re-signed on every page, and a cookie whose
time is older than the idle limit is refused. Reading a page therefore writes nothing;
signing out (or losing rights) deletes the row, which ends the session whatever the
cookie says.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import delete
from sqlmodel import Session, col, select

from newsletter.accounts.models import Account, AccountSession
from newsletter.core.clock import utcnow

SESSION_LIFETIME: Final = timedelta(days=30)
"""The longest a session lasts from its sign-in, however often it is used: its row keeps
no last-seen time (the cookie carries the idle limit), so this bounds how long a stolen
cookie kept fresh works, and lets the housekeeping job delete old rows
(`accounts.cleanup`)."""


@dataclass(frozen=True)
class Signed:
    """An account with an open session, and the session's CSRF token."""

    account: Account
    session_id: int
    csrf_token: str
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CookieSigner:
    def __init__(self, secret: bytes, idle: timedelta) -> None:
        self._signer = TimestampSigner(secret, salt="newsletter.desk.session")
        self.idle = idle

    def sign(self, token: str) -> str:
        return self._signer.sign(token).decode()

    def token(self, cookie: str) -> str | None:
        """The token of a cookie signed by us and used within the idle limit."""
        try:
            raw = self._signer.unsign(cookie, max_age=int(self.idle.total_seconds()))
        except (SignatureExpired, BadSignature):
            return None
        return raw.decode()


def open_session(session: Session, account: Account) -> Signed:
    assert account.id is not None
    token = secrets.token_urlsafe(32)
    row = AccountSession(
        token_hash=_hash(token), account_id=account.id, csrf_token=secrets.token_urlsafe(32)
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return Signed(account, row.id, row.csrf_token, token)


def signed_in(session: Session, token: str, now: datetime | None = None) -> Signed | None:
    """The session of `token`, unless unknown, older than `SESSION_LIFETIME` or of a
    disabled account."""
    opened_after = (now or utcnow()) - SESSION_LIFETIME
    found = session.exec(
        select(AccountSession, Account)
        .join(Account, col(Account.id) == AccountSession.account_id)
        .where(
            AccountSession.token_hash == _hash(token),
            col(AccountSession.created_at) > opened_after,
        )
    ).first()
    if found is None:
        return None
    row, account = found
    if account.disabled_at is not None or row.id is None:
        return None
    return Signed(account, row.id, row.csrf_token, token)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(AccountSession).where(col(AccountSession.token_hash) == _hash(token)))
