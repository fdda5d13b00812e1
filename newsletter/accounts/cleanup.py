"""Tidying the desk's tables, for the daily housekeeping job (`scheduler.jobs`).

Failed sign-ins are dropped once too old to count towards a lock (the sign-in drops them
too, but only as new failures come). Sessions: a row holds no last-seen time (the idle
limit lives in the signed cookie, so reading a page writes nothing), so a session's row
lives at most `SESSION_LIFETIME` from its sign-in: `sessions.signed_in` refuses it after
that whatever the cookie says, and this deletes it. A browser left open past it signs in
again once a month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from newsletter.accounts.models import AccountSession, SignInFailure
from newsletter.accounts.sessions import SESSION_LIFETIME
from newsletter.accounts.signin import LockPolicy


@dataclass(frozen=True)
class Tidied:
    failures: int
    sessions: int


def tidy_accounts(session: Session, policy: LockPolicy, now: datetime) -> Tidied:
    """Delete failed sign-ins older than two lock windows (none of them can lock an
    address any more) and sessions opened more than `SESSION_LIFETIME` ago."""
    failures = session.exec(
        delete(SignInFailure).where(col(SignInFailure.at) <= now - 2 * policy.window)
    )
    sessions = session.exec(
        delete(AccountSession).where(col(AccountSession.created_at) <= now - SESSION_LIFETIME)
    )
    return Tidied(int(failures.rowcount), int(sessions.rowcount))
